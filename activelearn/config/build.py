"""Validating a project file: the generic part turns a parsed YAML mapping into typed,
frozen dataclasses key by key (`build`: unknown keys, missing values and wrong types
become one line naming the key path); `check_semantics` checks what types cannot say
(ranges, names, combinations of keys). Used by config.py.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import TYPE_CHECKING, Any, Literal

from activelearn.errors import ConfigError

if TYPE_CHECKING:  # the type only: config.py imports this module
    from activelearn.config.schema import Config


class Invalid(Exception):
    """A value that does not fit its declared type: the message names the key path."""


def build(cls: type, raw: Any, at: str, skip: frozenset[str] | set[str] = frozenset()) -> Any:
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
        return _coerce(inner[0], value, key)
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


def check_semantics(cfg: Config, source: str) -> None:
    problems = []
    if len(cfg.classes) < 2:
        problems.append("classes: need at least 2 class names")
    if len(set(cfg.classes)) != len(cfg.classes):
        problems.append("classes: class names must be distinct")
    ls, jobs = cfg.label_studio, cfg.jobs
    for key, value in [
        ("loop.initial", cfg.loop.initial), ("loop.batch", cfg.loop.batch),
        ("loop.budget", cfg.loop.budget), ("training.batch_size", cfg.training.batch_size),
        ("training.epochs", cfg.training.epochs), ("strategy.mc_passes", cfg.strategy.mc_passes),
        ("loop.min_new_labels", cfg.loop.min_new_labels), ("training.lr", cfg.training.lr),
        ("label_studio.import_chunk", ls.import_chunk),
        ("label_studio.parallel_requests", ls.parallel_requests),
        ("jobs.shard_size", jobs.shard_size), ("jobs.train_timeout", jobs.train_timeout),
        ("jobs.score_timeout", jobs.score_timeout),
        ("jobs.select_timeout", jobs.select_timeout),
        ("jobs.wait_for_worker", jobs.wait_for_worker), ("jobs.heartbeat", jobs.heartbeat),
    ]:
        if value <= 0:
            problems.append(f"{key}: must be positive, got {value}")
    for key, frac in [("splits.test_fraction", cfg.splits.test_fraction),
                      ("splits.validation_fraction", cfg.splits.validation_fraction)]:
        if not 0 <= frac < 1:
            problems.append(f"{key}: must be in [0, 1), got {frac}")
    if cfg.loop.budget < cfg.loop.initial:
        problems.append(f"loop.budget: {cfg.loop.budget} is below loop.initial {cfg.loop.initial}")
    if cfg.loop.min_queued < 0:
        problems.append(f"loop.min_queued: must be 0 or more, got {cfg.loop.min_queued}")
    if cfg.data.channels not in (None, 1, 3):
        problems.append(f"data.channels: must be 1 or 3, got {cfg.data.channels}")
    if ls.holdout < 0:
        problems.append(f"label_studio.holdout: must be 0 or more, got {ls.holdout}")
    if ls.overlap < 1 or ls.holdout_overlap < 1:
        problems.append(f"label_studio.overlap / holdout_overlap: must be 1 or more, got "
                        f"{ls.overlap} / {ls.holdout_overlap}")
    if not 0 <= ls.overlap_fraction <= 1:
        problems.append(f"label_studio.overlap_fraction: must be in [0, 1], got "
                        f"{ls.overlap_fraction}")
    if not 0 <= cfg.quality.gold_rate < 1:
        problems.append(f"quality.gold_rate: must be in [0, 1), got {cfg.quality.gold_rate}")
    if not 0 <= cfg.quality.relabel_fraction < 1:
        problems.append("quality.relabel_fraction: must be in [0, 1), got "
                        f"{cfg.quality.relabel_fraction}")
    if cfg.quality.relabel_max_annotations < 2:
        problems.append("quality.relabel_max_annotations: must be 2 or more, got "
                        f"{cfg.quality.relabel_max_annotations}")
    if cfg.quality.review_per_round < 0:
        problems.append("quality.review_per_round: must be 0 (off) or more, got "
                        f"{cfg.quality.review_per_round}")
    if cfg.quality.review_folds < 2:
        problems.append(f"quality.review_folds: must be 2 or more, got "
                        f"{cfg.quality.review_folds}")
    if not 0 <= cfg.quality.review_min_confidence <= 1:
        problems.append("quality.review_min_confidence: must be in [0, 1], got "
                        f"{cfg.quality.review_min_confidence}")
    if cfg.quality.gold_rate > 0 and not cfg.quality.gold_file:
        problems.append("quality.gold_file: needed when quality.gold_rate is above 0")
    if ls.image_mode == "url-template" and not ls.url_template:
        problems.append("label_studio.url_template: needed when image_mode is url-template")
    if ls.image_mode == "local-files" and not ls.document_root:
        problems.append("label_studio.document_root: needed when image_mode is local-files")
    if jobs.retries < 0:
        problems.append(f"jobs.retries: must be 0 or more, got {jobs.retries}")
    if jobs.gpu_queue == "" or jobs.cpu_queue == "":
        problems.append("jobs.gpu_queue / jobs.cpu_queue: a queue needs a name")
    if not 0 < cfg.cleaning.near_threshold <= 1:
        problems.append("cleaning.near_threshold: must be in (0, 1], got "
                        f"{cfg.cleaning.near_threshold}")
    if problems:
        raise ConfigError(f"{source}: {problems[0]}")


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
