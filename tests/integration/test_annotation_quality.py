"""Annotation quality against a real Label Studio server: overlap (several annotators per
task, Label Studio's maximum_annotations and task overlap) and gold items."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.sources import load_source
from activelearn.state import Store

QUICK_TRAINING = {"epochs": 1, "min_steps": 1, "batch_size": 32, "lr": 0.05, "threads": 2}


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def status(path: Path) -> dict:
    return json.loads(run("status", "--config", str(path), "--json"))


def test_overlap_gives_each_task_two_annotators_and_kappa(project_file, ls_env,
                                                          ls_project_title):
    path = project_file(
        loop={"initial": 30, "batch": 30, "budget": 200, "min_new_labels": 1000,
              "min_queued": 0},
        training=QUICK_TRAINING,
        label_studio={"project_title": ls_project_title, "holdout": 10, "overlap": 2,
                      "holdout_overlap": 1})
    cfg = load_config(path)
    run("cycle", "--config", str(path), "--no-progress")
    backend = LabelStudioBackend.connect(ls_env.url, ls_env.token)
    with _open(cfg) as store:
        project_id = int(store.meta.get("label_studio_project_id") or 0)
        tasks = store.tasks.by_item()
        holdout = set(store.labels.current("holdout")) | {
            i for i, s in store.items.splits().items() if s == "holdout"}
    project = backend.client.projects.get(id=project_id)
    assert project.maximum_annotations == 2 and project.overlap_cohort_percentage == 100
    overlaps = {item_id: backend.tasks.overlap(task_id) for item_id, task_id in tasks.items()}
    assert {overlaps[i] for i in overlaps if i in holdout} == {1}
    assert {overlaps[i] for i in overlaps if i not in holdout} == {2}

    run("bot", "--config", str(path), "--accuracy", "1", "--accuracy", "0.5")
    run("cycle", "--config", str(path), "--no-progress")
    with _open(cfg) as store:
        assert all(len(store.annotations.of_item(i)) == 2 for i in tasks)
    agreement = status(path)["agreement"]
    people = {a["annotator"]: a for a in agreement["annotators"]}
    first, second = bot_users(backend)  # annotators are stored by Label Studio user id
    assert set(people) == {first, second}
    assert people[first]["annotations"] == people[second]["annotations"] == len(tasks)
    # with two annotators, agreement with "the others" is their pairwise agreement
    assert people[first]["agreement"] == people[second]["agreement"] < 0.8
    (pair,) = agreement["pairwise_kappa"]
    assert pair["items"] == len(tasks) and 0.2 < pair["kappa"] < 0.8
    assert agreement["fleiss_kappa"]["raters"] == 2 and agreement["fleiss_kappa"]["kappa"] < 0.8
    human = run("status", "--config", str(path))
    pair_line = "Cohen's kappa {} / {}".format(*sorted([first, second]))
    assert pair_line in human and "Fleiss' kappa" in human


def test_gold_items_score_the_annotators_and_keep_their_label(project_file, ls_env,
                                                              ls_project_title, tmp_path):
    path = project_file(
        loop={"initial": 20, "batch": 80, "budget": 400, "min_new_labels": 1000,
              "min_queued": 1000},
        training=QUICK_TRAINING,
        label_studio={"project_title": ls_project_title, "holdout": 0})
    cfg = load_config(path)
    pool = load_source(cfg.data, cfg.classes)
    truth = dict(zip(pool.item_ids, pool.labels.tolist()))
    train_ids = [i for i, test in zip(pool.item_ids, pool.is_test.tolist()) if not test]
    gold = {i: truth[i] for i in train_ids[::7][:40]}
    gold_file = tmp_path / "gold.csv"
    gold_file.write_text("item_id,label\n" + "".join(
        f"{i},{cfg.classes[label]}\n" for i, label in gold.items()))
    text = path.read_text() + f"quality:\n  gold_file: {gold_file}\n  gold_rate: 0.5\n"
    path.write_text(text)

    run("cycle", "--config", str(path), "--no-progress")  # bootstrap: no gold
    out = run("cycle", "--config", str(path), "--no-progress")  # top-up: half gold
    assert "mixed 40 gold items" in out, out
    backend = LabelStudioBackend.connect(ls_env.url, ls_env.token)
    with _open(cfg) as store:
        project_id = int(store.meta.get("label_studio_project_id") or 0)
        assert set(gold) <= set(store.tasks.by_item())
    for task in backend.client.tasks.list(project=project_id, fields="all"):
        assert task.data["kind"] in ("initial", "query")  # no hint that a task is gold

    run("bot", "--config", str(path), "--accuracy", "0.95", "--accuracy", "0.6")
    run("cycle", "--config", str(path), "--no-progress")
    with _open(cfg) as store:
        labels = store.labels.current()
        assert all(labels[i] == label for i, label in gold.items())
        assert all(len(store.annotations.of_item(i)) == 2 for i in gold)
        # the annotators got some gold items wrong, yet the trusted label stayed
        assert any(lab != gold[i] for i in gold for _, lab, _ in store.annotations.of_item(i))
    people = {a["annotator"]: a for a in status(path)["agreement"]["annotators"]}
    good, poor = (people[user] for user in bot_users(backend))
    assert good["gold_items"] == poor["gold_items"] == 40
    print("gold accuracy:", good["gold_accuracy"], poor["gold_accuracy"])
    assert good["gold_accuracy"] >= 0.85 and poor["gold_accuracy"] <= 0.75
    assert good["gold_accuracy"] - poor["gold_accuracy"] >= 0.2


def test_relabel_fraction_asks_for_another_annotation_of_ties(project_file, ls_env,
                                                               ls_project_title):
    path = project_file(
        loop={"initial": 20, "batch": 20, "budget": 200, "min_new_labels": 1000,
              "min_queued": 1000},  # every cycle a top-up: no training needed
        training=QUICK_TRAINING,
        label_studio={"project_title": ls_project_title, "holdout": 0, "overlap": 2},
        quality={"relabel_fraction": 0.5})
    cfg = load_config(path)
    pool = load_source(cfg.data, cfg.classes)
    truth = dict(zip(pool.item_ids, pool.labels.tolist()))
    run("cycle", "--config", str(path), "--no-progress")  # bootstrap: 20 initial tasks
    # an always-right and an always-wrong annotator: every task both do is a tie
    run("bot", "--config", str(path), "--accuracy", "1", "--accuracy", "0", "--limit", "6")
    out = run("cycle", "--config", str(path), "--no-progress")
    assert "asked for another annotation of 6 disputed items" in out, out
    assert "raised the overlap of 6 disputed tasks by one" in out, out
    backend = LabelStudioBackend.connect(ls_env.url, ls_env.token)
    with _open(cfg) as store:
        tasks = store.tasks.by_item()
        tied = [i for i, (_, label) in store.annotations.disagreements().items()
                if label is None]
        assert len(tied) == 6 and not set(tied) & set(store.labels.current())
        asked = store.relabels.all()
        assert sorted(i for i, *_ in asked) == sorted(tied)
        assert len(store.batches.items(store.batches.all()[-1]["batch_id"])) == 20 - 6
    for item_id in tied:
        task = backend.client.tasks.get(id=str(tasks[item_id]))
        assert task.overlap == 3 and not task.is_labeled  # served again by Label Studio
    untouched = next(i for i in tasks if i not in tied)
    assert backend.tasks.overlap(tasks[untouched]) == 2

    out = run("cycle", "--config", str(path), "--no-progress")  # no new annotation yet
    assert "disputed" not in out, out
    with _open(cfg) as store:
        assert len(store.relabels.all()) == 6

    # a third annotator (right) takes the tied tasks: bot-1 and bot-2 go on to 6 others
    run("bot", "--config", str(path), "--accuracy", "1", "--accuracy", "0",
        "--accuracy", "1", "--limit", "6")
    run("cycle", "--config", str(path), "--no-progress")
    with _open(cfg) as store:
        labels, disputes = store.labels.current(), store.annotations.disagreements()
        for item_id in tied:
            assert len(store.annotations.of_item(item_id)) == 3
            assert labels[item_id] == truth[item_id]
            assert sorted(disputes[item_id][0].values()) == [1, 2]


def bot_users(backend: LabelStudioBackend) -> list[str]:
    """The Label Studio user ids of bot-1 and bot-2, as annotations record them."""
    return [str(backend.annotators.ensure_annotator(f"bot-{k}@activelearn.invalid"))
            for k in (1, 2)]


class _open:
    def __init__(self, cfg) -> None:
        self.store = Store(cfg.work_dir / "state.sqlite")

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.close()
