"""The SQLite store: what is written comes back, also after reopening the file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from activelearn.errors import StateError
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.state import SCHEMA_VERSION, Store


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "work" / "state.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    s = Store(path)
    s.items.add([(f"img{i}", i, f"images/{i}.png", Split.TRAIN.value) for i in range(6)])
    s.items.add([("val0", 6, None, Split.VALIDATION.value), ("test0", 7, None, Split.TEST.value)])
    yield s
    s.close()


# --- items ------------------------------------------------------------------------


def test_store_creates_missing_parent_directory(path: Path) -> None:
    Store(path).close()
    assert path.is_file()


def test_items_and_splits(store: Store) -> None:
    assert store.items.count() == 8
    splits = store.items.splits()
    assert splits["img0"] == "train"
    assert splits["val0"] == "validation"
    assert splits["test0"] == "test"


def test_adding_an_existing_item_keeps_its_split(store: Store) -> None:
    store.items.add([("test0", 7, None, Split.TRAIN.value), ("new", 8, None, "train")])
    assert store.items.splits()["test0"] == "test"
    assert store.items.count() == 9


# --- labels -----------------------------------------------------------------------


def test_labels_are_stored_and_filtered_by_split(store: Store) -> None:
    written = store.labels.set([("img0", 1), ("img1", 2), ("test0", 0)], "oracle", 0)
    assert written == 3
    assert store.labels.current() == {"img0": 1, "img1": 2, "test0": 0}
    assert store.labels.current(Split.TRAIN.value) == {"img0": 1, "img1": 2}
    assert store.labels.current(Split.TEST.value) == {"test0": 0}
    assert store.labels.current(Split.VALIDATION.value) == {}


def test_relabel_keeps_the_previous_label(store: Store) -> None:
    store.labels.set([("img0", 1)], "oracle", 0)
    written = store.labels.set([("img0", 3)], "label-studio", 2, annotator="ann@example.org")
    assert written == 1
    assert store.labels.current()["img0"] == 3
    assert store.labels.history("img0") == [(1, None, "oracle", 0), (3, 1, "label-studio", 2)]


def test_unchanged_label_writes_nothing(store: Store) -> None:
    store.labels.set([("img0", 1), ("img1", 2)], "oracle", 0)
    written = store.labels.set([("img0", 1), ("img1", 0)], "oracle", 1)
    assert written == 1
    assert store.labels.history("img0") == [(1, None, "oracle", 0)]
    assert len(store.labels.history("img1")) == 2


def test_history_of_unlabeled_item_is_empty(store: Store) -> None:
    assert store.labels.history("img5") == []


# --- batches ----------------------------------------------------------------------


def test_batch_keeps_provenance_and_rank_order(store: Store) -> None:
    # scores deliberately not sorted: rank is the order the strategy gave
    picked = [("img3", 0.2), ("img1", 0.9), ("img4", 0.5)]
    batch_id = store.batches.add(1, BatchKind.QUERY, "margin", 7, "round-0", picked)
    assert store.batches.items(batch_id) == picked
    assert store.batches.all() == [{"batch_id": batch_id, "round": 1, "kind": "query",
                                "strategy": "margin", "seed": 7, "model_version": "round-0"}]


def test_batches_are_listed_in_creation_order(store: Store) -> None:
    first = store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [("img0", 0.0)])
    second = store.batches.add(1, BatchKind.QUERY, "entropy", 1, "m1", [("img1", 1.0)])
    assert second != first
    rows = store.batches.all()
    assert [r["batch_id"] for r in rows] == [first, second]
    assert rows[0]["kind"] == "initial"
    assert rows[0]["model_version"] is None
    assert store.batches.items(second) == [("img1", 1.0)]


def test_queued_ids_are_batched_but_unlabeled(store: Store) -> None:
    store.batches.add(0, BatchKind.INITIAL, "random", 0, None,
                    [("img0", 0.0), ("img1", 0.0), ("img2", 0.0)])
    store.labels.set([("img1", 4), ("img5", 2)], "oracle", 0)  # img5 is labeled, never batched
    assert store.batches.queued_ids() == {"img0", "img2"}
    store.labels.set([("img0", 1), ("img2", 1)], "oracle", 0)
    assert store.batches.queued_ids() == set()


def test_item_in_two_batches_is_queued_once(store: Store) -> None:
    store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [("img0", 0.0)])
    store.batches.add(1, BatchKind.QUERY, "margin", 1, "m0", [("img0", 0.3), ("img1", 0.1)])
    assert store.batches.queued_ids() == {"img0", "img1"}


# --- metrics, rounds and phases ---------------------------------------------------


def test_metrics_round_trip(store: Store) -> None:
    payload = {"accuracy": 0.75, "f1": [0.5, 1.0], "confusion": [[1, 0], [1, 2]]}
    store.metrics.record(1, "test", "m1", payload)
    store.metrics.record(0, "test", "m0", {"accuracy": 0.5})
    store.metrics.record(1, "validation", "m1", {"accuracy": 0.8})
    assert store.metrics.of_split("test") == {0: {"accuracy": 0.5}, 1: payload}
    assert list(store.metrics.of_split("test")) == [0, 1]
    assert store.metrics.of_split("validation") == {1: {"accuracy": 0.8}}
    store.metrics.record(1, "test", "m1b", {"accuracy": 0.9})  # a rerun replaces
    assert store.metrics.of_split("test")[1] == {"accuracy": 0.9}


def test_rounds_and_phases(store: Store) -> None:
    store.rounds.start(0)
    store.rounds.record_phase(0, "train", "started")
    rows = store.rounds.all()
    assert [(r.round, r.status, r.phase) for r in rows] == [(0, "running", "train")]
    store.rounds.record_phase(0, "score", "started")
    store.rounds.finish(0, "m0", 500)
    row = store.rounds.all()[0]
    assert (row.status, row.phase, row.model_version, row.labels) == ("done", "score", "m0", 500)


def test_failed_round_can_be_restarted(store: Store) -> None:
    store.rounds.start(0)
    store.rounds.finish(0, "m0", 500)
    store.rounds.start(1)
    store.rounds.finish(1, None, 1000, RoundStatus.FAILED, "CUDA out of memory")
    assert [r.status for r in store.rounds.all()] == ["done", "failed"]
    store.rounds.start(1)
    assert [(r.round, r.status) for r in store.rounds.all()] == [(0, "done"), (1, "running")]


# --- the file ---------------------------------------------------------------------


def test_reopening_keeps_everything(path: Path) -> None:
    s = Store(path)
    s.items.add([("a", 0, None, "train"), ("b", 1, None, "test")])
    s.labels.set([("a", 1)], "oracle", 0)
    s.labels.set([("a", 2)], "oracle", 1)
    batch_id = s.batches.add(1, BatchKind.QUERY, "bald", 3, "m0", [("b", 0.7)])
    s.rounds.start(1)
    s.rounds.record_phase(1, "query", "done")
    s.rounds.finish(1, "m1", 2)
    s.metrics.record(1, "test", "m1", {"accuracy": 1.0})
    s.meta.set("config_hash", "abc")
    s.close()

    with Store.open(path) as s:
        assert s.items.splits() == {"a": "train", "b": "test"}
        assert s.labels.current() == {"a": 2}
        assert s.labels.history("a") == [(1, None, "oracle", 0), (2, 1, "oracle", 1)]
        assert s.batches.items(batch_id) == [("b", 0.7)]
        assert s.batches.all()[0]["strategy"] == "bald"
        assert s.batches.queued_ids() == {"b"}
        assert [(r.round, r.status, r.phase) for r in s.rounds.all()] == [(1, "done", "query")]
        assert s.metrics.of_split("test") == {1: {"accuracy": 1.0}}
        assert s.meta.get("config_hash") == "abc"
        assert s.meta.get("schema_version") == str(SCHEMA_VERSION)


def test_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is a text file, not a database\n" * 100)
    with pytest.raises(StateError) as info:
        Store(path)
    assert str(path) in str(info.value)
    assert info.value.exit_code == 1


def test_schema_version_mismatch(path: Path) -> None:
    Store(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(StateError, match=r"state schema \d+ is newer than this release's") \
            as info:
        Store(path)
    assert "pip install -U activelearn" in str(info.value)


def test_the_same_item_twice_in_one_call_keeps_both_in_history(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.items.add([("a", 0, None, "train")])
    assert store.labels.set([("a", 1), ("a", 2), ("a", 2)], "oracle", 0) == 2
    assert store.labels.current() == {"a": 2}
    assert [(lab, prev) for lab, prev, _, _ in store.labels.history("a")] == [(1, None), (2, 1)]


def test_copies_of_evaluation_items_are_known_to_training(store: Store) -> None:
    store.duplicates.replace([], [("img0", "exact", ["img0", "img1"]),
                                  ("test0", "near", ["test0", "img2", "img3"])], [])
    assert store.duplicates.evaluation_copies() == {"img2", "img3"}
