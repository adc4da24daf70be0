"""Every way a cycle can stop half-way, against a real Label Studio server: a real kill -9
at each failpoint of each plan, a phase failing by an exception, the budget reached, a
lock handed over; after each, the next run finishes the round with no duplicate task and
no lost or double-counted label.

The kills of one plan are chained on one project (support.loop.KillChain): the run after a
kill resumes the round and is itself killed at the next failpoint, the last run finishes
the round. So a training round is trained once for its six kills, not six times; each
failpoint's test checks its own kill, the resumed run after it, what that run left in
state and in Label Studio, and the round's end."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator

import pytest
import yaml
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.loop.lock import CYCLE_LOCK
from support.loop import KillChain, Project, check_tasks, cycle, cycle_process, cycle_result
from support.project_files import write_project

# each plan's failpoints in the order a round reaches them (the push points: at the first
# batch pushed, the holdout's in a bootstrap round)
BOOTSTRAP_KILLS = ["after:holdout", "after:initial", "push:before-import", "push:imported",
                   "after:push"]
TRAIN_KILLS = ["after:train", "after:evaluate", "after:review", "after:select",
               "push:before-import", "push:imported"]
TOPUP_KILLS = ["after:select", "push:imported"]
# Overlap 2 for the more uncertain half of each batch, label review on
SECTIONS = {"loop": {"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20,
                     "min_queued": 10},
            "label_studio": {"holdout": 30, "overlap": 2, "overlap_fraction": 0.5},
            "quality": {"review_per_round": 4, "review_folds": 2}}


@pytest.fixture
def project(project_file, ls_env, ls_project_title):
    sections = dict(SECTIONS, label_studio={**SECTIONS["label_studio"],
                                            "project_title": ls_project_title})
    return project_file(**sections)


@pytest.fixture(scope="module")
def module_ls(label_studio) -> Iterator:
    """The test server's URL and token in the environment for the module's chains."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACTIVELEARN_LS_URL", label_studio.url)
        patch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
        yield label_studio


def chain_project(tmp_path_factory, fmnist_root, name: str, **sections):
    folder = tmp_path_factory.mktemp(name)
    title = f"test-{name}-{uuid.uuid4().hex[:8]}"
    sections["label_studio"] = {**sections.get("label_studio", {}), "project_title": title}
    return write_project(folder / "project.yaml", folder / "work", fmnist_root, **sections)


@pytest.fixture(scope="module")
def bootstrap_chain(tmp_path_factory, fmnist_root, module_ls) -> KillChain:
    path = chain_project(tmp_path_factory, fmnist_root, "bootstrap-kills", **SECTIONS)
    return KillChain(Project(path, module_ls)).run(BOOTSTRAP_KILLS)


@pytest.fixture(scope="module")
def train_chain(tmp_path_factory, fmnist_root, module_ls) -> KillChain:
    path = chain_project(tmp_path_factory, fmnist_root, "train-kills", **SECTIONS)
    chain = KillChain(Project(path, module_ls))
    cycle(path)
    chain.annotated = chain.project.annotate()
    return chain.run(TRAIN_KILLS)


@pytest.fixture(scope="module")
def topup_chain(tmp_path_factory, fmnist_root, module_ls) -> KillChain:
    path = chain_project(tmp_path_factory, fmnist_root, "topup-kills",
                         loop={"initial": 40, "batch": 40, "budget": 400,
                               "min_new_labels": 1000, "min_queued": 100},
                         label_studio={"holdout": 0})
    chain = KillChain(Project(path, module_ls))
    cycle(path)  # bootstrap; then too few tasks wait (40 < 100): a top-up
    return chain.run(TOPUP_KILLS)


@pytest.mark.parametrize("failpoint", BOOTSTRAP_KILLS)
def test_a_kill_in_the_first_round_then_the_rerun_finishes_it(bootstrap_chain, failpoint):
    chain = bootstrap_chain
    kill = chain.kill(failpoint)
    assert kill.code == -signal.SIGKILL, kill.out
    resumed = kill.resumed_by
    assert "resuming the unfinished bootstrap round" in resumed.out or (
        "nothing to do" in resumed.out and resumed.final), resumed.out
    resumed.check_tasks()
    assert resumed.annotations == 0 and resumed.labels == {}
    # the round's end: every task once, the round done
    end = chain.end
    assert "round 0 done" in end.out or "nothing to do" in end.out, end.out
    assert len(end.check_tasks()) == 70
    assert end.batch_kinds == ["holdout", "initial"] and end.round_statuses == ["done"]


@pytest.mark.parametrize("failpoint", TRAIN_KILLS)
def test_a_kill_in_a_training_round_then_the_rerun_finishes_it(train_chain, failpoint):
    chain, p = train_chain, train_chain.project
    kill = chain.kill(failpoint)
    assert kill.code == -signal.SIGKILL, kill.out
    resumed = kill.resumed_by
    assert "resuming the unfinished train round" in resumed.out, resumed.out
    assert "trained" not in resumed.out or failpoint == "after:train"  # never trained twice
    resumed.check_tasks()
    assert resumed.annotations == chain.annotated  # no annotation lost or doubled
    assert resumed.labels == {i: p.truth[i] for i in resumed.labels}
    assert len(resumed.labels) == chain.annotated
    # the round's end
    end = chain.end
    assert "round 1 done" in end.out, end.out
    tasks = end.check_tasks()
    query = [t for t in tasks if t.data.get("kind") == "query"]
    assert len(query) == 40 and all(t.predictions for t in query)
    overlaps = {n: sum(t.overlap == n for t in query) for n in (1, 2)}
    assert overlaps == {2: 20, 1: 20}  # the more uncertain half gets two annotators
    assert end.annotations == chain.annotated and len(end.labels) == chain.annotated
    assert end.round_statuses == ["done", "done"] and end.last_failure is None


@pytest.mark.parametrize("failpoint", TOPUP_KILLS)
def test_a_kill_in_a_top_up_round_then_the_rerun_finishes_it(topup_chain, failpoint):
    chain = topup_chain
    kill = chain.kill(failpoint)
    assert kill.code == -signal.SIGKILL, kill.out
    resumed = kill.resumed_by
    assert "resuming the unfinished topup round" in resumed.out, resumed.out
    resumed.check_tasks()
    end = chain.end
    assert "round 1 done" in end.out, end.out
    assert len(end.check_tasks()) == 80


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
