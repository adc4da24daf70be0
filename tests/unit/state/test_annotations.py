"""Pull bookkeeping and the lock in the SQLite store (no server: hand-made pulls)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from activelearn.kinds import NO_LABEL, Split
from activelearn.quality.votes import majority
from activelearn.state import AnnotationRow, Problem, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "state.sqlite")
    s.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(5)])
    yield s
    s.close()


def ann(annotation_id: int, task_id: int, item: str, label: int, who: str = "1") -> AnnotationRow:
    return AnnotationRow(annotation_id, task_id, item, label, who, 2.0, "2026-11-28T10:00:00")


def pull(store: Store, seen: dict[int, str], rows: list[AnnotationRow],
         problems: list[Problem] | None = None, cursor: str = "c", round_: int = 1):
    return store.annotations.apply_pull(round_, seen, rows, problems or [], "cursor", cursor)


def test_majority() -> None:
    assert majority([1, 1, 2]) == 1
    assert majority([3]) == 3
    assert majority([1, 2]) == NO_LABEL
    assert majority([1, 1, 2, 2, 3]) == NO_LABEL
    assert majority([]) == NO_LABEL


def test_pull_records_labels_and_cursor_and_repeats_add_nothing(store: Store) -> None:
    changes = pull(store, {10: "img0", 11: "img1"}, [ann(1, 10, "img0", 3), ann(2, 11, "img1", 4)])
    assert changes.new_labels == 2 and store.labels.current() == {"img0": 3, "img1": 4}
    assert store.meta.get("cursor") == "c"
    again = pull(store, {10: "img0", 11: "img1"}, [ann(1, 10, "img0", 3), ann(2, 11, "img1", 4)])
    assert (again.new_labels, again.relabels, again.withdrawn) == (0, 0, 0)
    assert len(store.labels.history("img0")) == 1


def test_relabel_replaces_with_history_and_cancel_withdraws(store: Store) -> None:
    pull(store, {10: "img0"}, [ann(1, 10, "img0", 3)], round_=1)
    changes = pull(store, {10: "img0"}, [ann(1, 10, "img0", 5)], round_=2)
    assert changes.relabels == 1 and store.labels.current()["img0"] == 5
    assert [h[:2] for h in store.labels.history("img0")] == [(3, None), (5, 3)]
    # the annotation is gone from the task (cancelled, deleted or now invalid)
    changes = pull(store, {10: "img0"}, [], round_=3)
    assert changes.withdrawn == 1 and "img0" not in store.labels.current()
    assert store.labels.history("img0")[-1][:2] == (NO_LABEL, 5)


def test_majority_and_ties_across_annotators(store: Store) -> None:
    changes = pull(store, {10: "img0", 11: "img1"}, [
        ann(1, 10, "img0", 2, "a"), ann(2, 10, "img0", 2, "b"), ann(3, 10, "img0", 7, "c"),
        ann(4, 11, "img1", 1, "a"), ann(5, 11, "img1", 6, "b")])
    assert store.labels.current() == {"img0": 2}
    assert changes.ties == ["img1"]
    assert store.annotations.disagreements() == {"img0": ({2: 2, 7: 1}, 2),
                                                 "img1": ({1: 1, 6: 1}, None)}
    # a third annotator breaks the tie
    changes = pull(store, {11: "img1"}, [ann(4, 11, "img1", 1, "a"), ann(5, 11, "img1", 6, "b"),
                                         ann(6, 11, "img1", 6, "c")])
    assert changes.new_labels == 1 and store.labels.current()["img1"] == 6
    assert store.annotations.of_item("img1") == [(4, 1, "a"), (5, 6, "b"), (6, 6, "c")]


def test_problems_are_reported_once(store: Store) -> None:
    problem = Problem(10, "img0", 1, "label 'Cat' is not one of the configured classes")
    assert pull(store, {10: "img0"}, [], [problem]).new_problems == [problem]
    assert pull(store, {10: "img0"}, [], [problem]).new_problems == []
    assert store.annotations.problems() == [problem]


def test_tasks_waiting_and_deleted(store: Store) -> None:
    store.tasks.record(1, 0, {"img0": 10, "img1": 11, "img2": 12})
    pull(store, {10: "img0"}, [ann(1, 10, "img0", 3)])
    assert store.tasks.waiting(Split.TRAIN.value) == 2
    store.tasks.mark_deleted(["img2"])
    assert store.tasks.waiting(Split.TRAIN.value) == 1
    assert store.tasks.by_item() == {"img0": 10, "img1": 11}
    assert store.tasks.by_item(include_deleted=True)["img2"] == 12
    store.tasks.record(2, 1, {"img0": 99})  # an item keeps its first task
    assert store.tasks.by_item()["img0"] == 10


def test_a_labelled_task_waits_while_label_studio_wants_more_annotations(store: Store) -> None:
    store.tasks.record(1, 0, {"img0": 10, "img1": 11})
    # img0 has one of its two annotations: labelled, but Label Studio still serves it
    store.annotations.apply_pull(1, {10: "img0", 11: "img1"},
                                 [ann(1, 10, "img0", 3), ann(2, 11, "img1", 4)],
                                 [], "cursor", "c", open_tasks={10: True, 11: False})
    assert store.labels.current() == {"img0": 3, "img1": 4}
    assert store.tasks.waiting(Split.TRAIN.value) == 1
    store.annotations.apply_pull(1, {10: "img0"},
                                 [ann(1, 10, "img0", 3), ann(3, 10, "img0", 3, "2")],
                                 [], "cursor", "d", open_tasks={10: False})
    assert store.tasks.waiting(Split.TRAIN.value) == 0


def test_a_state_made_before_the_open_flag_gets_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE tasks DROP COLUMN is_open")  # as schema 1's first releases
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.execute("INSERT INTO items VALUES ('img0', 0, NULL, 'train')")
    db.execute("INSERT INTO tasks VALUES ('img0', 10, 1, 1, 0.0, NULL)")
    db.commit()
    db.close()
    store = Store(path)
    assert store.tasks.waiting(Split.TRAIN.value) == 1  # never listed, no label: waiting
    store.close()


def test_an_annotation_read_again_unchanged_keeps_its_round(store: Store) -> None:
    """Pulls overlap (the minutes before the cursor are read again): an annotation seen
    again as it was still counts for the round it came in."""
    store.tasks.record(1, 0, {"img0": 10})
    first = ann(1, 10, "img0", 3)
    pull(store, {10: "img0"}, [first], round_=1)
    pull(store, {10: "img0"}, [first], round_=4)
    assert store.annotations.count(after_round=1) == 0
    changed = AnnotationRow(1, 10, "img0", 5, "1", None, "2026-01-02T00:00:00Z")
    pull(store, {10: "img0"}, [changed], round_=5)
    assert store.annotations.count(after_round=4) == 1


def test_class_lead_times_follow_the_annotations_label(store: Store) -> None:
    rows = [AnnotationRow(1, 10, "img0", 3, "a", 5.0, "2026-11-28T10:00:00"),
            AnnotationRow(2, 10, "img0", 4, "b", 7.5, "2026-11-28T10:01:00"),
            AnnotationRow(3, 11, "img1", 3, "a", 1.0, "2026-11-28T10:02:00"),
            AnnotationRow(4, 12, "img2", 2, "a", None, "2026-11-28T10:03:00")]
    pull(store, {10: "img0", 11: "img1", 12: "img2"}, rows)
    # img0 is a tie (no final label), yet each annotation's time counts for its own label
    assert store.annotations.class_lead_times() == {3: [5.0, 1.0], 4: [7.5]}
    # relabelling moves the time to the new class
    pull(store, {11: "img1"}, [AnnotationRow(3, 11, "img1", 2, "a", 1.0, "2026-11-28T11:00:00")])
    assert store.annotations.class_lead_times() == {3: [5.0], 4: [7.5], 2: [1.0]}
