"""`activelearn init --connect-ml-backend URL` refusals, checked before Label Studio is
called (nothing listens at label_studio.url here, so reaching it would say so). The
registration itself runs against the real server in
tests/integration/test_serve_predict.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config.serve import SECRET_ENV, SECRET_FILE_ENV
from activelearn.errors import BackendError, ConfigError
from activelearn.service.connect import connect_service, service_url


@pytest.fixture
def nowhere(monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "x" * 40)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    return monkeypatch


def init(project, *args):
    return CliRunner().invoke(main, ["init", "--config", str(project), *args])


def test_without_a_secret_init_connects_nothing_and_exits_2(project_file, nowhere):
    result = init(project_file(), "--connect-ml-backend", "http://127.0.0.1:9090")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no webhook secret: set $ACTIVELEARN_WEBHOOK_SECRET")
    assert len(result.output.splitlines()) == 1


def test_a_url_that_is_not_the_services_exits_2(project_file, nowhere):
    nowhere.setenv(SECRET_ENV, "s" * 20)
    result = init(project_file(), "--connect-ml-backend", "127.0.0.1:9090")
    assert result.exit_code == 2 and "is not the service's http(s):// URL" in result.output
    assert len(result.output.splitlines()) == 1


def test_the_url_is_required(project_file, nowhere):
    result = init(project_file(), "--connect-ml-backend")
    assert result.exit_code == 2 and "requires an argument" in result.output


def test_with_a_secret_and_a_url_init_goes_on_to_label_studio(project_file, nowhere):
    nowhere.setenv(SECRET_ENV, "s" * 20)
    result = init(project_file(), "--connect-ml-backend", "http://127.0.0.1:9090/")
    assert result.exit_code == 1 and "did not answer" in result.output


@pytest.mark.parametrize("url", ["ftp://h:1", "http://", "http://h:1/?x=1", "h:9090"])
def test_service_urls(url):
    with pytest.raises(ConfigError):
        service_url(url)
    assert service_url(" https://serve.example/al/ ") == "https://serve.example/al"


class FakeIntegrations:
    """Records what a connect made and removed; the ML backend step fails with `fails`."""

    def __init__(self, fails: BaseException | None, hook_exists: bool = False,
                 removal_fails: bool = False) -> None:
        self.fails, self.hook_exists, self.removal_fails = fails, hook_exists, removal_fails
        self.removed: list[int] = []

    def ensure_webhook(self, project_id, url, headers, actions):
        return 7, not self.hook_exists

    def ensure_ml_backend(self, project_id, url, title):
        if self.fails is not None:
            raise self.fails
        return 3, True

    def remove_webhook(self, hook_id):
        if self.removal_fails:
            raise BackendError("Label Studio at x: removing webhook 7 failed: HTTP 500")
        self.removed.append(hook_id)


class FakeBackend:
    def __init__(self, integrations) -> None:
        self.integrations = integrations


@pytest.mark.parametrize(("fails", "hook_exists", "removal_fails", "removed", "says"), [
    (BackendError("ML backend refused"), False, False, [7], "removed webhook 7 this run made"),
    (KeyboardInterrupt(), False, False, [7], None),
    (BackendError("ML backend refused"), True, False, [], None),  # not this run's: kept
    (BackendError("ML backend refused"), False, True, [], "could not remove webhook 7"),
    (None, False, False, [], None),
])
def test_connect_is_all_or_nothing(fails, hook_exists, removal_fails, removed, says):
    fake = FakeIntegrations(fails, hook_exists, removal_fails)
    lines: list[str] = []
    if fails is None:
        connect_service(FakeBackend(fake), 1, "http://s:9090", "s" * 20, lines.append)
        assert len(lines) == 2 and "webhook 7 (created)" in lines[0]
    else:
        with pytest.raises(type(fails)) as caught:
            connect_service(FakeBackend(fake), 1, "http://s:9090", "s" * 20, lines.append)
        assert lines == []  # nothing said to be made
        if says:
            assert str(caught.value).startswith("ML backend refused; ")
            assert says in str(caught.value)
        else:
            assert "remove" not in str(caught.value)
    assert fake.removed == removed
