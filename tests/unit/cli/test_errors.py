"""The command line is the boundary: whatever goes wrong below it is one line and an exit
code; --debug shows the traceback instead."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.reporting import status


def broken(cfg):
    raise ZeroDivisionError("division by zero in a place nobody expected")


def test_a_bug_is_one_line_saying_so(project_file, monkeypatch) -> None:
    monkeypatch.setattr(status, "project_status", broken)
    result = CliRunner().invoke(main, ["status", "--config", str(project_file())])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: unexpected ZeroDivisionError: division by zero")
    assert "--debug" in line


def test_debug_shows_the_traceback(project_file, monkeypatch) -> None:
    monkeypatch.setattr(status, "project_status", broken)
    result = CliRunner().invoke(main, ["--debug", "status", "--config", str(project_file())])
    assert isinstance(result.exception, ZeroDivisionError)


@pytest.mark.parametrize("args", [["nosuch"], ["status", "--nope"],
                                  ["export", "--format", "csv"],
                                  ["bot", "--noise", "0.1", "--accuracy", "0.9"]])
def test_usage_errors_are_one_line(args) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--help" in line


def test_help_and_version_exit_0() -> None:
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    version = CliRunner().invoke(main, ["--version"])
    assert version.exit_code == 0 and "version" in version.output
