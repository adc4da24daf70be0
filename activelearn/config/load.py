"""Loading the project file: read the YAML, build the typed Config (build.py), check what
types cannot say (checks.py), and the names of strategies, models and sources.

Every problem is reported as one line naming the file and the key path, e.g.
``project.yaml: training.lr: expected a number, got "fast"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from activelearn.config.build import Invalid, build
from activelearn.config.checks import check_names, check_semantics
from activelearn.config.schema import Config
from activelearn.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "fashion_mnist.yaml"


def load_config(path: str | Path, known: Mapping[str, Collection[str]] | None = None
                ) -> Config:
    """Read and validate a project file; raises ConfigError with one line on any problem.
    known: key -> registered names (see checks.check_names), checked when given."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config: not text ({exc.reason})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        # some errors (a control character) carry no .problem and print on several lines
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    return config_from_dict(raw, source=str(path), known=known)


def config_from_dict(raw: Any, source: str = "<config>",
                     known: Mapping[str, Collection[str]] | None = None) -> Config:
    """Validate a parsed mapping into a Config (see load_config)."""
    try:
        cfg = build(Config, raw, "", skip={"path"})
    except Invalid as exc:
        raise ConfigError(f"{source}: {exc}") from None
    check_semantics(cfg, source)
    if known:
        check_names(cfg, known, source)
    return dataclasses.replace(cfg, path=source)


def with_overrides(cfg: Config, section: str, **values: Any) -> Config:
    """A copy of cfg with some keys of one section replaced (None values are ignored)."""
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return cfg
    updated = dataclasses.replace(getattr(cfg, section), **values)
    result = dataclasses.replace(cfg, **{section: updated})
    check_semantics(result, cfg.path or "<options>")
    return result


def config_content(cfg: Config) -> dict[str, Any]:
    """cfg as a plain, JSON-able mapping that config_from_dict reads back to an equal
    Config: what a job carries instead of the path of a file only the controller has."""
    raw = dataclasses.asdict(cfg)
    raw.pop("path", None)
    return _plain(raw)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
