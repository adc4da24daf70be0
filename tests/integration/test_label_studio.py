"""The Label Studio backend against a real server (the `label_studio` fixture)."""

from __future__ import annotations

import dataclasses
import socket

import httpx
import numpy as np
import pytest

from activelearn.annotation import Suggestion, TaskSpec
from activelearn.annotation.label_studio import annotations as annotations_module
from activelearn.annotation.label_studio import choice_result, image_data_uri
from activelearn.annotation.label_studio import client as client_module
from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.annotation.label_studio.projects import SAMPLING
from activelearn.errors import BackendAuthError, BackendError, BackendUnavailableError

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture
def backend(label_studio) -> LabelStudioBackend:
    return LabelStudioBackend.connect(label_studio.url, label_studio.token)


@pytest.fixture
def project(backend, ls_project_title) -> int:
    return backend.projects.ensure(ls_project_title, CLASSES, "Label the animal.")


def make_tasks(n: int, start: int = 0, round_: int = 1) -> list[TaskSpec]:
    rng = np.random.default_rng(start)
    tasks = []
    for i in range(start, start + n):
        image = rng.integers(0, 256, size=(1, 8, 8), dtype=np.uint8)
        confidence = 0.34 + 0.6 * (i % 10) / 10
        tasks.append(TaskSpec(
            item_id=f"item-{i}", image=image_data_uri(image), round=round_,
            strategy="margin", score=1 - confidence,
            suggestion=Suggestion(CLASSES[i % 3], confidence, "m1")))
    return tasks


def task_count(backend: LabelStudioBackend, project_id: int) -> int:
    return len(list(backend.client.tasks.list(project=project_id, fields="task_only")))


def test_ensure_project_finds_the_project_by_title(backend, ls_project_title):
    first = backend.projects.ensure(ls_project_title, CLASSES, "Label the animal.")
    again = backend.projects.ensure(ls_project_title, CLASSES, "Label the animal.")
    assert again == first
    project = backend.client.projects.get(id=first)
    assert project.sampling == SAMPLING
    assert project.expert_instruction == "Label the animal."
    assert all(f'"{name}"' in project.label_config for name in CLASSES)
    titled = [p for p in backend.client.projects.list() if p.title == ls_project_title]
    assert len(titled) == 1
    (view,) = backend.client.views.list(project=first)
    assert view.data["ordering"] == ["tasks:predictions_score"]


def test_ensure_project_refuses_a_project_with_other_classes(backend, project,
                                                             ls_project_title):
    with pytest.raises(BackendError, match=r"offers the classes \['cat', 'dog', 'bird'\]"):
        backend.projects.ensure(ls_project_title, ["cat", "dog"])


def test_push_creates_one_task_per_item_and_is_idempotent(backend, project, monkeypatch):
    # small id ranges read by 3 requests at once: the listing path of large projects
    monkeypatch.setattr(client_module, "PAGE_SIZE", 7)
    backend.workers = 3
    tasks = make_tasks(50)
    created = backend.tasks.push(project, tasks, chunk=20)
    assert sorted(created) == sorted(t.item_id for t in tasks)
    assert len(set(created.values())) == 50
    assert task_count(backend, project) == 50

    # a rerun after a crash between import and bookkeeping: nothing is imported twice
    again = backend.tasks.push(project, tasks + make_tasks(5, start=50), chunk=20)
    assert task_count(backend, project) == 55
    assert {k: again[k] for k in created} == created

    task = backend.client.tasks.get(id=created["item-7"])
    assert task.data["item_id"] == "item-7"
    assert task.data["round"] == 1 and task.data["strategy"] == "margin"
    assert task.data["image"].startswith("data:image/png;base64,")
    (prediction,) = task.predictions
    assert prediction.model_version == "m1"
    assert prediction.score == pytest.approx(0.34 + 0.6 * 0.7)
    assert prediction.result == choice_result("dog")


def test_set_model_version(backend, project):
    tasks = [dataclasses.replace(t, suggestion=Suggestion("cat", 0.5, "r3")) for t in make_tasks(2)]
    backend.tasks.push(project, tasks)
    backend.projects.set_model_version(project, "r3")
    assert backend.client.projects.get(id=project).model_version == "r3"


def next_task_item(label_studio, project_id: int) -> str:
    """The item Label Studio's labelling stream serves the (only) annotator next."""
    answer = httpx.get(f"{label_studio.url}/api/projects/{project_id}/next/",
                       headers={"Authorization": f"Token {label_studio.token}"}, timeout=60)
    answer.raise_for_status()
    return answer.json()["data"]["item_id"]


