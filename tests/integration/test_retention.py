"""Retention through real cycles against the real Label Studio (jobs.keep_models 1): a
round killed (kill -9) right after training, a retention pass while it is unfinished
(every file made older than its start, so only the names protect them), then the resumed
round finishes with its own model, never trained again, and removes the model before
it; the model serve answers with is always there."""

from __future__ import annotations

import os
import signal
import time

import pytest

from activelearn.config import load_config
from activelearn.learn.checkpoints import model_problem
from activelearn.loop.retention import apply_retention, marker_name
from activelearn.project import Project as Handles
from support.loop import Project, cycle, run_cycle_process


def served(p: Project) -> str | None:
    """The model version serve answers with: the newest finished round's (versions.py)."""
    with p.store() as store:
        done = [r.model_version for r in store.rounds.all()
                if r.status == "done" and r.model_version]
    return done[-1] if done else None


def models(work) -> set[str]:
    return {f.name for f in (work / "models").iterdir()}


@pytest.mark.slow  # three cycles that train, one of them a subprocess killed with -9
def test_a_killed_round_resumes_after_retention_with_its_own_model(
        project_file, label_studio, ls_env, ls_project_title):
    path = project_file(label_studio={"project_title": ls_project_title, "holdout": 10},
                        loop={"initial": 20, "batch": 10, "budget": 400,
                              "min_new_labels": 10, "min_queued": 1000},
                        training={"epochs": 1, "min_steps": 10},
                        quality={"review_per_round": 0}, jobs={"keep_models": 1})
    p = Project(path, label_studio)
    work = p.cfg.work_dir
    cycle(path)  # round 0: holdout and initial batch
    p.annotate()
    assert "round 1 done" in cycle(path)
    assert served(p) == "t-r1"
    p.annotate()
    code, out = run_cycle_process(path, failpoint="after:train")
    assert code == -signal.SIGKILL, out
    assert models(work) == {"t-r1.pt", "t-r1.json", "t-r2.pt", "t-r2.json"}
    # everything older than the unfinished round's start: only the names protect now
    past = time.time() - 3600
    for file in work.rglob("*"):
        if file.is_file():
            os.utime(file, (past, past))
    os.utime(work / marker_name("t-r2"), (past + 600, past + 600))
    stale = work / "snapshots" / "stale0000000000000000.json"
    stale.write_bytes(b"{}")
    os.utime(stale, (past, past))
    handles = Handles(load_config(path))
    with handles.store() as store:
        swept = apply_retention(handles, store)
    assert swept.removed >= 2 and not stale.exists()  # the snapshot, round 1's marker
    # serve's model (round 1's) and the killed round's stay whole
    assert models(work) == {"t-r1.pt", "t-r1.json", "t-r2.pt", "t-r2.json"}
    assert model_problem(handles.artifacts, "t-r2") is None
    assert model_problem(handles.artifacts, served(p)) is None
    resumed = cycle(path)
    assert "resuming the unfinished train round" in resumed, resumed
    assert "trained" not in resumed and "unusable" not in resumed  # its own model, as is
    assert "round 2 done" in resumed and "retention: removed" in resumed
    # round 2 finished: round 1's model went (keep_models 1), round 2's is serve's
    assert served(p) == "t-r2" and models(work) == {"t-r2.pt", "t-r2.json"}
    assert model_problem(handles.artifacts, "t-r2") is None
