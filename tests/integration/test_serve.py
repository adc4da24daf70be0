"""`activelearn serve` against a real Label Studio server: the server's own webhooks reach
the real service process, which starts real cycles (see activelearn/service/)."""

from __future__ import annotations

import time

import httpx
import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config.serve import SECRET_HEADER
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.service.events import ACTIONS
from support.loop import Project, cycle
from support.serve import SECRET, Served, start_serve

pytestmark = pytest.mark.label_studio
N = 3  # serve.min_new_labels


@pytest.fixture
def project(project_file, ls_env, ls_project_title):
    """A small project after its first cycle (holdout and initial tasks pushed). The
    loop trains only after 1,000 new labels, so the cycles serve starts are short."""
    path = project_file(
        loop={"initial": 20, "batch": 20, "budget": 200, "min_new_labels": 1000,
              "min_queued": 0},
        label_studio={"project_title": ls_project_title, "holdout": 10},
        serve={"min_new_labels": N, "max_wait": 600})
    result = CliRunner().invoke(main, ["init", "--config", str(path)])
    assert result.exit_code == 0, result.output
    cycle(path)
    return Project(path, ls_env)


def connect(project: Project, served: Served) -> None:
    """Point the project's webhook at the service, as `init --connect-ml-backend` does."""
    project.backend.client.webhooks.create(
        url=f"{served.url}/webhook", project=project.project_id, send_payload=True,
        send_for_all_actions=False, actions=list(ACTIONS), headers={SECRET_HEADER: SECRET})


def settle(seconds: float = 2.0) -> None:
    time.sleep(seconds)


def test_a_cycle_starts_after_the_nth_annotation_and_not_before(project):
    served = start_serve(project.path, project.cfg.work_dir)
    try:
        connect(project, served)
        assert project.annotate(limit=N - 1) == N - 1
        settle()
        assert served.records("start") == []
        assert served.metric("activelearn_pending_changes") == N - 1
        assert served.metric("activelearn_webhook_events_total") == N - 1
        project.annotate(limit=1)
        served.wait_for("start", 1, timeout=30)
        end = served.wait_for("end", 1)[0]
        assert end["result"] == "ok", served.log.read_text()
        with project.store() as store:  # the cycle pulled the N annotations
            assert store.annotations.count(-1) == N
        assert served.metric("activelearn_pending_changes") == 0
        assert served.metric("activelearn_last_cycle_success") == 1
        report = httpx.get(f"{served.url}/report/", timeout=30)
        assert report.status_code == 200 and "activelearn report" in report.text
        status = served.status()
        assert status["serve"]["cycles_started"] == 1 and status["labels"]["train"] >= 0
    finally:
        served.stop()


def test_a_burst_during_a_cycle_starts_exactly_one_more(project, tmp_path):
    served = start_serve(project.path, project.cfg.work_dir,
                         **{PAUSE_ENV: "cycle:locked", PAUSE_DIR_ENV: str(tmp_path)})
    try:
        connect(project, served)
        project.annotate(limit=N)
        served.wait_for("start", 1, timeout=30)
        deadline = time.monotonic() + 60
        while not (tmp_path / "cycle-locked.reached").exists():  # it holds the lock now
            assert time.monotonic() < deadline
            time.sleep(0.05)
        burst = 2 * N + 1
        assert project.annotate(limit=burst) == burst
        settle()
        assert len(served.records("start")) == 1  # one at a time
        assert served.metric("activelearn_pending_changes") == burst
        (tmp_path / "cycle-locked.go").touch()
        ends = served.wait_for("end", 2)
        assert [e["result"] for e in ends] == ["ok", "ok"], served.log.read_text()
        settle(3)
        assert len(served.records("start")) == 2
        assert served.records("trigger")[1]["changes"] == burst
        with project.store() as store:
            assert store.annotations.count(-1) == N + burst
    finally:
        served.stop()


def test_a_wrong_or_missing_secret_is_refused_and_changes_nothing(project):
    served = start_serve(project.path, project.cfg.work_dir)
    try:
        task = project.tasks()[0]
        body = {"action": "ANNOTATION_CREATED", "project": {"id": project.project_id},
                "annotation": {"id": 1, "task": task.id}, "task": {"id": task.id}}
        for headers in ({}, {SECRET_HEADER: "not-the-secret-at-all"}, {SECRET_HEADER: ""}):
            for _ in range(N):
                answer = httpx.post(f"{served.url}/webhook", json=body, headers=headers)
                assert answer.status_code == 401, answer.text
        settle()
        assert served.metric("activelearn_pending_changes") == 0
        assert served.metric("activelearn_webhook_refused_total") == 3 * N
        assert served.records() == []
        answer = httpx.post(f"{served.url}/webhook", json=body, headers={SECRET_HEADER: SECRET})
        assert answer.status_code == 200 and answer.json()["pending"] == 1
    finally:
        served.stop()


def test_cron_holding_the_lock_makes_the_service_wait(project, tmp_path):
    from support.loop import cycle_process

    served = start_serve(project.path, project.cfg.work_dir)
    cron = cycle_process(project.path, **{PAUSE_ENV: "cycle:locked",
                                          PAUSE_DIR_ENV: str(tmp_path)})
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "cycle-locked.reached").exists():
            assert cron.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        connect(project, served)
        project.annotate(limit=N)
        settle(3)
        assert served.records("start") == []
        assert served.status()["serve"]["waiting_for_lock"]["pid"] == cron.pid
        (tmp_path / "cycle-locked.go").touch()
        assert cron.wait(timeout=120) == 0
        served.wait_for("start", 1, timeout=30)
        assert served.wait_for("end", 1)[0]["result"] == "ok"
    finally:
        if cron.poll() is None:
            cron.kill()
        served.stop()
