"""serve's controller (in this process, real cycle processes) against the real Label
Studio: a failed cycle's changes are tried again after the backoff, and a cycle that runs
to its end resets the backoff."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.project import Project
from activelearn.service.controller import Controller
from activelearn.service.events import WebhookEvent
from support.loop import Project as LoopProject
from support.loop import cycle
from support.serve import free_port, own_forkserver  # noqa: F401  (autouse)

pytestmark = pytest.mark.label_studio
RETRY = 30.0


def set_url(path: Path, url: str) -> None:
    raw = yaml.safe_load(path.read_text())
    raw["label_studio"]["url"] = url
    path.write_text(yaml.safe_dump(raw))


def ended(ctl: Controller, now: float, timeout: float = 300) -> str:
    """Start the due cycle at `now`, wait for its end; its result."""
    ctl.tick(now)
    assert ctl.runner.running is not None, "no cycle started"
    deadline = time.monotonic() + timeout
    while ctl.runner.running is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ctl.tick(now)
    assert ctl.runner.last is not None
    return ctl.runner.last.result


def test_a_retry_that_runs_pulls_the_kept_changes_and_resets_the_backoff(
        project_file, ls_env, ls_project_title):
    path = project_file(
        loop={"initial": 20, "batch": 20, "budget": 200, "min_new_labels": 1000,
              "min_queued": 0},
        label_studio={"project_title": ls_project_title, "holdout": 10,
                      "url": ls_env.url},
        serve={"min_new_labels": 3, "max_wait": 600, "retry_after": RETRY})
    assert CliRunner().invoke(main, ["init", "--config", str(path)]).exit_code == 0
    cycle(path)
    p = LoopProject(path, ls_env)
    lines: list[str] = []
    ctl = Controller(Project(load_config(path)), lines.append)
    assert p.annotate(limit=3) == 3
    for _ in range(3):
        ctl.on_event(WebhookEvent("ANNOTATION_CREATED", p.project_id, 1))
    set_url(path, f"http://127.0.0.1:{free_port()}")  # Label Studio out of reach
    assert ended(ctl, 0.0) == "failed"
    assert ended(ctl, RETRY) == "failed"
    assert ctl.describe(RETRY)["retry"] == {"failures": 2, "in_seconds": 2 * RETRY}
    set_url(path, ls_env.url)  # back
    ctl.tick(3 * RETRY - 1)
    assert ctl.runner.running is None  # not before its time
    assert ended(ctl, 3 * RETRY) == "ok", (path.parent / "work/serve/cycle.log").read_text()
    status = ctl.describe(3 * RETRY)
    assert status["retry"] is None and status["pending_changes"] == 0
    with p.store() as store:  # the retry pulled the 3 annotations the failures kept
        assert store.annotations.count(-1) == 3
    ctl.on_event(WebhookEvent("ANNOTATION_CREATED", p.project_id, 3))
    set_url(path, f"http://127.0.0.1:{free_port()}")
    assert ended(ctl, 4 * RETRY) == "failed"
    assert ctl.describe(4 * RETRY)["retry"] == {"failures": 1, "in_seconds": RETRY}
    assert [ln.split(":")[0] for ln in lines if "ended" in ln] == [
        "cycle 1 ended", "cycle 2 ended", "cycle 3 ended", "cycle 4 ended"]
