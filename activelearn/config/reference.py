"""The configuration reference, generated from the config dataclasses: every key of the
project file with its type, default, allowed values and description, as one Markdown page
(docs/reference/configuration.md). Nothing here is written by hand twice, so the page
cannot drift from the code: types and defaults come from the dataclasses, the choices of
a Literal from its type, descriptions and ranges from the sections' docstrings.

A section's docstring: paragraphs (shown above the section's table), then

    Attributes:
        key [LOW, HIGH]: what it means, continued on lines
            indented deeper.
        key {ALLOWED}: ...
        key_a, key_b (LOW, HIGH] each: one description for several keys.

An interval ([ or ( for a closed or open end; inf for no limit; numbers may be written
10**8 or 2**32 - 1) is the range checks.py enforces; "each" applies it to every element
of a list. {ALLOWED} says in words what a key accepts where a range cannot (a name, a
URL, a set of numbers such as {1, 3}). tests/unit/config/test_reference.py holds every
range and {1, 3}-style set against what loading a file accepts and refuses.

    python -m activelearn.config.reference > docs/reference/configuration.md

Imports no torch: the docs build and the test run without it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import operator
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from activelearn.config.schema import Config

PAGE = "docs/reference/configuration.md"
# Config fields that are not keys of the file (load.py skips them too).
NOT_KEYS = frozenset({"path"})
ENV_DEFAULT = re.compile(r"os\.environ\.get\(\s*\"([A-Z0-9_]+)\"\s*,\s*\"\"\s*\)")
_ENTRY = re.compile(
    r"^(?P<names>[a-z0-9_]+(?:, [a-z0-9_]+)*)"
    r"(?: (?P<low>[\[(])(?P<lo>[^,\])]+), (?P<hi>[^\])]+)(?P<high>[\])])(?P<each> each)?)?"
    r"(?: \{(?P<allowed>[^}]+)\})?"
    r": (?P<text>.*)$")


@dataclass(frozen=True)
class Interval:
    """Numbers from low to high; closed_low / closed_high: whether the ends are allowed."""

    low: float
    high: float
    closed_low: bool
    closed_high: bool
    each: bool = False  # a list key: every element

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.closed_low else value > self.low
        below = value <= self.high if self.closed_high else value < self.high
        return above and below

    def describe(self) -> str:
        """In words a reader scans: `1 ≤ x ≤ 10,000`, `x ≥ 0`, `0 < x ≤ 10`."""
        low = f"{_number(self.low)} {'≤' if self.closed_low else '<'} "
        high = f" {'≤' if self.closed_high else '<'} {_number(self.high)}"
        if math.isinf(self.high):
            text = f"x {'≥' if self.closed_low else '>'} {_number(self.low)}"
        else:
            text = f"{low}x{high}"
        return f"each: {text}" if self.each else text


@dataclass(frozen=True)
class Key:
    """One key of the project file, as the reference shows it."""

    path: str  # e.g. "training.lr"
    type: str
    default: str  # as YAML, or "required"
    interval: Interval | None
    choices: tuple[str, ...]  # a Literal's values
    allowed: str  # {ALLOWED} from the docstring
    description: str

    @property
    def allowed_text(self) -> str:
        parts = [self.interval.describe()] if self.interval else []
        parts += [", ".join(f"`{c}`" for c in self.choices)] if self.choices else []
        parts += [self.allowed] if self.allowed else []
        return "; or ".join(parts) if self.interval and self.choices else "; ".join(parts)


@dataclass(frozen=True)
class Section:
    path: str  # "" for the top level
    summary: str
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class Entry:
    """A parsed Attributes entry of a docstring."""

    interval: Interval | None
    allowed: str
    text: str


def sections(cls: type = Config, at: str = "") -> list[Section]:
    """Every section of the file, depth first: the top level, then project, data, ...,
    loop, loop.stop_when, ... Raises ValueError for a key without a description or an
    entry that names no key."""
    summary, entries = parse_docstring(cls)
    hints = typing.get_type_hints(cls)
    keys, nested = [], []
    for f in dataclasses.fields(cls):
        if f.name in NOT_KEYS:
            continue
        path = f"{at}.{f.name}" if at else f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            nested += sections(tp, path)  # type: ignore[arg-type]
            continue
        entry = entries.pop(f.name, None)
        if entry is None:
            raise ValueError(f"{path}: no description in the docstring of {cls.__name__}")
        keys.append(Key(path, type_name(tp), default_text(f), entry.interval,
                        literal_values(tp), entry.allowed, entry.text))
    if entries:
        raise ValueError(f"{cls.__name__}'s docstring describes {', '.join(entries)}, "
                         "which it has no field for")
    return [Section(at, summary, tuple(keys)), *nested]


def parse_docstring(cls: type) -> tuple[str, dict[str, Entry]]:
    """(the paragraphs before "Attributes:", key -> its entry) of cls's docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    summary, _, attributes = doc.partition("\nAttributes:\n")
    entries: dict[str, Entry] = {}
    lines: list[str] = []
    for line in attributes.splitlines() + ["    end: of the entries"]:
        if line.startswith("    ") and not line.startswith("     ") and lines:
            entries.update(_entry(" ".join(lines), cls))
            lines = []
        if line.strip():
            lines.append(line.strip())
    paragraphs = [" ".join(p.split()) for p in summary.split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs), entries


