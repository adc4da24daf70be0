"""OptionError: code below the command line names a parameter, never a flag; the command
line names it by its flag (cli.base.option_message)."""

from __future__ import annotations

import pickle

import click
from click.testing import CliRunner

from activelearn.cli.base import option_message
from activelearn.errors import OptionError


def test_an_option_error_reads_with_its_parameters_names_by_default() -> None:
    exc = OptionError("{out} {path}: is a file; choose another {out}", {"out": "out"},
                      path="a/{b}")  # a value's braces are kept as they are
    assert str(exc) == "out a/{b}: is a file; choose another out"
    assert exc.exit_code == 2
    assert exc.render({"out": "--out"}) == "--out a/{b}: is a file; choose another --out"
    again = pickle.loads(pickle.dumps(exc))  # as a job's failure travels
    assert (type(again), str(again), again.names) == (OptionError, str(exc), {"out": "out"})


def test_the_command_line_names_its_flags_and_a_setting_with_its_flag() -> None:
    errors = {"fmt": OptionError("{fmt} 'x': expected csv", {"fmt": "fmt"}),
              "batch": OptionError("set {batch} to a number", {"batch": "loop.batch"}),
              "other": OptionError("{limit} 0: give 1 or more", {"limit": "limit"})}

    @click.command()
    @click.option("--format", "fmt")
    @click.option("--batch")
    @click.argument("which")
    def command(fmt, batch, which) -> None:
        click.echo(option_message(errors[which]))

    said = {which: CliRunner().invoke(command, [which]).output.strip() for which in errors}
    assert said == {"fmt": "--format 'x': expected csv",
                    "batch": "set loop.batch (or --batch) to a number",
                    "other": "limit 0: give 1 or more"}  # not a parameter of this command
