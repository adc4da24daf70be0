"""The service's HTTP side in process (Starlette's TestClient): the secret, bad bodies,
events of other projects, /metrics, /status, /report/. Cycles are never due here
(serve.min_new_labels is high); tests/integration/test_serve.py runs real ones."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from activelearn.config import load_config
from activelearn.config.serve import SECRET_HEADER
from activelearn.loop.project import PROJECT_ID_KEY
from activelearn.project import Project
from activelearn.service.app import create_app
from activelearn.state import Store

SECRET = "unit-secret-0123456789"


@pytest.fixture
def client(project_file):
    cfg = load_config(project_file(serve={"min_new_labels": 1000, "max_wait": 3600}))
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.meta.set(PROJECT_ID_KEY, "7")
    lines: list[str] = []
    with TestClient(create_app(Project(cfg), SECRET, lines.append, warm=False)) as c:
        c.cfg = cfg
        yield c


def created(project: int = 7) -> dict:
    return {"action": "ANNOTATION_CREATED", "project": {"id": project},
            "annotation": {"id": 1}, "task": {"id": 1}}


def metric(client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split(" ")[1])
    raise AssertionError(f"{name} not in /metrics")


def test_events_are_counted_with_the_secret_only(client):
    assert client.post("/webhook", json=created()).status_code == 401
    assert client.post("/webhook", json=created(),
                       headers={SECRET_HEADER: SECRET + "x"}).status_code == 401
    answer = client.post("/webhook", json=created(), headers={SECRET_HEADER: SECRET})
    assert answer.status_code == 200 and answer.json()["pending"] == 1
    assert metric(client, "activelearn_pending_changes") == 1
    assert metric(client, "activelearn_label_changes_total") == 1
    assert 'activelearn_webhook_refused_total{reason="secret"} 2.0' in client.get("/metrics").text


def test_a_body_that_is_not_an_event_is_400_and_counts_nothing(client):
    for body in (b"{not json", b"[]", b'{"action": "ANNOTATION_CREATED"}'):
        answer = client.post("/webhook", content=body, headers={SECRET_HEADER: SECRET})
        assert answer.status_code == 400 and "not a Label Studio webhook event" in \
            answer.json()["error"]
    assert metric(client, "activelearn_pending_changes") == 0


def test_events_of_another_project_are_ignored(client):
    answer = client.post("/webhook", json=created(project=8), headers={SECRET_HEADER: SECRET})
    assert answer.status_code == 200 and answer.json()["counted"] is False
    assert metric(client, "activelearn_pending_changes") == 0
    assert metric(client, "activelearn_webhook_ignored_total") == 1


def test_status_is_the_status_document_and_the_service(client):
    found = client.get("/status").json()
    assert found["project"] == client.cfg.project.name and found["round"] is None
    assert found["serve"]["cycles_started"] == 0 and found["serve"]["min_new_labels"] == 1000


def test_report_is_404_until_written_then_served(client):
    answer = client.get("/report/")
    assert answer.status_code == 404 and "no report yet" in answer.json()["error"]
    folder = client.cfg.work_dir / "report"
    folder.mkdir()
    (folder / "index.html").write_text("<html>the report</html>")
    (folder / "curve.csv").write_text("a,b\n")
    assert client.get("/report/").text == "<html>the report</html>"
    assert client.get("/report/curve.csv").text == "a,b\n"
    assert client.get("/report/../state.sqlite").status_code == 404
    assert client.get("/report/%2e%2e/state.sqlite").status_code == 404


def test_webhook_actions_in_metrics_are_bounded(client):
    from activelearn.service.metrics import MAX_LABEL_VALUES

    actions = ["PROJECT_UPDATED", "lower-case", "WITH\nNEWLINE", "A" * 65] + [
        f"ACTION_{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(2 * MAX_LABEL_VALUES)]
    for action in actions:
        answer = client.post("/webhook", json={"action": action, "project": {"id": 7}},
                             headers={SECRET_HEADER: SECRET})
        assert answer.status_code == 200
    text = client.get("/metrics").text
    counted = [line for line in text.splitlines()
               if line.startswith("activelearn_webhook_events_total{")]
    assert len(counted) == MAX_LABEL_VALUES + 1  # the first 32 names, and "other"
    assert 'activelearn_webhook_events_total{action="other"} 36.0' in text
    assert "lower-case" not in text and "NEWLINE" not in text
    assert client.get("/status").json()["serve"]["webhook_events"]["other"] == 36


def test_a_webhook_over_max_body_is_413_and_counted(client):
    answer = client.post("/webhook", content=b"{" + b" " * (32 * 2**20) + b"}",
                         headers={SECRET_HEADER: SECRET})
    assert answer.status_code == 413 and answer.headers["connection"] == "close"
    assert "serve.max_body" in answer.json()["error"]
    assert 'activelearn_webhook_refused_total{reason="size"} 1.0' in client.get("/metrics").text


def test_a_bug_is_a_500_in_one_line_without_its_message_or_a_traceback(project_file,
                                                                       monkeypatch, capfd):
    from activelearn.service.predict import ModelService

    def broken(self):
        raise KeyError("secret-token-in-a-message")

    monkeypatch.setattr(ModelService, "health", broken)
    cfg = load_config(project_file())
    lines: list[str] = []
    with TestClient(create_app(Project(cfg), SECRET, lines.append, warm=False)) as c:
        answer = c.get("/health")
        assert answer.status_code == 500
        assert answer.json() == {"error": "internal error (KeyError): a bug in activelearn"}
        wrong = c.get("/predict")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
        assert wrong.json() == {"error": "Method Not Allowed"}
    assert lines == ["error: GET /health: 500: KeyError: a bug in activelearn; please "
                     "report it with what the request held"]
    out = "".join(capfd.readouterr())
    assert "Traceback" not in out and "secret-token" not in out


def test_the_tick_goes_on_after_a_failing_look_and_says_each_failure_once(monkeypatch) -> None:
    import asyncio

    from activelearn.errors import StateError
    from activelearn.service import app

    monkeypatch.setattr(app, "TICK", 0.001)
    looks = iter([KeyError("x"), KeyError("x"), StateError("state.sqlite: locked"),
                  None, KeyError("x")])
    lines: list[str] = []

    class Looks:
        echo = staticmethod(lines.append)

        def tick(self, now: float) -> None:
            failure = next(looks, None)
            if failure is not None:
                raise failure
            if not lines or lines[-1] != "ok":
                lines.append("ok")

    async def run() -> None:
        task = asyncio.ensure_future(app.tick_forever(Looks()))
        await asyncio.sleep(0.2)
        assert not task.done()  # still looking
        task.cancel()

    asyncio.run(run())
    assert lines == [
        "error: serve's tick failed (KeyError): a bug in activelearn; please report it",
        "error: state.sqlite: locked", "ok",
        "error: serve's tick failed (KeyError): a bug in activelearn; please report it", "ok"]