def _entry(text: str, cls: type) -> dict[str, Entry]:
    match = _ENTRY.match(text)
    if match is None:
        raise ValueError(f"{cls.__name__}: cannot read the docstring entry {text[:60]!r}")
    interval = None
    if match["low"]:
        interval = Interval(_evaluate(match["lo"]), _evaluate(match["hi"]),
                            match["low"] == "[", match["high"] == "]", bool(match["each"]))
    entry = Entry(interval, match["allowed"] or "", match["text"])
    return {name: entry for name in match["names"].split(", ")}


_OPERATORS: dict[type, Any] = {ast.Pow: operator.pow, ast.Sub: operator.sub,
                               ast.Add: operator.add, ast.Mult: operator.mul}


def _evaluate(text: str) -> float:
    """A number as a docstring writes it: 10000, 0.5, 10**8, 2**32 - 1, inf."""
    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id == "inf":
            return math.inf
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"not a number: {text!r}")
    return value(ast.parse(text.strip(), mode="eval").body)


def type_name(tp: Any) -> str:
    """A key's type in the words of the file: integer, number, string, [integer, integer]."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # int | Literal["auto"]: integer or auto
        return " or ".join(" or ".join(map(str, typing.get_args(a)))
                           if typing.get_origin(a) is Literal else type_name(a)
                           for a in args if a is not type(None))
    if origin is Literal:
        return "string"
    if origin is list:
        return f"list of {type_name(args[0])}s"
    if origin is tuple:
        return "[" + ", ".join(type_name(a) for a in args) + "]"
    return {bool: "true / false", int: "integer", float: "number", str: "string"}[tp]


def literal_values(tp: Any) -> tuple[str, ...]:
    """The values a Literal (also inside a union: int | Literal["auto"]) allows."""
    if typing.get_origin(tp) is Literal:
        return tuple(map(str, typing.get_args(tp)))
    return tuple(v for a in typing.get_args(tp) if typing.get_origin(a) is Literal
                 for v in map(str, typing.get_args(a)))


def default_text(f: dataclasses.Field[Any]) -> str:
    """A field's default as YAML; an environment variable's name where the default is
    read from one."""
    if f.default is not dataclasses.MISSING:
        return yaml_value(f.default)
    if f.default_factory is dataclasses.MISSING:
        return "required"
    if f.default_factory in (list, dict):  # builtins: no source to search
        return yaml_value(f.default_factory())
    found = ENV_DEFAULT.search(inspect.getsource(f.default_factory))
    if found is None:  # a new kind of factory: say what it gives rather than guess
        return yaml_value(f.default_factory())
    return f'${found[1]}, else ""'


def yaml_value(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return repr(value)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else repr(value)


def render() -> str:
    """The Markdown page."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from the docstrings of activelearn/config/ by",
        f"     python -m activelearn.config.reference > {PAGE}",
        "     Do not edit: change the docstrings and run that command. -->",
        "",
        "Every key of the project file: its type, its default, what `activelearn` accepts",
        "and what it means. A key left out takes its default; an unknown key, a wrong type",
        "or a value outside *allowed* stops every command before it does anything, with",
        "one line naming the file and the key (exit code 2). See",
        "[The project file](../configuration.md) for how a file is put together.",
    ]
    for section in sections():
        title = f"`{section.path}`" if section.path else "Top level"
        out += ["", f"## {title}", ""]
        if section.summary:
            out += [_escape(p) + "\n" for p in section.summary.split("\n\n")]
        if not section.keys:
            continue
        out += ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
        out += [_row(key) for key in section.keys]
    return "\n".join(out) + "\n"


def _row(key: Key) -> str:
    plain = key.default in ("required", "not set")
    cells = [f"`{key.path}`", key.type, key.default if plain else f"`{key.default}`",
             key.allowed_text, key.description]
    return "| " + " | ".join(_escape(c) for c in cells) + " |"


def _escape(text: str) -> str:
    """Docstring text safe inside a Markdown table: pipes, asterisks and angle brackets
    escaped (*** is a masked password, <id> is no HTML tag)."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


if __name__ == "__main__":
    print(render(), end="")