def test_the_least_confident_task_is_served_first(label_studio, backend, project):
    tasks = make_tasks(10)[::-1]  # the least confident (item-0) gets the highest task id
    ids = backend.tasks.push(project, tasks)
    backend.projects.set_model_version(project, "m1")
    assert next_task_item(label_studio, project) == "item-0"
    annotate(backend, ids["item-0"], choice_result("cat"))
    assert next_task_item(label_studio, project) == "item-1"


def annotate(backend, task_id: int, result, **kwargs) -> int:
    return backend.client.annotations.create(id=task_id, result=result, **kwargs).id


def test_pull_returns_valid_annotations_and_rejects_bad_ones(backend, project, monkeypatch):
    monkeypatch.setattr(client_module, "PAGE_SIZE", 3)
    backend.workers = 2
    ids = backend.tasks.push(project, make_tasks(10))
    valid = {f"item-{i}": CLASSES[(i + 1) % 3] for i in range(5)}
    for item_id, label in valid.items():
        annotate(backend, ids[item_id], choice_result(label), lead_time=2.5)
    annotate(backend, ids["item-5"], [], was_cancelled=True)
    unknown = annotate(backend, ids["item-6"], choice_result("horse"))
    two = [{**choice_result("cat")[0],
            "value": {"choices": ["cat", "dog"]}}]
    malformed = annotate(backend, ids["item-7"], two)

    pulled = backend.annotations.pull(project, CLASSES)
    got = {a.item_id: a.label_name for a in pulled.annotations}
    assert got == valid
    first = next(a for a in pulled.annotations if a.item_id == "item-0")
    assert first.label == CLASSES.index(valid["item-0"])
    assert first.lead_time == 2.5 and first.annotator and first.task_id == ids["item-0"]
    assert pulled.cancelled == 1
    reasons = {r.annotation_id: (r.task_id, r.reason) for r in pulled.rejected}
    assert reasons[unknown] == (ids["item-6"],
                                "label 'horse' is not one of the configured classes")
    assert reasons[malformed][0] == ids["item-7"]
    assert "expected one chosen class" in reasons[malformed][1]
    assert len(pulled.rejected) == 2
    assert pulled.tasks_seen == 10  # the first pull reads every task

    nothing = backend.annotations.pull(project, CLASSES, since=pulled.cursor)
    assert (nothing.annotations, nothing.rejected, nothing.tasks_seen) == ([], [], 0)
    assert nothing.cursor == pulled.cursor


def test_pull_after_a_relabel_returns_only_the_changed_annotation(backend, project,
                                                                 monkeypatch):
    monkeypatch.setattr(annotations_module, "PULL_OVERLAP", 0.0)  # the overlap: the next test
    ids = backend.tasks.push(project, make_tasks(3))
    annotation = annotate(backend, ids["item-0"], choice_result("cat"))
    annotate(backend, ids["item-1"], choice_result("dog"))
    cursor = backend.annotations.pull(project, CLASSES).cursor

    backend.client.annotations.update(id=annotation, result=choice_result("bird"))
    pulled = backend.annotations.pull(project, CLASSES, since=cursor)
    assert [(a.item_id, a.annotation_id, a.label_name) for a in pulled.annotations] == [
        ("item-0", annotation, "bird")]
    assert pulled.cursor > cursor


def test_a_pull_reads_the_overlap_again_and_survives_a_clock_step_back(backend, project):
    ids = backend.tasks.push(project, make_tasks(3))
    annotate(backend, ids["item-0"], choice_result("cat"))
    cursor = backend.annotations.pull(project, CLASSES).cursor
    annotate(backend, ids["item-1"], choice_result("dog"))
    again = backend.annotations.pull(project, CLASSES, since=cursor)
    # item-0 was updated within PULL_OVERLAP before the cursor: read again (harmless)
    assert {a.item_id for a in again.annotations} == {"item-0", "item-1"}
    # a cursor ahead of every update (the server's clock stepped back): everything, once
    ahead = backend.annotations.pull(project, CLASSES, since="2099-01-01T00:00:00.000000Z")
    assert {a.item_id for a in ahead.annotations} == {"item-0", "item-1"}
    assert ahead.cursor == again.cursor and ahead.tasks_seen == 3


def test_pull_of_an_empty_project(backend, project):
    pulled = backend.annotations.pull(project, CLASSES)
    assert (pulled.annotations, pulled.cursor) == ([], "")


def test_wrong_token_is_a_clear_error(label_studio):
    with pytest.raises(BackendAuthError, match="refused the API token"):
        LabelStudioBackend.connect(label_studio.url, "not-the-token")


def test_unreachable_server_is_a_one_line_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(BackendUnavailableError) as caught:
        LabelStudioBackend.connect(url, "any-token")
    assert str(caught.value) == f"Label Studio at {url} did not answer: connection refused"
