"""The bot annotator against a real Label Studio server (the `label_studio` fixture)."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from activelearn.annotation import TaskSpec
from activelearn.annotation.bot import annotate_open_tasks
from activelearn.annotation.label_studio import choice_result, image_data_uri
from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.cli import main
from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.data.sources import load_source
from activelearn.loop.project import init_project
from activelearn.state import Store

CLASSES = ["cat", "dog", "bird"]
IMAGE = image_data_uri(np.zeros((1, 4, 4), dtype=np.uint8))


@pytest.fixture
def backend(label_studio) -> LabelStudioBackend:
    return LabelStudioBackend.connect(label_studio.url, label_studio.token)


@pytest.fixture
def project(backend, ls_project_title) -> int:
    return backend.projects.ensure(ls_project_title, CLASSES)


def push(backend, project_id: int, item_ids: list[str]) -> dict[str, int]:
    return backend.tasks.push(project_id, [TaskSpec(item_id=i, image=IMAGE, round=0,
                                              strategy="random") for i in item_ids])


def truth_of(n: int) -> dict[str, int]:
    return {f"item-{i}": i % len(CLASSES) for i in range(n)}


def pulled(backend, project_id: int, classes=CLASSES) -> dict[tuple[str, str], int]:
    """(annotator, item id) -> label of every annotation of the project."""
    result = backend.annotations.pull(project_id, classes)
    out = {(a.annotator, a.item_id): a.label for a in result.annotations}
    assert len(out) == len(result.annotations), "an annotator annotated a task twice"
    return out


def test_a_perfect_bot_annotates_every_open_task_once(backend, project):
    truth = truth_of(12)
    ids = push(backend, project, list(truth))
    # a person's annotation neither stops the bot nor counts as the bot's
    backend.client.annotations.create(id=ids["item-0"], result=choice_result("dog"))

    first = annotate_open_tasks(backend, project, truth, CLASSES, [1.0], seed=3)
    (bot,) = first.annotators
    assert (first.tasks, bot.annotated, bot.wrong, bot.already) == (12, 12, 0, 0)
    labels = pulled(backend, project)
    assert {item: label for (who, item), label in labels.items()
            if who == str(bot.user_id)} == truth
    assert len(labels) == 13

    again = annotate_open_tasks(backend, project, truth, CLASSES, [1.0], seed=3)
    assert (again.annotators[0].annotated, again.annotators[0].already) == (0, 12)
    assert again.annotators[0].user_id == bot.user_id
    assert len(pulled(backend, project)) == 13


def test_two_annotators_are_distinct_users_with_their_own_accuracy(backend, project):
    truth = truth_of(100)
    push(backend, project, list(truth))
    report = annotate_open_tasks(backend, project, truth, CLASSES, [1.0, 0.5], seed=7)
    good, noisy = report.annotators
    assert good.user_id != noisy.user_id
    assert backend.client.users.whoami().id not in (good.user_id, noisy.user_id)
    assert (good.annotated, good.wrong, noisy.annotated) == (100, 0, 100)
    assert 30 <= noisy.wrong <= 70  # binomial(100, 0.5): 50 +- 5

    labels = pulled(backend, project)
    by_user = Counter(who for who, _ in labels)
    assert by_user == {str(good.user_id): 100, str(noisy.user_id): 100}
    wrong = {who: sum(labels[(who, item)] != label for item, label in truth.items())
             for who in by_user}
    assert wrong == {str(good.user_id): 0, str(noisy.user_id): noisy.wrong}


def test_tasks_without_ground_truth_are_skipped_and_the_limit_holds(backend, project):
    truth = truth_of(5)
    push(backend, project, [*truth, "stray-1", "stray-2"])
    first = annotate_open_tasks(backend, project, truth, CLASSES, [0.8], limit=3).annotators[0]
    assert (first.annotated, first.no_truth, first.left) == (3, 2, 2)
    rest = annotate_open_tasks(backend, project, truth, CLASSES, [0.8]).annotators[0]
    assert (rest.annotated, rest.already, rest.no_truth, rest.left) == (2, 3, 2, 0)
    assert {item for _, item in pulled(backend, project)} == set(truth)


def test_following_overlap_the_bots_share_the_tasks_as_label_studio_asks(backend, project):
    truth = truth_of(12)
    ids = push(backend, project, list(truth))
    doubled = [ids[f"item-{i}"] for i in range(4)]
    backend.tasks.set_overlap(doubled, 2)
    # a person already annotated one of the doubled tasks: one bot annotation is missing
    backend.client.annotations.create(id=ids["item-0"], result=choice_result("cat"))

    report = annotate_open_tasks(backend, project, truth, CLASSES, [1.0, 1.0],
                                 follow_overlap=True)
    first, second = report.annotators
    # 8 tasks of overlap 1 + 3 of overlap 2 + 1 of overlap 2 already half done = 15
    assert first.annotated + second.annotated == 15
    assert abs(first.annotated - second.annotated) <= 1
    assert first.others + second.others == 2 * 12 - 15  # the slots left to the other bot
    per_task = Counter(item for _, item in pulled(backend, project))
    assert per_task == {item: 2 if int(item.split("-")[1]) < 4 else 1 for item in truth}
    result = backend.annotations.pull(project, CLASSES)
    assert result.open_tasks == {task: False for task in ids.values()}

    again = annotate_open_tasks(backend, project, truth, CLASSES, [1.0, 1.0],
                                follow_overlap=True)
    assert sum(a.annotated for a in again.annotators) == 0


def test_a_pull_tells_which_tasks_label_studio_still_serves(backend, project):
    truth = truth_of(3)
    ids = push(backend, project, list(truth))
    backend.tasks.set_overlap([ids["item-1"]], 2)
    backend.client.annotations.create(id=ids["item-0"], result=choice_result("cat"))
    backend.client.annotations.create(id=ids["item-1"], result=choice_result("dog"))
    result = backend.annotations.pull(project, CLASSES)
    assert result.open_tasks == {ids["item-0"]: False, ids["item-1"]: True,
                                 ids["item-2"]: True}


def _bot(path, *args: str):
    return CliRunner().invoke(main, ["bot", "--config", str(path), *args])


def test_bot_command_annotates_a_linked_fashion_mnist_project(
        label_studio, backend, ls_project_title, project_file, monkeypatch, tmp_path):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    path = project_file(label_studio={"url": label_studio.url,
                                      "project_title": ls_project_title})
    cfg = load_config(path)
    store = Store(tmp_path / "work" / "state.sqlite")
    linked = init_project(backend, store, ls_project_title, list(FASHION_MNIST_CLASSES), "")
    store.close()
    pool = load_source(cfg.data, cfg.classes)
    push(backend, linked.project_id, [*pool.item_ids[:6], "not-in-the-pool"])

    first = _bot(path, "--noise", "0")
    assert first.exit_code == 0, first.output
    assert f"Label Studio project {linked.project_id}: 7 tasks" in first.output
    assert ": annotated 6 (0 wrong on purpose), 0 already done, 1 without ground truth" \
        in first.output
    labels = {item: label for (_, item), label
              in pulled(backend, linked.project_id, FASHION_MNIST_CLASSES).items()}
    assert labels == {i: int(label) for i, label in zip(pool.item_ids[:6], pool.labels[:6])}

    again = _bot(path)
    assert again.exit_code == 0 and ": annotated 0 (0 wrong on purpose), 6 already done" \
        in again.output


def test_bot_command_without_a_project_says_run_init(label_studio, backend, ls_project_title,
                                                    project_file, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    path = project_file(label_studio={"url": label_studio.url,
                                      "project_title": ls_project_title})
    res = _bot(path)
    assert res.exit_code == 1
    assert res.output.strip() == (f"error: no Label Studio project {ls_project_title!r} at "
                                  f"{label_studio.url}; run activelearn init")
    both = _bot(path, "--noise", "0.1", "--accuracy", "0.9")
    assert both.exit_code == 2 and "give --noise or --accuracy, not both" in both.output

    # no state linking a project: the project with the title is the one
    project_id = backend.projects.ensure(ls_project_title, list(FASHION_MNIST_CLASSES))
    found = _bot(path)
    assert found.exit_code == 0, found.output
    assert f"Label Studio project {project_id}: 0 tasks" in found.output


def test_bot_lead_times_come_back_by_class_into_state_and_report(project_file, ls_env,
                                                                 ls_project_title, tmp_path):
    path = project_file(
        loop={"initial": 20, "batch": 20, "budget": 200, "min_new_labels": 1000,
              "min_queued": 0},
        training={"epochs": 1, "min_steps": 1, "batch_size": 32, "threads": 2},
        label_studio={"project_title": ls_project_title, "holdout": 10})
    cfg = load_config(path)

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, [*args, "--config", str(path)])
        assert result.exit_code == 0, result.output
        return result.output

    run("cycle", "--no-progress")  # pushes the holdout and the first batch
    pool = load_source(cfg.data, cfg.classes)
    truth = dict(zip(pool.item_ids, pool.labels.tolist()))
    with Store.open(cfg.work_dir / "state.sqlite", readonly=True) as store:
        annotated = Counter(truth[item] for item in store.tasks.by_item())
    assert sum(annotated.values()) == 30
    # Trouser by name (any case), T-shirt/top by index, every other class the default
    run("bot", "--seconds", "trouser=30", "--seconds", "0=2.5", "--seconds-default", "8")
    run("cycle", "--no-progress")  # pulls them
    trouser = FASHION_MNIST_CLASSES.index("Trouser")
    with Store.open(cfg.work_dir / "state.sqlite", readonly=True) as store:
        found = store.annotations.class_lead_times()
    seconds = {k: 30.0 if k == trouser else 2.5 if k == 0 else 8.0 for k in annotated}
    assert {0, trouser} < set(annotated)  # each kind of --seconds was used
    assert found == {k: [seconds[k]] * n for k, n in annotated.items()}

    run("report", "--out", str(tmp_path / "report"))
    with (tmp_path / "report" / "class_lead_times.csv").open(newline="") as f:
        rows = {int(r["class_index"]): r for r in csv.DictReader(f)}
    assert {k: (int(r["annotations"]), float(r["median_lead_time_s"]))
            for k, r in rows.items()} == {k: (n, seconds[k]) for k, n in annotated.items()}
    assert rows[next(iter(annotated))]["class"] in FASHION_MNIST_CLASSES
