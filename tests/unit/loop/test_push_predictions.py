"""label_studio.show_predictions (loop.push): query tasks carry the model's suggestion as
a Label Studio prediction, or with show_predictions false only the score in their data.
No Label Studio server: a backend that records what it is sent (a real server's side is
in integration/test_show_predictions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from activelearn.annotation import TaskSpec
from activelearn.annotation.label_studio.formats import task_json
from activelearn.config import config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.kinds import UNKNOWN_LABEL, BatchKind, Split
from activelearn.loop.push import TaskPusher
from activelearn.state import Store

CLASSES = ["a", "b", "c"]


class RecordingTasks:
    """Takes a push and numbers its tasks; records the specs."""

    def __init__(self) -> None:
        self.specs: list[TaskSpec] = []

    def keys(self, project_id: int) -> dict[str, int]:
        return {}

    def push(self, project_id: int, specs: list[TaskSpec], chunk: int,
             listed: dict[str, int]) -> dict[str, int]:
        self.specs += specs
        return {s.key: 100 + len(self.specs) - len(specs) + k for k, s in enumerate(specs)}

    def set_overlap(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("overlap 1: no task needs another overlap")


class RecordingProjects:
    """Records the model versions."""

    def __init__(self) -> None:
        self.model_versions: list[str] = []

    def set_model_version(self, project_id: int, version: str) -> None:
        self.model_versions.append(version)


class RecordingBackend:
    """A backend that records what a push sends it."""

    url = "http://label-studio.invalid"

    def __init__(self) -> None:
        self.tasks = RecordingTasks()
        self.projects = RecordingProjects()

    @property
    def specs(self) -> list[TaskSpec]:
        return self.tasks.specs

    @property
    def model_versions(self) -> list[str]:
        return self.projects.model_versions


def pushed(tmp_path: Path, show: bool | None) -> RecordingBackend:
    """Push one query batch of three items with the model's suggestions."""
    section = {} if show is None else {"show_predictions": show}
    cfg = config_from_dict({"project": {"name": "t"}, "classes": CLASSES,
                            "data": {"source": "fashion-mnist"}, "label_studio": section},
                           source="project.yaml")
    n = 3
    pool = Pool(item_ids=[f"i{k}" for k in range(n)],
                images=torch.zeros((n, 1, 2, 2), dtype=torch.uint8),
                labels=np.full(n, UNKNOWN_LABEL, dtype=np.int64),
                is_test=np.zeros(n, dtype=bool), class_names=CLASSES)
    backend = RecordingBackend()
    with Store.open(tmp_path / "state.sqlite") as store:
        store.items.add([(f"i{k}", k, None, Split.TRAIN.value) for k in range(n)])
        store.batches.add(1, BatchKind.QUERY, "margin", 0, "m-r1",
                          [("i2", 0.9), ("i0", 0.5), ("i1", 0.25)],
                          [("i2", 1, 0.4), ("i0", 2, 0.6), ("i1", 0, 0.8)])
        TaskPusher(cfg, store, backend, pool, 7, print).push(1)  # type: ignore[arg-type]
    return backend


@pytest.mark.parametrize("show", [None, True])
def test_by_default_query_tasks_carry_the_suggestion_as_a_prediction(tmp_path, show):
    backend = pushed(tmp_path, show)
    tasks = {s.item_id: task_json(s) for s in backend.specs}
    assert tasks["i2"]["data"]["score"] == 0.9
    assert tasks["i2"]["predictions"] == [{"model_version": "m-r1", "score": 0.4, "result": [
        {"from_name": "label", "to_name": "image", "type": "choices",
         "value": {"choices": ["b"]}}]}]
    assert backend.model_versions == ["m-r1"]  # uncertainty sampling ranks by it


def test_without_predictions_tasks_keep_the_score_and_carry_no_suggestion(tmp_path):
    backend = pushed(tmp_path, False)
    tasks = {s.item_id: task_json(s) for s in backend.specs}
    assert {i: t["data"]["score"] for i, t in tasks.items()} == {"i2": 0.9, "i0": 0.5,
                                                                 "i1": 0.25}
    assert all("predictions" not in t for t in tasks.values())
    # Label Studio refuses a model version no prediction carries: none is set
    assert backend.model_versions == []
