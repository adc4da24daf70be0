"""Annotation cost against a real Label Studio server: loop.batch auto sizes a round's
batch from the throughput the pulled annotations show, and label_studio.show_predictions
false pushes the score without a pre-filled suggestion."""

from __future__ import annotations

import re

import pytest

from support.loop import Project, bot, cycle

QUICK_TRAINING = {"epochs": 1, "min_steps": 1, "batch_size": 32, "threads": 2}


@pytest.fixture
def project(project_file, ls_project_title):
    return project_file(
        loop={"initial": 20, "batch": "auto", "budget": 400, "min_new_labels": 20,
              "min_queued": 0, "max_queue_hours": 8},
        training=QUICK_TRAINING,
        label_studio={"project_title": ls_project_title, "holdout": 10,
                      "show_predictions": False})


def test_auto_batch_from_throughput_pushed_without_predictions(project, ls_env):
    p = Project(project, ls_env)
    first = cycle(project)
    assert "batch auto" not in first  # the bootstrap: holdout and loop.initial
    bot(project)  # 30 annotations in a few seconds: 30 items per active (clock) hour
    out = cycle(project)
    found = re.search(r"batch auto: (\d+) items = 20 new labels to retrain \+ (\d+) items/h "
                      r"x ([\d.]+) h of training - 0 still queued", out)
    assert found, out
    size, rate, hours = int(found[1]), int(found[2]), float(found[3])
    assert rate in (30, 15)  # 15: the bot's seconds straddled the turn of an hour
    # the round's own training time so far: seconds, so the retrain trigger dominates
    assert hours < 0.1 and 21 <= size <= 20 + rate * 0.1 + 1
    tasks = p.tasks()
    query = [t for t in tasks if t.data.get("kind") == "query"]
    assert len(query) == size and len(tasks) == 30 + size
    # no suggestion pre-filled, but the score to sort on
    assert all(not t.predictions for t in tasks)
    assert all(isinstance(t.data["score"], float) for t in query)
    with p.store() as store:  # the suggestions are kept for the report's model agreement
        (batch,) = [b for b in store.batches.all() if b["kind"] == "query"]
        assert len(store.batches.suggestions(batch["batch_id"])) == size
