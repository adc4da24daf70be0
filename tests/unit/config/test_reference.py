"""reference.py: the configuration reference lists every key of the project file with its
type, default, allowed values and description; the ranges it shows are the ones loading
a file enforces, and the committed page is the generated one."""

from __future__ import annotations

import copy
import dataclasses
import re
import subprocess
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from activelearn.config import Config, config_from_dict
from activelearn.config.checks import NAMED_KEYS
from activelearn.config.reference import PAGE, Interval, Key, parse_docstring, render, sections
from activelearn.config.strategy import AUTO_STRATEGY
from activelearn.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
# A valid file whose combinations never get in the way of probing one key: loop.budget
# may go down to loop.initial, jobs.heartbeat up to jobs.wait_for_worker.
BASE: dict[str, Any] = {
    "project": {"name": "t"}, "data": {"source": "fashion-mnist"}, "classes": ["a", "b"],
    "loop": {"initial": 1}, "jobs": {"wait_for_worker": 604800, "redis_url": "",
                                     "artifacts": ""},
    "label_studio": {"url": ""},
}
KEY_PATH = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)+|classes")


def leaf_fields(cls: type = Config, at: str = "") -> dict[str, tuple[Any, dataclasses.Field]]:
    """key path -> (type, field) of every key of the file, walked without reference.py."""
    out: dict[str, tuple[Any, dataclasses.Field]] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "path":  # the file's own path, not a key
            continue
        path = f"{at}.{f.name}" if at else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            out.update(leaf_fields(hints[f.name], path))
        else:
            out[path] = (hints[f.name], f)
    return out


def documented() -> dict[str, Key]:
    return {key.path: key for section in sections() for key in section.keys}


def table_rows() -> dict[str, list[str]]:
    """key path -> the cells of its row in the rendered page."""
    rows: dict[str, list[str]] = {}
    for line in render().splitlines():
        match = re.match(r"\| `([a-z0-9_.]+)` \|", line)
        if match:
            assert match[1] not in rows, f"{match[1]} listed twice"
            rows[match[1]] = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    return rows


def test_every_key_of_every_section_is_a_row_with_its_default_and_a_description() -> None:
    rows = table_rows()
    fields = leaf_fields()
    assert set(rows) == set(fields)
    assert len(rows) > 90  # the walk found the sections, not just the top level (96 keys)
    for path, (_, f) in fields.items():
        _, type_cell, default_cell, _, description = rows[path]
        assert type_cell and description, path
        if f.default is not dataclasses.MISSING:
            shown = yaml.safe_load(default_cell.strip("`")) if f.default is not None else None
            expected = list(f.default) if isinstance(f.default, tuple) else f.default
            assert (default_cell == "not set") if f.default is None else shown == expected, path
        elif f.default_factory is dataclasses.MISSING:
            assert default_cell == "required", path
        elif f.default_factory in (list, dict):  # an empty list or mapping
            assert yaml.safe_load(default_cell.strip("`")) == f.default_factory(), path
        else:  # the URL keys: an environment variable
            assert re.fullmatch(r"`\$ACTIVELEARN_[A-Z_]+, else \"\"`", default_cell), path


def test_each_section_is_one_heading_with_its_summary() -> None:
    page = render()
    for section in ("project", "data", "model", "training", "strategy", "loop",
                    "loop.stop_when", "splits", "label_studio", "jobs", "quality", "cleaning",
                    "serve"):
        assert page.count(f"\n## `{section}`\n") == 1, section
    assert "Where training and scoring run" in page  # a section's docstring summary


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / PAGE).read_text()
    assert committed == render(), (
        f"{PAGE} is stale: run .venv/bin/python -m activelearn.config.reference > {PAGE}")


