"""decide_round (loop/plan.py) on a real Store in tmp_path: what a round does once the
budget is reached or the pool is used up (nothing: no round recorded), and that new
labels still train."""

from __future__ import annotations

import pytest

from activelearn.config import FASHION_MNIST_CLASSES, config_from_dict
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.loop.plan import Plan, decide_round
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
    decided = decide_round(store, loop(), (1, "t-r1"), lambda: ITEMS - 80)
    assert decided.plan is None
    assert decided.why == ("0 new labels since model t-r1 (retrain at 20), 0 tasks waiting "
                           "in Label Studio; labelling budget reached")


def test_new_labels_after_the_budget_still_train(store):
    store.labels.set([(f"img{i}", 3) for i in range(20)], "label-studio", 2)  # relabelled
    decided = decide_round(store, loop(), (1, "t-r1"), lambda: ITEMS - 80)
    assert decided.plan is Plan.TRAIN and decided.why == "20 new labels since model t-r1"


def test_no_top_up_when_the_pool_is_used_up(store):
    asked = []

    def selectable() -> int:
        asked.append(1)
        return 0

    decided = decide_round(store, loop(budget=1000), (1, "t-r1"), selectable)
    assert decided.plan is None and asked == [1]
    assert decided.why.endswith("0 tasks waiting in Label Studio; the pool is used up: no "
                                "unlabeled item left to select")


def test_a_top_up_while_the_pool_holds_items(store):
    decided = decide_round(store, loop(budget=1000), (1, "t-r1"), lambda: 1)
    assert decided.plan is Plan.TOPUP and decided.why == "only 0 tasks wait (min_queued 10)"


def test_the_pool_is_not_counted_when_no_top_up_is_due(store):
    def selectable() -> int:
        raise AssertionError("counted the pool for a round that tops nothing up")

    assert decide_round(store, loop(), (1, "t-r1"), selectable).plan is None  # budget
    assert decide_round(store, loop(budget=1000, min_queued=0), (1, "t-r1"),
                        selectable).plan is None
