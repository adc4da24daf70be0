"""loop.stop_when's decision read from the holdout results in a real Store (tmp_path)."""

from __future__ import annotations

import pytest

from activelearn.config import LoopConfig
from activelearn.config.stop_when import StopWhenConfig
from activelearn.kinds import RoundStatus
from activelearn.loop.stopping import holdout_points, stop_reason
from activelearn.state import Store

FLAT = [(0, 1000, 0.84), (1, 2000, 0.86), (2, 3000, 0.865), (3, 4000, 0.867),
        (4, 5000, 0.868)]  # gains well below 0.2 points per 1,000 labels at the end


def loop(**stop_when) -> LoopConfig:
    return LoopConfig(stop_when=StopWhenConfig(**stop_when))


def record(store: Store, rows, running: tuple[int, float] | None = None) -> None:
    """Finished rounds (round, labels, accuracy) with holdout metrics on 200 items, and
    a running round (round, accuracy) evaluated but without a label count yet."""
    for round_, labels, acc in rows:
        store.rounds.start(round_)
        store.metrics.record(round_, "holdout", f"t-r{round_}", metrics(acc))
        store.rounds.finish(round_, f"t-r{round_}", labels, RoundStatus.DONE)
    if running is not None:
        store.rounds.start(running[0])
        store.metrics.record(running[0], "holdout", f"t-r{running[0]}", metrics(running[1]))


def metrics(accuracy: float, items: int = 200) -> dict:
    """A holdout evaluation's payload (no confusion matrix: correct = accuracy x items)."""
    return {"accuracy": accuracy, "macro_f1": accuracy, "items": items}


def test_stop_reason_from_a_real_store(tmp_path) -> None:
    with Store.open(tmp_path / "state.sqlite") as store:
        record(store, FLAT[:4], running=(4, 0.868))
        found = holdout_points(store.metrics.evaluations(), current_labels=5000)
        assert [p.labels for p in found] == [1000, 2000, 3000, 4000, 5000]
        assert all(p.items == 200 for p in found)
        assert stop_reason(store, LoopConfig(), 5000) is None  # off
        by_accuracy = stop_reason(store, loop(accuracy=0.5), 5000)
        assert by_accuracy is not None and by_accuracy.startswith(
            "stopped by loop.stop_when.accuracy: holdout accuracy ")
        assert by_accuracy.endswith("; to go on, raise it or set it to 0 (off)")
        assert stop_reason(store, loop(accuracy=0.99), 5000) is None


@pytest.mark.parametrize("threshold, stops", [(0.002, True), (0.5, True), (0.0001, False)])
def test_stop_reason_by_gain(tmp_path, threshold, stops) -> None:
    with Store.open(tmp_path / "state.sqlite") as store:
        record(store, [(0, 1000, 0.84), (1, 2000, 0.86), (2, 3000, 0.865), (3, 4000, 0.867)])
        found = stop_reason(store, loop(gain_per_1000=threshold))
        assert (found is not None) == stops
        if stops:
            assert found.startswith("stopped by loop.stop_when.gain_per_1000: forecast gain")
            assert found.endswith("; to go on, lower it or set it to 0 (off)")
