"""A round never stays stuck and never uses another model than state names; tasks this
project did not make never change labels. Against a real Label Studio server, with real
kill -9 of a cycle process."""

from __future__ import annotations

import signal

import pytest
from click.testing import CliRunner

from activelearn.annotation.label_studio import choice_result
from activelearn.cli import main
from activelearn.learn.checkpoints import checkpoint_path, metrics_path
from support.loop import Project, cycle, run_cycle_process


@pytest.fixture
def project(project_file, ls_env, ls_project_title):
    """A small Fashion-MNIST project linked to its own Label Studio project; a queue under
    1,000 waiting tasks asks for a top-up."""
    return project_file(
        loop={"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20,
              "min_queued": 1000},
        label_studio={"project_title": ls_project_title, "holdout": 60})


@pytest.mark.parametrize("damage", ["metrics deleted", "checkpoint corrupt"])
def test_a_trained_round_whose_model_files_are_lost_trains_again(project, ls_env, damage):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate()
    code, out = run_cycle_process(project, failpoint="after:train")
    assert code == -signal.SIGKILL, out
    if damage == "metrics deleted":
        metrics_path(p.cfg.work_dir, "t-r1").unlink()
    else:
        checkpoint_path(p.cfg.work_dir, "t-r1").write_bytes(b"half a checkpoint")
    out = cycle(project)
    assert "the model of round 1 is unusable" in out and "training it again" in out, out
    assert "trained t-r1" in out and "round 1 done" in out, out
    with p.store() as store:
        assert 1 in store.metrics.of_split("holdout")
        assert [r.status for r in store.rounds.all()] == ["done", "done"]
        (query,) = [b for b in store.batches.all(1) if b["kind"] == "query"]
        assert query["model_version"] == "t-r1"
    assert "unusable" not in cycle(project)  # and it stays healthy


def test_a_lost_checkpoint_is_never_replaced_by_an_older_model(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    for _ in range(2):  # two trained rounds: t-r1 and t-r2
        p.annotate()
        assert "trained t-r" in cycle(project)
    checkpoint_path(p.cfg.work_dir, "t-r2").unlink()
    out = cycle(project)  # no new labels: a top-up, which needs the latest model
    assert "the latest model t-r2 is unusable" in out and "trains a new one" in out, out
    assert "trained t-r3" in out and "round 3 done" in out, out
    with p.store() as store:
        versions = {b["model_version"] for b in store.batches.all(3)}
        assert versions == {"t-r3"}
        assert store.rounds.all()[-1].model_version == "t-r3"


def test_tasks_someone_else_imported_never_change_labels(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    client, classes = p.backend.client, p.cfg.classes
    with p.store() as store:
        ours = store.tasks.by_item()
        holdout = sorted(store.labels.current("holdout") or
                         [i for i, s in store.items.splits().items() if s == "holdout"])
        batched = store.batches.batched_ids()
    item = holdout[0]
    never_selected = next(i for i in p.truth if i not in batched and p.truth[i] >= 0)
    truth, wrong = classes[p.truth[item]], classes[(p.truth[item] + 1) % len(classes)]
    # the project's own task of a holdout item, annotated correctly
    client.annotations.create(id=ours[item], result=choice_result(truth))
    # two foreign tasks carrying item ids of this project, annotated three times wrongly
    answer = client.projects.import_tasks(
        id=p.project_id, return_task_ids=True,
        request=[{"data": {"image": "x", "item_id": i}, "meta": {"item_id": i}}
                 for i in (item, never_selected)])
    for task_id in answer.task_ids:
        for _ in range(3):
            client.annotations.create(id=task_id, result=choice_result(wrong))
    out = cycle(project)
    assert out.count("not one of this project's tasks") == 2, out
    with p.store() as store:
        labels = store.labels.current()
        assert labels[item] == p.truth[item] and never_selected not in labels
        assert store.annotations.count() == 1
        reasons = [pr.reason for pr in store.annotations.problems()]
        assert sum("not one of this project's tasks" in r for r in reasons) == 2


def test_a_recreated_project_is_relinked_and_gets_the_waiting_items_again(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate(limit=30)
    cycle(project)  # pulls the 30 labels (and trains, and pushes a query batch)
    with p.store() as store:
        waiting = store.batches.batched_ids() - set(store.labels.current())
    old = p.project_id
    p.backend.client.projects.delete(id=old)
    result = CliRunner().invoke(main, ["cycle", "--config", str(project)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "activelearn init --relink" in lines[0], lines
    result = CliRunner().invoke(main, ["init", "--config", str(project), "--relink"])
    assert result.exit_code == 0, result.output
    assert "relinked" in result.output, result.output
    assert f"pushed {len(waiting)} tasks of items still waiting" in result.output
    assert p.project_id != old
    with p.store() as store:
        labelled = set(store.labels.current())
        live = store.tasks.by_item()
    tasks = p.tasks()
    assert len(labelled) == 30 and len(tasks) == len(waiting)
    assert {t.data["item_id"] for t in tasks} == set(live) == waiting
    p.annotate(limit=10)
    out = cycle(project)
    assert "10 new labels" in out and "problem" not in out, out
