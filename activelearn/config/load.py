"""Loading the project file: read the YAML, build the typed Config (build.py), check what
types cannot say (checks.py), and the names of strategies, models and sources.

Every problem is reported as one line naming the file and the key path, e.g.
``project.yaml: training.lr: expected a number, got "fast"``. The YAML reader refuses
what PyYAML would let through silently or as a crash: a key given twice in one mapping
(PyYAML keeps the last, so a repeated `training:` section drops the first one's keys),
and nesting deeper than MAX_DEPTH (PyYAML recurses once per level).
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
MAX_DEPTH = 50  # nested mappings and lists; a project file needs 4


class _Refused(Exception):
    """What the YAML reader refuses, with the (1-based) line it is on."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line, self.problem = line, problem


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys and deep nesting."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(mark.line + 1, f"nested deeper than {MAX_DEPTH} levels; a "
                               "project file needs a few (look for a runaway [ or {)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *base" merges on purpose; its keys may be replaced
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # a list or mapping as a key: PyYAML says so below
                    continue
                if first is not None:
                    raise _Refused(line, f"duplicate key {key!r} (it would silently "
                                   f"replace the first at line {first}); keep one")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, known: Mapping[str, Collection[str]] | None = None
                ) -> Config:
    """Read and validate a project file; raises ConfigError with one line on any problem.
    known: key -> registered names (see checks.check_names), checked when given."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a FIFO a read would wait on
        raise ConfigError(f"{path}: cannot read config: not a regular file")
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config: not text ({exc.reason})") from None
    try:
        raw = read_yaml(text)
    except _Refused as exc:
        raise ConfigError(f"{path} line {exc.line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        # some errors (a control character) carry no .problem and print on several lines
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    return config_from_dict(raw, source=str(path), known=known)


def read_yaml(text: str) -> Any:
    """The YAML document in text, as yaml.safe_load reads it, but refusing duplicate keys
    and nesting deeper than MAX_DEPTH (_Refused: the line and the problem)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


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
