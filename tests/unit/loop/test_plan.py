"""decide_round (loop/plan.py) on a real Store in tmp_path: what a round does once the
budget is reached or the pool is used up (nothing: no round recorded), and that new
labels still train."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activelearn.config import FASHION_MNIST_CLASSES, config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.loop.cycle import Cycle
from activelearn.loop.plan import Plan, decide_round
from activelearn.project import Project
from activelearn.state import Store

ITEMS = 100


def loop(**keys):
    return config_from_dict({
        "project": {"name": "t", "work_dir": "/tmp/unused"},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "loop": {"initial": 40, "batch": 40, "budget": 80, "min_new_labels": 20,
                 "min_queued": 10, **keys}}).loop


@pytest.fixture
def store(tmp_path):
    """80 train items labelled in rounds 0 and 1, the model of round 1 done."""
    ids = [f"img{i}" for i in range(ITEMS)]
    with Store.open(tmp_path / "state.sqlite") as store:
        store.items.add([(item, i, None, Split.TRAIN.value) for i, item in enumerate(ids)])
        store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [(i, 0.0) for i in ids[:40]])
        store.labels.set([(item, 1) for item in ids[:40]], "label-studio", 0)
        store.labels.set([(item, 2) for item in ids[40:80]], "label-studio", 1)
        for round_ in (0, 1):
            store.rounds.start(round_)
            store.rounds.finish(round_, f"t-r{round_}" if round_ else None, 40 * (round_ + 1),
                                RoundStatus.DONE)
        yield store


def test_nothing_once_the_budget_is_reached(store):
    decided = decide_round(store, loop(), (1, "t-r1"), lambda: None)
    assert decided.plan is None
    assert decided.why == ("0 new labels since model t-r1 (retrain at 20), 0 tasks waiting "
                           "in Label Studio; labelling budget reached")


def test_new_labels_after_the_budget_still_train(store):
    store.labels.set([(f"img{i}", 3) for i in range(20)], "label-studio", 2)  # relabelled
    decided = decide_round(store, loop(), (1, "t-r1"), lambda: None)
    assert decided.plan is Plan.TRAIN and decided.why == "20 new labels since model t-r1"


@pytest.mark.parametrize("why", ["the pool is used up: no unlabeled item left to select",
                                 "batch auto: none: 5 still queued are 5.0 h of work at 1 "
                                 "items/h, loop.max_queue_hours is 4"])
def test_no_top_up_that_would_select_nothing(store, why):
    asked = []

    def unselectable() -> str:
        asked.append(1)
        return why

    decided = decide_round(store, loop(budget=1000), (1, "t-r1"), unselectable)
    assert decided.plan is None and asked == [1]
    assert decided.why == ("0 new labels since model t-r1 (retrain at 20), 0 tasks waiting "
                           f"in Label Studio; {why}")


def test_a_top_up_while_a_batch_would_hold_items(store):
    decided = decide_round(store, loop(budget=1000), (1, "t-r1"), lambda: None)
    assert decided.plan is Plan.TOPUP and decided.why == "only 0 tasks wait (min_queued 10)"


def test_the_pool_is_not_looked_at_when_no_top_up_is_due(store):
    def unselectable() -> str:
        raise AssertionError("looked at the pool for a round that tops nothing up")

    assert decide_round(store, loop(), (1, "t-r1"), unselectable).plan is None  # budget
    assert decide_round(store, loop(budget=1000, min_queued=0), (1, "t-r1"),
                        unselectable).plan is None


def test_a_cycle_plans_nothing_once_every_pool_item_is_batched(tmp_path, store):
    cfg = config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "loop": {"initial": 40, "batch": 40, "budget": 1000, "min_queued": 10}})
    ids = [f"img{i}" for i in range(ITEMS)]
    pool = Pool(ids, torch.zeros((ITEMS, 1, 4, 4), dtype=torch.uint8), np.full(ITEMS, -1),
                np.zeros(ITEMS, dtype=bool), list(FASHION_MNIST_CLASSES))

    def decide():  # decide uses neither Label Studio, the executor nor the lock
        return Cycle(Project(cfg), store, pool, None, [].append,  # type: ignore[arg-type]
                     progress=False).decide()

    assert decide().plan is Plan.TOPUP  # 20 items never batched
    store.batches.add(2, BatchKind.QUERY, "margin", 0, "t-r1", [(i, 0.0) for i in ids[80:]])
    decided = decide()
    assert decided.plan is None
    assert decided.why.endswith("; the pool is used up: no unlabeled item left to select")
