"""A parsed YAML mapping -> typed, frozen dataclasses, key by key. Generic: it knows
dataclasses, Literal, Optional, list and tuple types, not activelearn's Config. Unknown
keys, missing values and wrong types become one line naming the key path
(`training.lr: expected a number, got "fast"`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal


class Invalid(Exception):
    """A value that does not fit its declared type: the message names the key path."""


def build(cls: type, raw: Any, at: str, skip: frozenset[str] | set[str] = frozenset()) -> Any:
    """An instance of the dataclass cls from raw (a mapping; None is empty) at key path
    `at` ("" for the top level); fields in skip are not read. Raises Invalid."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Invalid(f"{at or 'top level'}: expected a mapping, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    for key in raw:
        if key not in fields:
            raise Invalid(
                f"{_join(at, str(key))}: unknown key (allowed: {', '.join(fields)})"
            )
    kwargs = {}
    for name, f in fields.items():
        key = _join(at, name)
        if name in raw:
            kwargs[name] = _coerce(hints[name], raw[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise Invalid(f"{key}: missing value")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _first_fit(inner, value, key)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(map(str, args))
            raise Invalid(f"{key}: expected one of {allowed}, got {_show(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise Invalid(f"{key}: expected a list, got {_show(value)}")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise Invalid(f"{key}: expected a list of {len(args)} values, got {_show(value)}")
        return tuple(_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    return _scalar(tp, value, key)


def _first_fit(types_: list[Any], value: Any, key: str) -> Any:
    """value as the first of the union's types it fits (int | Literal["auto"]: a number
    or "auto"); when none does, one line naming each."""
    if len(types_) == 1:
        return _coerce(types_[0], value, key)
    for tp in types_:
        try:
            return _coerce(tp, value, key)
        except Invalid:
            continue
    raise Invalid(f"{key}: expected {' or '.join(map(_expected, types_))}, got {_show(value)}")


def _expected(tp: Any) -> str:
    """What a value of type tp looks like, for a message."""
    if typing.get_origin(tp) is Literal:
        return " or ".join(map(str, typing.get_args(tp)))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if typing.get_origin(tp) in (list, tuple):
        return "a list"
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(tp, str(tp))


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise Invalid(f"{key}: expected true or false, got {_show(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise Invalid(f"{key}: expected an integer, got {_show(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise Invalid(f"{key}: expected a number, got {_show(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise Invalid(f"{key}: expected a string, got {_show(value)}")
    raise TypeError(f"config type {tp!r} not supported")  # a programming error


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value)
