"""The webhook secret's sources and `activelearn serve`'s refusals: one line, exit 2."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config.serve import SECRET_ENV, SECRET_FILE_ENV
from activelearn.errors import ConfigError
from activelearn.service.secret import webhook_secret


@pytest.fixture(autouse=True)
def no_secret(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)


def test_secret_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv(SECRET_ENV, "a" * 20)
    assert webhook_secret() == "a" * 20
    monkeypatch.delenv(SECRET_ENV)
    path = tmp_path / "secret"
    path.write_text("b" * 32 + "\n")
    monkeypatch.setenv(SECRET_FILE_ENV, str(path))
    assert webhook_secret() == "b" * 32


@pytest.mark.parametrize(("value", "file", "why"), [
    (None, None, "no webhook secret"),
    ("short", None, "at least 16 printable"),
    ("with a space inside it", None, "at least 16 printable"),
    (None, "missing", "cannot read the webhook secret file"),
    (None, "", "no webhook secret"),
])
def test_unusable_secrets_are_one_line(monkeypatch, tmp_path, value, file, why):
    if value is not None:
        monkeypatch.setenv(SECRET_ENV, value)
    if file is not None:
        path = tmp_path / "secret"
        if file != "missing":
            path.write_text(file)
        monkeypatch.setenv(SECRET_FILE_ENV, str(path))
    with pytest.raises(ConfigError, match=why):
        webhook_secret()


def test_serve_without_a_secret_exits_2(project_file, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(main, ["serve", "--config", str(project_file())])
    assert result.exit_code == 2
    assert "no webhook secret" in result.output and len(result.output.splitlines()) == 1


def test_serve_on_a_taken_port_exits_2(project_file, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:1")
    monkeypatch.setenv(SECRET_ENV, "c" * 20)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--config", str(project_file()),
                                           "--port", str(port)])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_bad_serve_section_is_a_config_error(project_file):
    result = CliRunner().invoke(main, ["status", "--config",
                                       str(project_file(serve={"port": 70000}))])
    assert result.exit_code == 2 and "serve.port 70000 is out of range" in result.output
