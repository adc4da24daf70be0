"""strategy.cost_weighted through the jobs: the controller puts each class's expected
seconds (from the lead times in state) into the select job's payload, and the select job,
which never reads state, ranks with them. strategy auto: the controller names the round's
strategy in the payload and the result."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest

from activelearn.config import load_config
from activelearn.jobs.executor import InlineExecutor
from activelearn.jobs.kinds import get_kind
from activelearn.jobs.kinds.select import class_seconds, score_and_select, select_payload
from activelearn.jobs.resident import WorkerCache
from activelearn.kinds import Split
from activelearn.project import Project
from activelearn.state import AnnotationRow, Store
from support.jobs import controller_step, trained

CLASSES = 10


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "state.sqlite")
    s.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(6)])
    yield s
    s.close()


def annotate(store: Store, rows: list[tuple[int, int, float | None]]) -> None:
    """(item, label, lead time) annotations, each item its own task."""
    pulled = [AnnotationRow(k + 1, 100 + item, f"img{item}", label, "a", seconds,
                            f"2026-11-28T10:0{k}:00") for k, (item, label, seconds) in
              enumerate(rows)]
    store.annotations.apply_pull(1, {100 + i: f"img{i}" for i, _, _ in rows}, pulled, [],
                                 "cursor", "c")


def select(payload: dict, progress) -> dict:
    """The select job, run here."""
    return get_kind("select").run(payload, progress, WorkerCache())


def shards(project: Project, probs: np.ndarray) -> list[dict]:
    """One published score shard of these probs over candidate positions 0..n-1."""
    artifacts = project.artifacts
    buffer = io.BytesIO()
    np.save(buffer, np.arange(len(probs), dtype=np.int64))
    positions = artifacts.publish_content("scores/v", buffer.getvalue(), ".npy")
    artifacts.publish("scores/v/shard-0.npz", lambda tmp: np.savez(tmp, probs=probs))
    return [{"positions": positions, "out": "scores/v/shard-0.npz"}]


def probs_of(predicted: list[int]) -> np.ndarray:
    """Equally uncertain rows (margin 0.9) predicting these classes."""
    out = np.full((len(predicted), CLASSES), 0.1 / (CLASSES - 2), dtype=np.float32)
    for k, c in enumerate(predicted):
        out[k, c], out[k, (c + 1) % CLASSES] = 0.5, 0.4
    return out


def test_the_class_seconds_travel_in_the_payload_and_the_job_ranks_by_them(
        project_file, store) -> None:
    cfg = load_config(project_file(strategy={"name": "margin", "cost_weighted": True}))
    # class 3 took 20 s a label (median of 30, 20, 10), class 5 took 2 s; the others
    # have no lead time and get the median over all (10)
    annotate(store, [(0, 3, 30.0), (1, 3, 20.0), (2, 3, 10.0), (3, 5, 2.0), (4, 5, 2.0),
                     (5, 1, None)])
    project = Project(cfg)
    published = shards(project, probs_of([3, 3, 5, 5, 7, 7]))
    payload = json.loads(json.dumps(select_payload(project, store, 4, 0, published, [])))
    assert payload["class_seconds"] == [10.0, 10.0, 10.0, 20.0, 10.0, 2.0, 10.0, 10.0,
                                        10.0, 10.0]
    result = select(payload, lambda done: None)
    assert result["cost_weighted"] is True
    # equal informativeness: the 2 s class first, then the 10 s one; the 20 s last
    assert result["labels"] == [5, 5, 7, 7]
    assert np.allclose(result["scores"], [0.9 / 2, 0.9 / 2, 0.9 / 10, 0.9 / 10])

    plain = select({**payload, "class_seconds": None}, lambda done: None)
    assert plain["cost_weighted"] is False and np.allclose(plain["scores"], 0.9)


def test_no_lead_times_means_no_weighting_and_says_so(project_file, store, caplog) -> None:
    cfg = load_config(project_file(strategy={"name": "margin", "cost_weighted": True}))
    annotate(store, [(0, 3, None)])
    with caplog.at_level(logging.WARNING):
        assert class_seconds(cfg, store) is None
    assert "no annotation has a lead time yet; ranking by margin's score alone" in caplog.text
    project = Project(cfg)
    published = shards(project, probs_of([3, 5, 7]))
    payload = select_payload(project, store, 2, 0, published, [])
    assert payload["class_seconds"] is None
    assert select(payload, lambda done: None)["cost_weighted"] is False


def test_without_cost_weighting_the_payload_carries_no_seconds(project_file, store) -> None:
    cfg = load_config(project_file())
    annotate(store, [(0, 3, 30.0)])
    project = Project(cfg)
    assert select_payload(project, store, 2, 0, shards(project, probs_of([3, 5])), [])[
        "class_seconds"] is None


def test_auto_weights_by_cost_only_in_the_rounds_of_a_scoring_strategy(project_file,
                                                                      store) -> None:
    """strategy auto with cost_weighted: typiclust's rounds (no per-item score) carry no
    seconds; margin's do."""
    cfg = load_config(project_file(strategy={"name": "auto", "cost_weighted": True}))
    annotate(store, [(0, 3, 30.0), (1, 5, 2.0)])
    project = Project(cfg)
    published = shards(project, probs_of([3, 5, 7]))
    early = select_payload(project, store, 2, 0, published, [], "typiclust")
    late = select_payload(project, store, 2, 0, published, [], "margin")
    assert (early["strategy"], early["class_seconds"]) == ("typiclust", None)
    assert late["strategy"] == "margin" and late["class_seconds"] is not None


@pytest.mark.parametrize("switch_at, picked", [(41, "typiclust"), (40, "margin")])
def test_the_round_selects_with_what_auto_picks_at_its_labels(project_file, switch_at,
                                                              picked) -> None:
    """40 labels in the training set: below auto_switch_at 41 typiclust picks (on the
    model's embeddings, scored for it), at 40 margin does; the result names it."""
    cfg, pool = trained(project_file(strategy={"name": "auto", "auto_switch_at": switch_at}))
    result = controller_step(score_and_select, InlineExecutor(), cfg, "t-r1",
                             np.arange(40, 140), np.arange(40), 10, seed=7, progress=False)
    assert result["strategy"] == picked
    assert len(set(result["positions"])) == 10 and min(result["positions"]) >= 40