def test_the_command_line_prints_the_page_without_importing_torch() -> None:
    code = ("import runpy, sys; runpy.run_module('activelearn.config.reference', "
            "run_name='__main__'); assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == render()


def rejected_keys(path: str, value: Any) -> set[str]:
    """The key paths the first problem names when BASE has path set to value."""
    raw = copy.deepcopy(BASE)
    *sections_, name = path.split(".")
    at = raw
    for part in sections_:
        at = at.setdefault(part, {})
    at[name] = value
    try:
        config_from_dict(raw)
    except ConfigError as exc:
        problem = str(exc).removeprefix("<config>: ")
        head = problem.split(": ", 1)[0]  # "loop.budget" or "serve.port 0 is out of range"
        return set(KEY_PATH.findall(head))
    return set()


def numbers_to_try(interval: Interval | None, allowed: set[float], integer: bool
                   ) -> list[float]:
    """Values on both sides of every bound, and far out either way."""
    bounds = [b for b in (interval.low, interval.high) if abs(b) != float("inf")] \
        if interval else []
    bounds += sorted(allowed)
    steps = (1,) if integer else (1, 1e-6)
    values = {-10**12, -1, 0, 1, 2, 10**12} if integer else {-1e12, -1, -0.5, 0, 0.5, 1,
                                                                 1.5, 1e12}
    values |= {b + s * sign for b in bounds for s in steps for sign in (-1, 1)}
    values |= set(bounds)
    return sorted(int(v) if integer else float(v) for v in values
                  if not integer or float(v).is_integer())


def number_set(text: str) -> set[float]:
    """{1, 3} as a set of numbers; empty when the text is words."""
    parts = [p.strip() for p in text.split(",")]
    if not all(re.fullmatch(r"-?[0-9.]+", p) for p in parts):
        return set()
    return {float(p) for p in parts}


def numeric_type(tp: Any) -> tuple[type, bool] | None:
    """(int or float, whether the key is a list of them) for a numeric key, else None."""
    # tuple[float, float] is itself the list type; X | None lists X among its args;
    # a list of any length (loop.schedule) has no one range: checks.py judges it whole
    if typing.get_origin(tp) is list:
        return None
    args = [tp] if typing.get_origin(tp) is tuple else \
        [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    for a in args:
        if a in (int, float):
            return a, False
        if typing.get_origin(a) is tuple and typing.get_args(a)[0] in (int, float):
            return typing.get_args(a)[0], True
    return None


@pytest.mark.parametrize("path", sorted(p for p, (tp, _) in leaf_fields().items()
                                        if numeric_type(tp)))
def test_a_numbers_documented_range_is_what_loading_accepts(path: str) -> None:
    """Every number is tried on both sides of its documented bounds (and far out): loading
    refuses it, naming the key, exactly when it lies outside. A key whose range checks.py
    enforces but the docstring does not give fails here."""
    key = documented()[path]
    kind, is_list = numeric_type(leaf_fields()[path][0])  # type: ignore[misc]
    allowed = number_set(key.allowed) if key.interval is None else set()
    for value in numbers_to_try(key.interval, allowed, kind is int):
        inside = value in key.interval if key.interval else (not allowed or value in allowed)
        refused = path in rejected_keys(path, [value, value] if is_list else value)
        assert refused != inside, (
            f"{path} = {value}: documented as {key.allowed_text or 'any number'}, but "
            f"loading {'refuses' if refused else 'accepts'} it")


@pytest.mark.parametrize("path", sorted(p for p, (tp, _) in leaf_fields().items()
                                        if tp is str))
def test_a_string_key_that_loading_checks_says_what_it_allows(path: str) -> None:
    refused = [v for v in ("", " ", "zz", "ftp://x", "a b") if path in rejected_keys(path, v)]
    if refused:
        assert documented()[path].allowed, (
            f"{path}: loading refuses {refused!r}; say what it allows in the docstring "
            f"({path.rsplit('.', 1)[-1]} {{...}}: ...)")


def registered(key: str) -> list[str]:
    from activelearn.data.sources import available_sources
    from activelearn.learn.models import available_models
    from activelearn.strategies import available_strategies

    return {"strategy.name": available_strategies, "model.name": available_models,
            "data.source": available_sources}[key]()


@pytest.mark.parametrize("path", sorted(NAMED_KEYS))
def test_a_named_key_lists_exactly_the_registered_names(path: str) -> None:
    listed = [name.strip() for name in documented()[path].allowed.split(",")]
    rules = [AUTO_STRATEGY] if path == "strategy.name" else []  # a rule that picks a name
    assert sorted(listed) == sorted(registered(path) + rules)


def test_a_key_without_a_description_or_a_description_without_a_key_is_an_error() -> None:
    @dataclass
    class Undocumented:
        """A section.

        Attributes:
            rate [0, 1]: described
        """

        rate: float = 0.5
        size: int = 3

    @dataclass
    class Stale:
        """A section.

        Attributes:
            rate [0, 1]: described
            gone: no such field
        """

        rate: float = 0.5

    with pytest.raises(ValueError, match="size: no description"):
        sections(Undocumented)
    with pytest.raises(ValueError, match="describes gone"):
        sections(Stale)


def test_docstring_entries_read_ranges_sets_and_shared_descriptions() -> None:
    @dataclass
    class Section:
        """First paragraph.

        Second paragraph.

        Attributes:
            seed [0, 2**32 - 1]: a seed,
                continued
            lr (0, 10]: open below
            side [8, 4096] each {two sides}: per element
            first, second [1, inf): shared
            mode {a, b}: in words
        """

    summary, entries = parse_docstring(Section)
    assert summary == "First paragraph.\n\nSecond paragraph."
    assert entries["seed"].interval == Interval(0, 2**32 - 1, True, True)
    assert entries["seed"].text == "a seed, continued"
    assert 0 not in entries["lr"].interval and 10 in entries["lr"].interval  # type: ignore
    assert entries["side"].interval.each and entries["side"].allowed == "two sides"  # type: ignore
    assert entries["first"] == entries["second"] and 10**9 in entries["first"].interval  # type: ignore
    assert entries["mode"].interval is None and entries["mode"].allowed == "a, b"
