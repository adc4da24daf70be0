"""OptionError: code below the command line names a parameter, never a flag; the command
line names it by its flag (cli.base.option_message)."""

from __future__ import annotations

import pickle

import click
import pytest
from click.testing import CliRunner

from activelearn.cli.base import option_message
from activelearn.errors import (
    BackendError,
    JobError,
    OptionError,
    printable,
    redact,
    secret_values,
)


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


# -- redact and printable: what an error line and a log line may hold ------------------
TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("text", "gone"), [
    (f"Authorization: Token {TOKEN}", TOKEN),
    ('{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln"}', "eyJhbGci"),
    ("x-activelearn-secret: not-so-secret-value", "not-so-secret-value"),
    ("Cookie: sessionid=abc123def456", "abc123def456"),
    ("redis://:pa/ss@127.0.0.1:6379/0", "pa/ss"),
    ("https://user:hunter2hunter2@host/x", "hunter2hunter2"),
    (f"an echo of the token {TOKEN} alone", TOKEN),  # the value from the environment
])
def test_redact_hides_credentials(monkeypatch, text, gone) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    shown = redact(text)
    assert gone not in shown and "***" in shown, shown


def test_redact_keeps_ordinary_words_and_short_values(monkeypatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")  # too short to hide: a word
    text = "the token file is empty; set LABEL_STUDIO_API_KEY (token expired)"
    assert redact(text) == text


def test_a_secret_file_is_read_for_its_value_and_a_fifo_never_blocks(monkeypatch,
                                                                    tmp_path) -> None:
    import os

    (tmp_path / "secret").write_text("from-a-file-1234567\n")
    os.mkfifo(tmp_path / "fifo")
    monkeypatch.setenv("ACTIVELEARN_WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("OTHER_TOKEN_FILE", str(tmp_path / "fifo"))
    assert "from-a-file-1234567" in secret_values()
    assert str(JobError("echo from-a-file-1234567")) == "echo ***"


def test_printable_escapes_control_characters_only() -> None:
    assert printable("cat 1.png é") == "cat 1.png é"
    assert printable("a\nb\rc\x1b[2Kd\u2028e\x7f") == "a\\nb\\rc\\x1b[2Kd\\u2028e\\x7f"
    assert str(BackendError("item a\nERROR forged")) == "item a\\nERROR forged"
