"""Every way a cycle can stop half-way, against a real Label Studio server: a real kill -9
at each failpoint of each plan, a phase failing by an exception, the budget reached, a
lock handed over; after each, the next run finishes the round with no duplicate task and
no lost or double-counted label."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
import yaml
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.loop.lock import CYCLE_LOCK
from support.loop import Project, cycle, cycle_process, cycle_result, run_cycle_process


@pytest.fixture
def project(project_file, ls_env, ls_project_title):
    """Overlap 2 for the more uncertain half of each batch, label review on."""
    return project_file(
        loop={"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20,
              "min_queued": 10},
        label_studio={"project_title": ls_project_title, "holdout": 30, "overlap": 2,
                      "overlap_fraction": 0.5},
        quality={"review_per_round": 4, "review_folds": 2})


def check_tasks(p: Project) -> list:
    """Every task of the project is in state, once per item (review tasks aside)."""
    tasks = p.tasks()
    labelling = [t for t in tasks if t.data.get("kind") != "review"]
    items = Counter(t.data["item_id"] for t in labelling)
    assert all(n == 1 for n in items.values()), [i for i, n in items.items() if n > 1]
    with p.store() as store:
        recorded = store.tasks.by_item()
        assert {t.id for t in labelling} == set(recorded.values())
        assert set(items) == set(recorded)
    return tasks


@pytest.mark.parametrize("failpoint", ["after:holdout", "after:initial", "push:before-import",
                                       "push:imported", "after:push"])
def test_a_kill_in_the_first_round_then_the_rerun_finishes_it(project, ls_env, failpoint):
    p = Project(project, ls_env)
    code, out = run_cycle_process(project, failpoint=failpoint)
    assert code == -signal.SIGKILL, out
    out = cycle(project)
    assert "resuming the unfinished bootstrap round" in out or "nothing to do" in out, out
    tasks = check_tasks(p)
    assert len(tasks) == 70
    with p.store() as store:
        assert [b["kind"] for b in store.batches.all()] == ["holdout", "initial"]
        assert [r.status for r in store.rounds.all()] == ["done"]


@pytest.mark.parametrize("failpoint", ["after:train", "after:evaluate", "after:review",
                                       "after:select", "push:before-import",
                                       "push:imported"])
def test_a_kill_in_a_training_round_then_the_rerun_finishes_it(project, ls_env, failpoint):
    p = Project(project, ls_env)
    cycle(project)
    annotated = p.annotate()
    code, out = run_cycle_process(project, failpoint=failpoint)
    assert code == -signal.SIGKILL, out
    out = cycle(project)
    assert "resuming the unfinished train round" in out and "round 1 done" in out, out
    assert "trained" not in out or failpoint == "after:train"  # never trained twice
    tasks = check_tasks(p)
    query = [t for t in tasks if t.data.get("kind") == "query"]
    assert len(query) == 40 and all(t.predictions for t in query)
    overlaps = Counter(t.overlap for t in query)
    assert overlaps == {2: 20, 1: 20}  # the more uncertain half gets two annotators
    with p.store() as store:
        assert store.annotations.count() == annotated  # no annotation lost or doubled
        labels = store.labels.current()
        assert len(labels) == annotated and all(labels[i] == p.truth[i] for i in labels)
        assert [r.status for r in store.rounds.all()] == ["done", "done"]
        assert store.rounds.last_failure() is None


@pytest.mark.parametrize("failpoint", ["after:select", "push:imported"])
def test_a_kill_in_a_top_up_round_then_the_rerun_finishes_it(project_file, ls_env,
                                                            ls_project_title, failpoint):
    path = project_file(loop={"initial": 40, "batch": 40, "budget": 400,
                              "min_new_labels": 1000, "min_queued": 100},
                        label_studio={"project_title": ls_project_title, "holdout": 0})
    p = Project(path, ls_env)
    cycle(path)  # bootstrap; then too few tasks wait (40 < 100): a top-up
    code, out = run_cycle_process(path, failpoint=failpoint)
    assert code == -signal.SIGKILL, out
    out = cycle(path)
    assert "resuming the unfinished topup round" in out and "round 1 done" in out, out
    assert len(check_tasks(p)) == 80


def test_a_phase_that_fails_is_shown_and_resumed_by_the_next_run(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate()
    raw = yaml.safe_load(project.read_text())
    raw["training"]["device"] = "cuda:7"  # no such device here: the train phase fails
    project.write_text(yaml.safe_dump(raw))
    code, out = cycle_result(project)
    assert code == 2 and out.strip().splitlines()[-1].startswith("error: training.device")
    status = CliRunner().invoke(main, ["status", "--config", str(project)])
    assert "last error: round 1, train" in status.output and "cuda:7" in status.output
    raw["training"]["device"] = "cpu"
    project.write_text(yaml.safe_dump(raw))
    out = cycle(project)
    assert "resuming the unfinished train round" in out and "round 1 done" in out, out
    status = CliRunner().invoke(main, ["status", "--config", str(project)])
    assert "last error" not in status.output, status.output


def test_the_labelling_budget_reached_stops_asking(project_file, ls_env, ls_project_title):
    path = project_file(loop={"initial": 40, "batch": 40, "budget": 80, "min_new_labels": 20,
                              "min_queued": 10},
                        label_studio={"project_title": ls_project_title, "holdout": 0})
    p = Project(path, ls_env)
    cycle(path)
    p.annotate()
    out = cycle(path)  # trains, pushes the last 40 the budget allows
    assert "pushed 40 query tasks" in out, out
    p.annotate()
    out = cycle(path)  # trains on 80; nothing more to ask
    assert "no batch: the labelling budget is reached" in out, out
    out = cycle(path)
    assert "nothing to do" in out and "labelling budget reached" in out, out
    assert len(check_tasks(p)) == 80


def test_a_cycle_whose_lock_was_handed_over_stops_without_changes(project, ls_env,
                                                                  tmp_path):
    p = Project(project, ls_env)
    proc = cycle_process(project, **{PAUSE_ENV: "cycle:locked", PAUSE_DIR_ENV: str(tmp_path)})
    reached = tmp_path / "cycle-locked.reached"
    deadline = time.monotonic() + 120
    while not reached.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    with p.store() as store:  # another process takes the lock over meanwhile
        assert store.locks.try_take(CYCLE_LOCK, "thief", 1, "elsewhere", lambda h: True) \
            is None
    (tmp_path / "cycle-locked.go").touch()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    assert err.strip().splitlines()[-1].startswith("error: another cycle took over the lock")
    with p.store() as store:
        assert store.items.count() == 0 and store.batches.all() == []
        assert store.locks.holder(CYCLE_LOCK).owner == "thief"
