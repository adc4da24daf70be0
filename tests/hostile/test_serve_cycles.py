"""Hostile cases for serve's cycles and the round planner: damaged cycle journals, cycles
that fail at several points (their changes are kept and tried again after a doubling
delay), forged ids in what the controller logs, and cron runs past the budget.

The controller is the real one (service/controller.py) with real cycle processes forked
from its forkserver; a cycle fails for real (Label Studio on a closed port, a broken
project file, a damaged state, a kill). The budget cases run `cycle` against the real
Label Studio of the tests."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from activelearn.config import load_config
from activelearn.project import Project
from activelearn.service.controller import Controller
from activelearn.service.events import WebhookEvent
from activelearn.state import Store
from support.loop import Project as LoopProject
from support.loop import cycle_result
from support.serve import free_port, own_forkserver  # noqa: F401  (autouse)

RETRY = 30.0  # serve.retry_after of these projects


@pytest.fixture
def ls_env(label_studio, monkeypatch):
    """The test server's URL and token in the environment, as a user would set them."""
    monkeypatch.setenv("ACTIVELEARN_LS_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    return label_studio


@pytest.fixture
def offline(project_file, monkeypatch) -> Path:
    """A project whose Label Studio is a closed port: every cycle fails at its start."""
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0123456789abcdef0123456789abcdef")
    return project_file(label_studio={"url": f"http://127.0.0.1:{free_port()}"},
                        serve={"min_new_labels": 3, "max_wait": 600, "retry_after": RETRY})


class Lines(list):
    """What the controller echoed."""

    def __call__(self, line: str) -> None:
        self.append(line)


def controller(path: Path) -> tuple[Controller, Lines]:
    lines = Lines()
    return Controller(Project(load_config(path)), lines), lines


def journal(path: Path) -> Path:
    return path.parent / "work" / "serve" / "cycles.jsonl"  # project_file's work dir


def records(path: Path) -> list[dict]:
    """The journal's records; a line that is not JSON fails the test (torn lines of
    the test's own making are written before the controller starts and skipped here by
    `skip`)."""
    return [json.loads(line) for line in journal(path).read_text().splitlines()
            if line.startswith("{\"")]


def until_ended(ctl: Controller, now: float, timeout: float = 120) -> None:
    """Wait for the running cycle's process to end, then let the controller see it."""
    deadline = time.monotonic() + timeout
    while ctl.runner.running is not None:
        assert time.monotonic() < deadline, "the cycle did not end"
        time.sleep(0.05)
    ctl.tick(now)


def fail_once(ctl: Controller, now: float) -> None:
    """Start the due cycle at `now` and wait for its (failed) end."""
    ctl.tick(now)
    assert ctl.runner.running is not None, "no cycle started"
    until_ended(ctl, now)
    assert ctl.runner.last is not None and ctl.runner.last.result == "failed"


def event(changes: int = 1, action: str = "ANNOTATION_CREATED") -> WebhookEvent:
    return WebhookEvent(action, None, changes)


# -- the journal ------------------------------------------------------------------------
DAMAGED = {
    "torn last line": (b'{"cycle": 4, "event": "end"}\n{"cycle": 5, "ev', 4),
    "garbage lines": (b'{"cycle": 2, "event": "end"}\nnot json at all\n\x00\x01\x02\n', 2),
    "non-UTF-8 bytes": (b'{"cycle": 3, "event": "end"}\n\xff\xfe{"cycle": 99}\n', 3),
    "numbers going backwards": (b''.join(b'{"cycle": %d}\n' % n for n in (1, 2, 7, 3, 2)), 7),
    "deep nesting": (b'{"cycle": 6}\n' + b"[" * 100_000 + b"\n", 6),
    "not objects": (b'{"cycle": 8}\n[1, 2]\n"cycle"\n12\nnull\n', 8),
    "numbers that are not whole": (b'{"cycle": 5}\n{"cycle": 9.5}\n{"cycle": "10"}\n'
                                   b'{"cycle": true}\n{"cycle": -4}\n{"cycle": 1e300}\n'
                                   b'{"cycle": 99999999999999999999}\n', 5),
    "empty file": (b"", 0),
    "only a newline": (b"\n", 0),
}


@pytest.mark.parametrize("content,highest", DAMAGED.values(), ids=list(DAMAGED))
def test_a_damaged_journal_neither_stops_serve_nor_repeats_a_number(offline, content,
                                                                    highest):
    folder = journal(offline).parent
    folder.mkdir(parents=True)
    journal(offline).write_bytes(content)
    ctl, lines = controller(offline)
    assert ctl.runner.number == highest
    ctl.on_event(event(3))
    fail_once(ctl, now=100.0)
    after = journal(offline).read_bytes()[len(content):]
    new = [json.loads(line) for line in after.splitlines() if line.strip()]
    assert {r["cycle"] for r in new} == {highest + 1}  # its own line, the next number
    assert [r["event"] for r in new] == ["trigger", "start", "end", "retry"]
    assert ctl.describe(now=100.0)["latest_cycle"] == highest + 1
    assert not any("Traceback" in line or "\n" in line for line in lines), lines


def test_numbers_go_on_across_two_lifetimes_on_one_work_dir(offline):
    first, _ = controller(offline)
    first.on_event(event(3))
    fail_once(first, now=0.0)
    fail_once(first, now=RETRY)
    second, _ = controller(offline)  # serve restarted: the changes were only in memory
    assert second.runner.number == 2 and second.runner.started == 0
    second.on_event(event(3))
    fail_once(second, now=0.0)
    numbers = [r["cycle"] for r in records(offline) if r["event"] == "trigger"]
    assert numbers == [1, 2, 3]
    assert [r["cycle"] for r in records(offline) if r["event"] == "start"] == [1, 2, 3]


def test_a_journal_that_cannot_be_read_stops_serve_with_one_line(offline):
    journal(offline).mkdir(parents=True)  # a folder where the journal goes
    from activelearn.errors import StateError

    with pytest.raises(StateError) as raised:
        controller(offline)
    assert len(str(raised.value).splitlines()) == 1
    assert "cycles.jsonl: the cycles journal cannot be read" in str(raised.value)


# -- failed cycles: kept changes, backoff -------------------------------------------------
def test_failing_cycles_keep_their_changes_and_wait_longer_each_time(offline):
    ctl, lines = controller(offline)
    for _ in range(3):
        ctl.on_event(event())
    now, delays = 0.0, []
    for _ in range(4):
        fail_once(ctl, now)
        status = ctl.describe(now)
        assert status["pending_changes"] == 3 and status["cycle_running"] is None
        delays.append(status["retry"]["in_seconds"])
        ctl.tick(now + delays[-1] - 0.5)  # not a moment before its time
        assert ctl.runner.running is None
        now += delays[-1]
    assert delays == [RETRY, 2 * RETRY, 4 * RETRY, 8 * RETRY]
    assert [r["retry_in"] for r in records(offline) if r["event"] == "retry"] == delays
    assert [r["failures"] for r in records(offline) if r["event"] == "retry"] == [1, 2, 3, 4]
    assert [r["changes"] for r in records(offline) if r["event"] == "trigger"] == [3] * 4
    assert "its 3 changes wait, tried again in 240 s (failure 4 in a row)" in lines[-1]
    assert all("\n" not in line for line in lines)


def break_config(path: Path) -> None:
    path.write_text(path.read_text() + "\nloop: [not, a, section]\n")


def lose_weights(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    raw["model"]["weights"] = str(path.parent / "moved-away.pt")
    path.write_text(yaml.safe_dump(raw))


BREAKS = {"Label Studio unreachable": (lambda path: None, 1),
          "project file broken after serve started": (break_config, 2),
          "model weights gone": (lose_weights, 2)}


@pytest.mark.parametrize("damage,code", BREAKS.values(), ids=list(BREAKS))
def test_a_cycle_failing_at_its_start_keeps_its_pending_count(offline, damage, code):
    ctl, _ = controller(offline)
    ctl.on_event(event(2))
    damage(offline)
    ctl.on_event(event(1))
    fail_once(ctl, now=0.0)
    assert ctl.runner.last.exit_code == code
    ctl.on_event(event(4))  # more arrive meanwhile: added, and still no early start
    ctl.tick(RETRY - 1)
    assert ctl.runner.running is None and ctl.describe(RETRY - 1)["pending_changes"] == 7
    log = (journal(offline).parent / "cycle.log").read_text()
    assert "Traceback" not in log and log.strip().splitlines()[-1].startswith("error: "), log
    ctl.tick(RETRY)
    assert ctl.runner.running is not None  # tried again with the 7
    until_ended(ctl, RETRY)
    assert [r["changes"] for r in records(offline) if r["event"] == "trigger"] == [3, 7]


def test_a_cycle_killed_midway_keeps_its_pending_count(offline):
    ctl, _ = controller(offline)
    ctl.on_event(event(3))
    ctl.tick(0.0)
    pid = ctl.runner.running
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    until_ended(ctl, 0.0)
    assert ctl.runner.last.exit_code == 128 + signal.SIGKILL
    assert ctl.runner.last.result == "failed"
    status = ctl.describe(0.0)
    assert status["pending_changes"] == 3 and status["retry"] == {"failures": 1,
                                                                   "in_seconds": RETRY}


# -- forged ids in what the controller logs -----------------------------------------------
def test_a_forged_lock_holder_and_webhook_action_stay_on_one_line(offline):
    ctl, lines = controller(offline)
    project = Project(load_config(offline))
    with project.store() as store:  # another "host" holds the lock, its name forged
        assert store.locks.try_take("cycle", "x", os.getpid(),
                                    "evil\nERROR cycle 9 ended: ok", lambda h: False) is None
    ctl.on_event(event(3, action="ANNOTATION_CREATED\ncycle 9 started (pid 1)"))
    ctl.on_event(event(3))
    ctl.tick(0.0)
    assert ctl.runner.running is None and len(lines) == 1
    assert "\n" not in lines[0] and "evil\\nERROR cycle 9" in lines[0], lines
    status = ctl.describe(0.0)
    assert "\n" not in json.dumps(status) and status["pending_changes"] == 6
    assert all("\n" not in action for action in status["webhook_events"])  # "other"
    assert not journal(offline).exists() or records(offline) == []


# -- cron runs past the budget -------------------------------------------------------------
def rows(p: LoopProject) -> list[tuple]:
    with p.store() as store:
        return [tuple(r.__dict__.values()) for r in store.rounds.all()]


def cron_runs(p: LoopProject, runs: int = 3) -> list[str]:
    before, outs = rows(p), []
    for _ in range(runs):
        code, out = cycle_result(p.path)
        assert code == 0, out
        outs.append(out)
    assert rows(p) == before  # no round recorded
    return outs


# (budget, pool items, the reason `cycle` gives once nothing is left to do)
PAST = {"budget reached": (80, 100, "labelling budget reached"),
        "pool used up before the budget": (1000, 80,
                                           "the pool is used up: no unlabeled item left")}


@pytest.mark.label_studio
@pytest.mark.parametrize("budget,items,why", PAST.values(), ids=list(PAST))
def test_cron_runs_past_the_budget_record_no_round(project_file, ls_env, ls_project_title,
                                                   budget, items, why):
    path = project_file(loop={"initial": 40, "batch": 40, "min_new_labels": 20,
                              "min_queued": 10, "budget": budget},
                        data={"limit": items},
                        label_studio={"project_title": ls_project_title, "holdout": 0})
    p = LoopProject(path, ls_env)
    code, out = cycle_result(path)
    assert code == 0, out
    p.annotate()
    code, out = cycle_result(path)  # trains on 40, pushes the last 40 the pool/budget has
    assert code == 0 and "pushed 40 query tasks" in out, out
    for out in cron_runs(p):  # 40 still wait: nothing to do, no round
        assert len(out.strip().splitlines()) <= 2 and "nothing to do" in out, out
    p.annotate(limit=25)  # new labels after the budget: a round still trains on them
    code, out = cycle_result(path)
    assert code == 0 and "train (25 new labels since model t-r1)" in out, out
    assert len(rows(p)) == 3
    p.annotate()
    code, out = cycle_result(path)  # pulls the last 15: fewer than min_new_labels
    assert code == 0 and "updated tasks: 15 new labels" in out, out
    assert "nothing to do" in out and why in out, out
    for out in cron_runs(p):
        lines = out.strip().splitlines()
        assert len(lines) == 2 and lines[0] == "pulled 0 updated tasks: 0 new labels", out
        assert lines[1].startswith("nothing to do: ") and why in lines[1], out
    with sqlite3.connect(load_config(path).work_dir / "state.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] == 3
    with Store.open(load_config(path).work_dir / "state.sqlite") as store:
        assert len(store.labels.current("train")) == 80
    yaml.safe_load(path.read_text())  # the project file is untouched
