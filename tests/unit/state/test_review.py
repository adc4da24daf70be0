"""The state's review bookkeeping (state/review.py): a reviewer's answer replaces the
label, is never outvoted by the item's first annotations, and is withdrawn with it."""

from __future__ import annotations

from activelearn.state import AnnotationRow, PulledReviews, ReviewState, Store


def _pull(store: Store, round_: int, seen: dict[int, str], rows: list[AnnotationRow],
          reviews: PulledReviews | None = None):
    return store.annotations.apply_pull(round_, seen, rows, [], "cursor", f"c{round_}", reviews)


def _row(annotation_id: int, task_id: int, item_id: str, label: int, who: str = "1"):
    return AnnotationRow(annotation_id, task_id, item_id, label, who, None, "")


def test_a_review_answer_replaces_the_label_and_is_never_outvoted(tmp_path):
    with Store.open(tmp_path / "state.sqlite") as store:
        _review_answer_replaces_the_label(store)


def _review_answer_replaces_the_label(store: Store) -> None:
    store.items.add([("a", 0, None, "train"), ("b", 1, None, "train")])
    _pull(store, 1, {1: "a", 2: "b"}, [_row(1, 1, "a", 0), _row(2, 2, "b", 1)])
    store.reviews.add_candidates(2, [("a", 0, 2, 0.9, 0.85)])
    assert store.reviews.not_reviewable() == {"a"}  # open: not ranked again
    store.reviews.record_tasks(2, {"a": 10})
    assert store.reviews.task_rounds() == {10: 2}

    review = PulledReviews({10: ("a", 2)}, [_row(3, 10, "a", 2, "7")])
    changes = _pull(store, 3, {}, [], review)
    assert (changes.reviewed, changes.review_relabels) == (1, 1)
    assert store.labels.current() == {"a": 2, "b": 1}
    assert store.labels.history("a")[-1] == (2, 0, "review", 3)
    assert store.reviews.rows(2)[0]["state"] == ReviewState.DONE.value
    assert store.reviews.not_reviewable() == {"a"}  # answered, label still the answer

    # the same pull again, and a later pull of the first task: nothing changes
    again = _pull(store, 4, {1: "a"}, [_row(1, 1, "a", 0)], review)
    assert (again.reviewed, again.relabels, again.new_labels) == (0, 0, 0)
    assert store.labels.current()["a"] == 2 and len(store.labels.history("a")) == 2

    # the reviewer's annotation deleted in Label Studio: the annotators' label comes back
    gone = _pull(store, 5, {}, [], PulledReviews({10: ("a", 2)}, []))
    assert gone.relabels == 1 and store.labels.current()["a"] == 0
    assert store.reviews.rows(2)[0]["state"] == ReviewState.PUSHED.value
