"""`activelearn cycle` against a real Label Studio server: the loop over several rounds,
uncertainty order, crashes (a real kill -9), bad annotations, outages and concurrency."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from activelearn.annotation.label_studio import choice_result
from activelearn.cli import main
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.loop.lock import CYCLE_LOCK
from support.loop import Project, bot, cycle, cycle_process, run_cycle_process


@pytest.fixture
def project(project_file, ls_env, ls_project_title):
    """A small Fashion-MNIST project linked to its own Label Studio project."""
    return project_file(
        loop={"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20,
              "min_queued": 10},
        label_studio={"project_title": ls_project_title, "holdout": 60})


def test_init_then_three_rounds_with_the_bot(project_file, ls_env, ls_project_title):
    # long enough training and holdout for "accuracy rises" to hold on every run:
    # 40 -> 200 labels, evaluated on 100 human-labelled holdout items
    project = project_file(
        training={"min_steps": 200},
        loop={"initial": 40, "batch": 80, "budget": 1000, "min_new_labels": 20,
              "min_queued": 10},
        label_studio={"project_title": ls_project_title, "holdout": 100})
    result = CliRunner().invoke(main, ["init", "--config", str(project)])
    assert result.exit_code == 0 and "(created)" in result.output, result.output
    p = Project(project, ls_env)
    out = cycle(project)
    assert "bootstrap" in out and "pushed 100 holdout tasks" in out and "pushed 40 initial" in out
    accuracy, annotated = [], 0
    for round_ in (1, 2, 3):
        out = bot(project)
        annotated += int(out.split("annotated ")[1].split()[0])
        out = cycle(project)
        assert f"round {round_}: train" in out and "pushed 80 query tasks" in out, out
        with p.store() as store:
            accuracy.append(store.metrics.of_split("holdout")[round_]["accuracy"])
            assert store.annotations.count() == annotated == 140 + 80 * (round_ - 1)
    print("holdout accuracy per round:", accuracy)
    assert accuracy[-1] > accuracy[0], accuracy
    tasks = p.tasks()
    with p.store() as store:
        assert len(tasks) == len(store.tasks.by_item()) == 140 + 3 * 80
        assert len(store.batches.batched_ids()) == 140 + 3 * 80
        assert len({t.data["item_id"] for t in tasks}) == len(tasks)
        assert len(store.labels.current("holdout")) == 100
        assert len(store.labels.current("train")) == 40 + 2 * 80
        assert all(label == p.truth[i] for i, label in store.labels.current().items())
        assert [b["kind"] for b in store.batches.all()] == ["holdout", "initial", "query",
                                                            "query", "query"]
    # nothing new: the next cycle only pulls (no task changed, so no label either)
    out = cycle(project)
    assert re.search(r"^pulled \d+ updated tasks: 0 new labels$", out, re.M), out
    assert "nothing to do: 0 new labels since model t-r3" in out and "80 tasks waiting" in out
    result = CliRunner().invoke(main, ["status", "--config", str(project), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["round"]["round"] == 3 and status["round"]["status"] == "done"
    assert status["model_version"] == "t-r3"
    assert status["labels"] == {"train": 200, "holdout": 100}
    assert status["tasks_waiting"] == {"train": 80, "holdout": 0}
    assert status["annotations_since_training"] == 0
    assert status["holdout"]["accuracy"] == accuracy[-1] and status["holdout"]["round"] == 3
    assert status["last_pull"] and status["last_error"] is None and status["queues"] is None
    result = CliRunner().invoke(main, ["status", "--config", str(project)])
    assert "round 3: done" in result.output and "model: t-r3" in result.output


def test_two_annotators_disagree_then_a_third_decides(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    bot(project, "--accuracy", "1", "--accuracy", "0", "--limit", "10")  # always disagree
    out = cycle(project)
    assert "10 with disagreement" in out and "10 tied" in out, out
    with p.store() as store:
        assert store.labels.current() == {}
        ties = store.annotations.disagreements()
        assert len(ties) == 10 and all(resolved is None for _, resolved in ties.values())
        annotators = {a for i in ties for _, _, a in store.annotations.of_item(i)}
        assert len(annotators) == 2
    # bot-3 annotates the 10 tied tasks; bot-1 and bot-2 go on to the next 10 (new ties)
    bot(project, "--accuracy", "1", "--accuracy", "0", "--accuracy", "1", "--limit", "10")
    out = cycle(project)
    assert "10 new labels" in out and "10 tied" in out, out
    with p.store() as store:
        labels = store.labels.current()
        assert set(labels) == set(ties) and all(labels[i] == p.truth[i] for i in labels)
        decided = {i: d for i, d in store.annotations.disagreements().items() if i in ties}
        assert all(resolved == p.truth[i] and sum(votes.values()) == 3
                   for i, (votes, resolved) in decided.items())


def test_label_studio_serves_the_least_confident_task_first(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate()
    cycle(project)
    nxt = httpx.get(f"{ls_env.url}/api/projects/{p.project_id}/next",
                    headers={"Authorization": f"Token {ls_env.token}"}, timeout=30).json()
    with p.store() as store:
        query = [b for b in store.batches.all() if b["kind"] == "query"][0]
        confidence = store.batches.suggestions(query["batch_id"])
    least = min(confidence, key=lambda item: confidence[item][1])
    assert nxt["data"]["item_id"] == least
    assert nxt["predictions"][0]["model_version"] == f"{p.cfg.project.name}-r1"
    assert nxt["predictions"][0]["score"] == pytest.approx(confidence[least][1])


def test_kill_between_import_and_bookkeeping_creates_no_duplicate(project, ls_env):
    p = Project(project, ls_env)
    code, out = run_cycle_process(project, failpoint="push:imported")
    assert code == -signal.SIGKILL, out
    assert len(p.tasks()) == 60  # the holdout batch reached Label Studio, state missed it
    with p.store() as store:
        assert store.tasks.by_item() == {}
    out = cycle(project)
    assert "resuming the unfinished bootstrap round" in out, out
    tasks = p.tasks()
    with p.store() as store:
        assert len(tasks) == len(store.tasks.by_item()) == 100
        assert {t.id for t in tasks} == set(store.tasks.by_item().values())


@pytest.mark.parametrize("phase", ["train", "select"])
def test_kill_after_a_phase_resumes_the_round_without_redoing_it(project, ls_env, phase):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate()
    code, out = run_cycle_process(project, failpoint=f"after:{phase}")
    assert code == -signal.SIGKILL, out
    out = cycle(project)
    assert "resuming the unfinished train round" in out, out
    assert "trained" not in out  # the checkpoint of the killed run is used
    assert ("selected" in out) == (phase == "train"), out
    assert "pushed 40 query tasks" in out and "round 1 done" in out, out
    with p.store() as store:
        assert [r.status for r in store.rounds.all()] == ["done", "done"]
        assert len(store.batches.all(1)) == 1 and len(store.tasks.by_item()) == 140
    assert len(p.tasks()) == 140


def test_kill_between_pull_and_commit_loses_and_doubles_nothing(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    annotated = p.annotate(limit=30)
    code, out = run_cycle_process(project, failpoint="pull:fetched")
    assert code == -signal.SIGKILL, out
    with p.store() as store:
        assert store.labels.current() == {} and store.annotations.count() == 0
    out = cycle(project)
    assert re.search(r"^pulled \d+ updated tasks: 30 new labels$", out, re.M), out
    out = cycle(project)  # the same annotations are not counted again
    assert re.search(r"^pulled \d+ updated tasks: 0 new labels$", out, re.M), out
    with p.store() as store:
        labels = store.labels.current()
        assert len(labels) == annotated == store.annotations.count() == 30
        assert all(labels[i] == p.truth[i] for i in labels)


def test_bad_annotations_are_reported_and_never_become_labels(project, ls_env):
    p = Project(project, ls_env)
    cycle(project)
    tasks = {t.data["item_id"]: t for t in p.tasks()}
    items = sorted(tasks)
    client, cls = p.backend.client, p.cfg.classes
    unknown, cancelled, relabelled, tie, majority, deleted = items[:6]

    def truth(i):
        return cls[p.truth[i]]

    def other(i):
        return cls[(p.truth[i] + 1) % len(cls)]

    client.annotations.create(id=tasks[unknown].id, result=choice_result("Cat"))
    client.annotations.create(id=tasks[cancelled].id, result=choice_result(truth(cancelled)),
                              was_cancelled=True)
    first = client.annotations.create(id=tasks[relabelled].id,
                                      result=choice_result(other(relabelled)))
    client.annotations.create(id=tasks[tie].id, result=choice_result(truth(tie)))
    client.annotations.create(id=tasks[tie].id, result=choice_result(other(tie)))
    for label in (truth(majority), other(majority), truth(majority)):
        client.annotations.create(id=tasks[majority].id, result=choice_result(label))
    client.annotations.create(id=tasks[deleted].id, result=choice_result(truth(deleted)))
    out = cycle(project)
    assert f"task {tasks[unknown].id} (item {unknown}): label 'Cat' is not one of" in out
    assert "1 cancelled or skipped" in out and f"tie on item {tie}" in out, out
    with p.store() as store:
        labels = store.labels.current()
        assert unknown not in labels and cancelled not in labels and tie not in labels
        assert labels[relabelled] == (p.truth[relabelled] + 1) % len(cls)
        assert labels[majority] == p.truth[majority]
        votes, resolved = store.annotations.disagreements()[majority]
        assert resolved == p.truth[majority] and sum(votes.values()) == 3
        assert store.annotations.disagreements()[tie][1] is None
    # the annotator fixes a label, an admin deletes a task
    client.annotations.update(id=first.id, result=choice_result(truth(relabelled)))
    client.tasks.delete(id=tasks[deleted].id)
    out = cycle(project)
    assert "1 relabelled" in out, out
    assert f"task {tasks[deleted].id} (item {deleted}): task deleted in Label Studio" in out
    assert "'Cat'" not in out  # reported once, not on every pull
    with p.store() as store:
        assert store.labels.current()[relabelled] == p.truth[relabelled]
        history = store.labels.history(relabelled)
        assert [h[0] for h in history] == [(p.truth[relabelled] + 1) % len(cls),
                                           p.truth[relabelled]]
        assert deleted not in store.tasks.by_item()
        assert deleted in store.tasks.by_item(include_deleted=True)


def test_server_down_is_one_line_exit_1_and_state_untouched(project, ls_env, monkeypatch):
    p = Project(project, ls_env)
    cycle(project)
    p.annotate(limit=10)
    state = p.cfg.work_dir / "state.sqlite"
    before = _dump(state)
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:9")  # nothing listens there
    result = CliRunner().invoke(main, ["cycle", "--config", str(project)])
    assert result.exit_code == 1
    assert result.output.strip() == ("error: Label Studio at http://127.0.0.1:9 did not "
                                     "answer: connection refused")
    assert _dump(state) == before


def test_wrong_token_is_one_line_exit_1(project, ls_env, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-the-token")
    result = CliRunner().invoke(main, ["cycle", "--config", str(project)])
    assert result.exit_code == 1
    assert "refused the API token (HTTP 401)" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_second_cycle_while_one_runs_exits_0(project, ls_env):
    p = Project(project, ls_env)
    with p.store() as store:  # a live holder: this test's own process
        assert store.locks.try_take(CYCLE_LOCK, "someone", os.getpid(), os.uname().nodename,
                                    lambda h: False) is None
    out = cycle(project)
    assert "another cycle is running" in out, out
    with p.store() as store:
        assert store.batches.all() == []
        store.locks.release(CYCLE_LOCK, "someone")


def test_a_cycle_started_while_another_works_does_nothing(project, ls_env, tmp_path):
    """Two real processes: the first holds the lock and waits (a pause point, so the
    second surely starts while the first works); the second exits 0 without a change."""
    p = Project(project, ls_env)
    first = cycle_process(project, **{PAUSE_ENV: "cycle:locked", PAUSE_DIR_ENV: str(tmp_path)})
    reached = tmp_path / "cycle-locked.reached"
    deadline = time.monotonic() + 120
    while not reached.exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first cycle never took the lock"
        time.sleep(0.1)
    code, out = run_cycle_process(project)
    assert code == 0 and "another cycle is running" in out and "round 0" not in out, out
    with p.store() as store:
        assert store.batches.all() == []
    (tmp_path / "cycle-locked.go").touch()
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0 and "round 0 done" in out, out + err
    assert len(p.tasks()) == 100


def test_a_stale_lock_of_a_killed_cycle_is_taken_over(project, ls_env):
    p = Project(project, ls_env)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with p.store() as store:
        store.locks.try_take(CYCLE_LOCK, "gone", dead.pid, os.uname().nodename, lambda h: False)
    out = cycle(project)
    assert "took over the lock" in out and "round 0 done" in out, out
    with p.store() as store:
        assert store.locks.holder(CYCLE_LOCK) is None


def test_no_url_is_a_config_error(project_file, monkeypatch):
    monkeypatch.delenv("ACTIVELEARN_LS_URL", raising=False)
    result = CliRunner().invoke(main, ["cycle", "--config", str(project_file())])
    assert result.exit_code == 2
    assert "label_studio.url: not set" in result.output


def _dump(path: Path) -> list:
    """Every row of the tables that carry the project's work (not the lock)."""
    db = sqlite3.connect(path)
    try:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("items", "labels", "label_history", "rounds", "phases", "batches",
                          "tasks", "annotations", "meta")]
    finally:
        db.close()


