"""One registry convention for strategies, models, sources and jobs, and config loading
that checks the names: a typo is exit 2, one line listing the known names, before any
command does anything."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config.registry import Registry
from activelearn.data.sources import available_sources
from activelearn.errors import ConfigError, UnknownNameError
from activelearn.learn.models import available_models
from activelearn.strategies import available_strategies


def test_an_unknown_name_lists_the_registered_ones() -> None:
    registry: Registry[int] = Registry("widget")
    registry.register("b", 2)
    registry.register("a", 1)
    assert registry.get("a") == 1 and registry.available() == ["a", "b"]
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; available: a, b") as err:
        registry.get("c")
    assert isinstance(err.value, ConfigError)


def test_a_lazy_entry_is_imported_when_first_asked_for() -> None:
    registry: Registry[object] = Registry("thing")
    registry.register_lazy("dumps", "json:dumps")
    assert registry.available() == ["dumps"]
    import json

    assert registry.get("dumps") is json.dumps
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        registry.register_lazy("bad", "json.dumps")


def test_listing_the_names_imports_no_torch() -> None:
    """Every command checks the names; status must stay fast, so no torch for that."""
    code = ("import sys; from activelearn.cli.base import registered_names; "
            "registered_names(); print('torch' in sys.modules)")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("command", [["cycle"], ["simulate"], ["status"], ["report"],
                                     ["clean"], ["bot"], ["init"]])
@pytest.mark.parametrize("section, key, kind, available", [
    ("strategy", "name", "strategy", lambda: sorted([*available_strategies(), "auto"])),
    ("model", "name", "model", available_models),
    ("data", "source", "source", available_sources),
])
def test_a_typo_in_a_name_is_exit_2_for_every_command(project_file, monkeypatch, command,
                                                      section, key, kind, available) -> None:
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:9")  # never reached
    path = project_file(**{section: {key: "margn"}})
    result = CliRunner().invoke(main, [*command, "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {path}: {section}.{key}: unknown {kind} 'margn'; available: "
        f"{', '.join(available())}")


@pytest.mark.parametrize("key", ["auto_early", "auto_late"])
def test_auto_names_its_two_strategies_and_each_is_checked(project_file, key) -> None:
    path = project_file(strategy={"name": "auto", key: "typiclsut"})
    result = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {path}: strategy.{key}: unknown strategy 'typiclsut'; available: "
        f"{', '.join(available_strategies())}")  # auto cannot pick auto: not listed


def test_auto_loads_with_its_default_pair(project_file) -> None:
    result = CliRunner().invoke(main, ["status", "--config",
                                       str(project_file(strategy={"name": "auto"}))])
    assert result.exit_code == 0, result.output
