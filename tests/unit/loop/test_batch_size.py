"""loop.batch auto (loop.batch_size): the batch from the measured throughput, with numbers;
and the measures read from a hand-made state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import LabelStudioConfig, LoopConfig
from activelearn.kinds import BatchKind, Split
from activelearn.loop.batch_size import (
    DEFAULT_TRAINING_HOURS,
    auto_batch_size,
    items_per_hour,
    plan_auto_batch,
    training_hours,
)
from activelearn.state import AnnotationRow, Store

LOOP = LoopConfig(initial=300, batch="auto", min_new_labels=100, max_queue_hours=8.0)


def test_the_batch_covers_the_retrain_trigger_and_the_training_minus_the_queue():
    # 100 labels to start the next training + 120/h x 2 h of it, 30 already queued
    found = auto_batch_size(120.0, 2.0, 30, LOOP)
    assert found.size == 100 + 240 - 30
    assert found.why == ("batch auto: 310 items = 100 new labels to retrain + 120 items/h "
                         "x 2.0 h of training - 30 still queued")


def test_the_queue_never_holds_more_than_max_queue_hours():
    # need 100 + 50 x 10 = 600, but 8 h at 50/h is 400 items, of which 150 queued
    found = auto_batch_size(50.0, 10.0, 150, LOOP)
    assert found.size == 400 - 150
    assert found.why.endswith("- 150 still queued; capped at loop.max_queue_hours 8 h")


def test_a_full_queue_gets_no_batch():
    full = auto_batch_size(50.0, 1.0, 400, LOOP)  # 8 h of work already
    assert full.size == 0
    assert full.why == ("batch auto: none: 400 still queued are 8.0 h of work at 50 "
                        "items/h, loop.max_queue_hours is 8")
    covered = auto_batch_size(50.0, 1.0, 150, LOOP)  # 100 + 50 x 1 <= 150
    assert covered.size == 0 and "150 still queued cover 100 new labels" in covered.why
    assert auto_batch_size(50.0, 1.0, 149, LOOP).size == 1


def test_without_a_measured_throughput_the_batch_is_loop_initial():
    for rate in (None, 0.0):
        found = auto_batch_size(rate, 2.0, 30, LOOP)
        assert found.size == 300
        assert found.why == ("batch auto: 300 items = loop.initial (no annotation "
                             "throughput measured yet)")


def test_fractions_round_toward_keeping_the_queue_busy_and_under_the_cap():
    loop = LoopConfig(initial=10, batch="auto", min_new_labels=1, max_queue_hours=0.5)
    # need ceil(1 + 7.5 x 0.1) = 2; most floor(7.5 x 0.5) = 3
    assert auto_batch_size(7.5, 0.1, 0, loop).size == 2
    guessed = auto_batch_size(7.5, DEFAULT_TRAINING_HOURS, 0, loop, guessed=True)
    assert guessed.size == 3 and "1.0 h (a guess) of training" in guessed.why


def test_overlap_turns_annotations_into_fewer_items():
    assert items_per_hour(120.0, LabelStudioConfig()) == 120.0
    # overlap 3 on half of a batch: 2 annotations an item on average
    assert items_per_hour(120.0, LabelStudioConfig(overlap=3, overlap_fraction=0.5)) == 60.0


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "state.sqlite") as s:
        s.items.add([(f"i{k}", k, None, Split.TRAIN.value) for k in range(40)])
        yield s


def _phases(store: Store, round_: int, spans: dict[str, float]) -> None:
    """Record each phase as having run `seconds` (timestamps rewritten after the fact)."""
    for name, seconds in spans.items():
        store.rounds.record_phase(round_, name, "started")
        store.rounds.record_phase(round_, name, "done")
        store.db.execute("UPDATE phases SET at = (SELECT at FROM phases WHERE round=? AND "
                         "phase=? AND status='done') - ? WHERE round=? AND phase=? AND "
                         "status='started'", (round_, name, seconds, round_, name))
    store.db.commit()


def test_the_training_time_is_the_phases_running_time(store):
    assert training_hours(store, 0) is None  # nothing trained yet
    store.rounds.start(1)
    _phases(store, 1, {"pull": 60, "train": 3000, "evaluate": 60, "select": 60})
    store.rounds.finish(1, "m-r1", 10)
    assert training_hours(store, 2) == pytest.approx(3180 / 3600, abs=1e-3)
    # a round that trained now measures itself (its select phase is still running)
    store.rounds.start(2)
    _phases(store, 2, {"pull": 30, "train": 1770})
    assert training_hours(store, 2) == pytest.approx(0.5, abs=1e-3)


def test_plan_auto_batch_reads_throughput_training_time_and_queue(store):
    assert plan_auto_batch(store, LOOP, LabelStudioConfig(), 0).size == 300  # no labels yet
    # 30 annotations in one clock hour: 30 items an active hour
    hour = time.strftime("%Y-%m-%dT%H", time.gmtime())
    rows = [AnnotationRow(k, 100 + k, f"i{k}", 0, "a", 5.0, f"{hour}:{k:02d}:00Z")
            for k in range(30)]
    store.annotations.apply_pull(0, {100 + k: f"i{k}" for k in range(30)}, rows, [], "c", "c")
    # 5 more items pushed and unlabelled wait in Label Studio
    batch = store.batches.add(0, BatchKind.QUERY, "random", 0, None,
                              [(f"i{k}", 0.0) for k in range(30, 35)])
    store.tasks.record(batch, 0, {f"i{k}": 200 + k for k in range(30, 35)})
    store.rounds.start(1)
    _phases(store, 1, {"train": 7200})
    found = plan_auto_batch(store, LOOP, LabelStudioConfig(), 1)
    assert found.size == 100 + 30 * 2 - 5
    assert "30 items/h x 2.0 h of training - 5 still queued" in found.why


def test_simulate_refuses_batch_auto_without_a_number(project_file):
    path = project_file(loop={"initial": 40, "batch": "auto", "budget": 120})
    result = CliRunner().invoke(main, ["simulate", "--config", str(path), "--no-progress"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (f"error: {path}: loop.batch: auto sizes cycle's batches from the "
                    "annotators' measured throughput, which simulate does not have; set "
                    "loop.batch (or --batch) to a number, or loop.batch_growth above 1")
