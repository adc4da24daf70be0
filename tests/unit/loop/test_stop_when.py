"""loop.stop_when in `cycle` (real Store in tmp_path, no Label Studio): a met criterion
stops selection like the labelling budget does (no query batch, no top-up), while a
training round still evaluates and prints the interval, the forecast and the suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from activelearn.config import FASHION_MNIST_CLASSES, Config, config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.learn.checkpoints import metrics_name
from activelearn.loop.batches import BatchPlanner
from activelearn.loop.cycle import Cycle
from activelearn.loop.plan import Plan
from activelearn.project import Project
from activelearn.state import Store

LABELLED = 5000  # train labels in the state
FLAT = [(0, 1000, 0.84), (1, 2000, 0.86), (2, 3000, 0.865), (3, 4000, 0.865)]


def config(tmp_path: Path, **stop_when) -> Config:
    return config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "loop": {"initial": 40, "batch": 40, "budget": 10_000, "min_queued": 100,
                 "stop_when": stop_when}})


def metrics(accuracy: float, items: int = 200) -> dict:
    return {"accuracy": accuracy, "macro_f1": accuracy - 0.01, "items": items}


@pytest.fixture
def store(tmp_path):
    """Four finished rounds whose holdout curve has levelled off (1,000 to 4,000 labels),
    LABELLED train labels, an initial batch, no task waiting."""
    ids = [f"img{i}" for i in range(LABELLED + 100)]
    with Store.open(tmp_path / "state.sqlite") as store:
        store.items.add([(item, i, None, Split.TRAIN.value) for i, item in enumerate(ids)])
        store.labels.set([(item, i % 10) for i, item in enumerate(ids[:LABELLED])],
                         "label-studio", 0)
        store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [(ids[0], 0.0)])
        for round_, labels, acc in FLAT:
            store.rounds.start(round_)
            store.metrics.record(round_, "holdout", f"t-r{round_}", metrics(acc))
            store.rounds.finish(round_, f"t-r{round_}", labels, RoundStatus.DONE)
        yield store


def pool(n: int = LABELLED + 100) -> Pool:
    return Pool([f"img{i}" for i in range(n)], torch.zeros((n, 1, 4, 4), dtype=torch.uint8),
                np.full(n, -1), np.zeros(n, dtype=bool), list(FASHION_MNIST_CLASSES))


def cycle(cfg: Config, store: Store, lines: list[str]) -> Cycle:
    # decide and the evaluate phase use neither Label Studio, the executor nor the lock
    return Cycle(Project(cfg), store, pool(), None, lines.append,  # type: ignore[arg-type]
                 progress=False)


def test_a_met_criterion_stops_selection(tmp_path, store) -> None:
    lines: list[str] = []
    planner = BatchPlanner(Project(config(tmp_path, gain_per_1000=0.002)), store, pool(),
                           lines.append)
    planner.select(4, "t-r3")
    assert store.batches.all(4) == []
    assert len(lines) == 1
    assert lines[0].startswith("  no batch: stopped by loop.stop_when.gain_per_1000: "
                               "forecast gain +")
    assert "at 4,000 labels, below loop.stop_when.gain_per_1000 0.002 (0.2 points)" in lines[0]
    assert lines[0].endswith("; to go on, lower it or set it to 0 (off)")


def test_no_top_up_once_a_criterion_is_met(tmp_path, store) -> None:
    lines: list[str] = []
    assert cycle(config(tmp_path), store, lines).decide().plan is Plan.TOPUP  # off
    assert cycle(config(tmp_path, gain_per_1000=0.0001), store, lines).decide().plan \
        is Plan.TOPUP  # not met: the curve still gains more than that
    stopped = cycle(config(tmp_path, accuracy=0.86), store, lines).decide()
    assert stopped.plan is None
    assert stopped.why.startswith("0 new labels since model t-r3 (retrain at 100), 0 tasks "
                                  "waiting in Label Studio; stopped by "
                                  "loop.stop_when.accuracy: holdout accuracy 0.865 (95% CI ")
    assert stopped.why.endswith("to go on, raise it or set it to 0 (off)")


def test_a_training_round_prints_the_interval_the_forecast_and_the_suggestion(
        tmp_path, store) -> None:
    cfg = config(tmp_path, gain_per_1000=0.002)
    store.rounds.start(4)  # trained on LABELLED labels; its train job wrote the metrics
    Project(cfg).artifacts.publish_bytes(metrics_name("t-r4"), json.dumps(
        {"metrics": {"holdout": metrics(0.87)}}).encode())
    lines: list[str] = []
    cycle(cfg, store, lines)._evaluate(4)
    assert lines[0] == ("  holdout accuracy 0.8700 (95% CI 0.8163-0.9097), macro-F1 0.8600 "
                        "(200 items)")
    assert lines[1].startswith("  forecast: holdout accuracy 0.8")
    assert f"at {LABELLED:,} labels, levelling off at 0.8" in lines[1]
    assert lines[2].startswith("  forecast: 87% is not reached") or \
        lines[2].startswith("  forecast: about ")
    assert lines[3].startswith("  forecast: gain per 1,000 labels: +")
    assert lines[4].startswith("  stop suggested: forecast gain +")
    assert lines[4].endswith(f"at {LABELLED:,} labels, below loop.stop_when.gain_per_1000 "
                             "0.002 (0.2 points)")
    assert len(lines) == 5
    print("\n".join(lines))