def test_local_files_tasks_point_at_images_the_server_serves(project_file, ls_env,
                                                            ls_project_title):
    """image_mode local-files: tasks carry /data/local-files URLs, not pixels. The test
    server serves the session's files_root, so the images go there."""
    from PIL import Image

    root = ls_env.files_root
    folder = root / f"images-{ls_project_title}"
    folder.mkdir()
    for i in range(12):
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(folder / f"img{i:02d}.png")
    path = project_file(
        data={"source": "imagefolder", "root": str(folder), "image_size": [8, 8],
              "channels": 3},
        classes=["red", "dark"], loop={"initial": 4, "batch": 2, "budget": 8},
        label_studio={"project_title": ls_project_title, "holdout": 3,
                      "image_mode": "local-files", "document_root": str(root)})
    cycle(path)
    tasks = Project(path, ls_env).tasks()
    assert len(tasks) == 7
    image = tasks[0].data["image"]
    assert image.startswith(f"/data/local-files/?d=images-{ls_project_title}/img")
    served = httpx.get(ls_env.url + image, timeout=30,
                       headers={"Authorization": f"Token {ls_env.token}"})
    assert served.status_code == 200 and served.content[:4] == b"\x89PNG"


def test_local_files_without_image_files_is_a_config_error(project_file, ls_env,
                                                          ls_project_title, tmp_path):
    path = project_file(label_studio={"project_title": ls_project_title,
                                      "image_mode": "local-files",
                                      "document_root": str(tmp_path)})
    result = CliRunner().invoke(main, ["cycle", "--config", str(path)])
    assert result.exit_code == 2
    assert result.output.strip().endswith(
        "label_studio.image_mode: local-files needs image files, and the fashion-mnist "
        "source has none; use data-uri")
