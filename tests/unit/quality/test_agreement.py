"""Throughput and agreement numbers on hand-made annotations."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from activelearn.quality.agreement import (
    UNKNOWN_ANNOTATOR,
    agreement,
    cohen_kappa,
    fleiss,
    fleiss_kappa,
    gold_accuracy,
    pairwise_kappa,
    quality_summary,
)
from activelearn.quality.throughput import AnnotationEvent, parse_time, throughput


def test_parse_time_reads_label_studio_formats_as_utc() -> None:
    utc = datetime(2026, 11, 28, 10, 30, tzinfo=timezone.utc)
    assert parse_time("2026-11-28T10:30:00Z") == utc
    assert parse_time("2026-11-28T10:30:00.000000Z") == utc
    assert parse_time("2026-11-28T11:30:00+01:00") == utc
    assert parse_time("2026-11-28T10:30:00") == utc  # naive: UTC


def test_throughput_counts_idle_hours_and_median_lead_time() -> None:
    events = [AnnotationEvent("a", 2.0, "2026-11-28T10:05:00Z"),
              AnnotationEvent("a", 4.0, "2026-11-28T11:05:00+01:00"),  # 10:05 UTC
              AnnotationEvent("a", 9.0, "2026-11-28T13:59:59Z"),
              AnnotationEvent("b", None, "2026-11-28T13:00:00Z"),
              AnnotationEvent(None, 1.0, "2026-11-28T13:10:00Z")]
    found = throughput(events)
    assert found is not None and found.total == 5
    ten = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
    assert found.hourly[(ten, "a")] == 2
    assert len(found.hours) == 2  # 10:00 and 13:00
    assert found.per_hour == pytest.approx(5 / 4)  # 10, 11, 12, 13
    assert found.per_active_hour == pytest.approx(5 / 2)
    work = {w.annotator: w for w in found.annotators}
    assert work["a"].median_lead_time == 4.0 and work["a"].annotations == 3
    assert work["b"].median_lead_time is None
    assert work[UNKNOWN_ANNOTATOR].annotations == 1
    assert throughput([]) is None


def test_agreement_compares_each_vote_with_the_others_majority() -> None:
    votes: dict[str, list[tuple[str | None, int]]] = {
        "x": [("a", 1), ("b", 1), ("c", 2)],  # c outvoted; a and b see a tie (1 vs 2)
        "y": [("a", 3), ("b", 3)],            # unanimous
        "z": [("a", 4), ("c", 5)],            # a tie: left unlabelled
    }
    found = agreement(votes)
    assert found is not None
    assert (found.items, found.unanimous, found.ties) == (3, 1, 1)
    by = {p.annotator: p for p in found.annotators}
    assert (by["a"].items, by["a"].votes, by["a"].agreed) == (3, 2, 1)  # y agrees, z not
    assert (by["b"].votes, by["b"].agreed) == (1, 1)
    assert (by["c"].votes, by["c"].agreed, by["c"].share) == (2, 0, 0.0)
    assert agreement({}) is None


def test_cohen_kappa_of_a_textbook_table() -> None:
    # 50 items: both yes 20, only the first yes 5, only the second yes 10, both no 15:
    # p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4
    pairs = [(1, 1)] * 20 + [(1, 0)] * 5 + [(0, 1)] * 10 + [(0, 0)] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([(0, 0), (1, 1), (2, 2)]) == pytest.approx(1.0)
    # agreement no better than chance: kappa 0; always the same single class: undefined
    assert cohen_kappa([(0, 0), (0, 1), (1, 0), (1, 1)]) == pytest.approx(0.0)
    assert cohen_kappa([(3, 3), (3, 3)]) is None and cohen_kappa([]) is None


FLEISS_1971 = [  # Fleiss (1971), as on Wikipedia: 10 items, 14 raters, 5 classes
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_kappa_of_the_1971_example() -> None:
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(0.20993, abs=1e-4)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[1, 1], [2, 1]])


def test_fleiss_from_votes_uses_the_common_count_and_counts_the_rest() -> None:
    votes: dict[str, list[tuple[str | None, int]]] = {}
    for n, row in enumerate(FLEISS_1971):
        labels = [c for c, times in enumerate(row) for _ in range(times)]
        votes[f"i{n}"] = [(f"r{k}", label) for k, label in enumerate(labels)]
    votes["odd"] = [("r0", 1), ("r1", 1), ("r2", 0)]  # 3 ratings: left out
    found = fleiss(votes)
    assert found is not None and (found.raters, found.items, found.excluded) == (14, 10, 1)
    assert found.kappa == pytest.approx(0.20993, abs=1e-4)
    assert fleiss({"a": [("x", 1)]}) is None


def test_pairwise_kappa_compares_items_both_annotated() -> None:
    # a and b: 4 common items, agree on 2 (p_o 0.5; marginals a 0,0,1,1 b 0,1,0,1: p_e 0.5)
    votes: dict[str, list[tuple[str | None, int]]] = {
        "1": [("a", 0), ("b", 0)], "2": [("a", 0), ("b", 1)], "3": [("a", 1), ("b", 0)],
        "4": [("a", 1), ("b", 1), ("c", 1)], "5": [("c", 2), ("a", 2)]}
    pairs = {(p.first, p.second): p for p in pairwise_kappa(votes)}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    ab = pairs[("a", "b")]
    assert (ab.items, ab.observed) == (4, 0.5) and ab.kappa == pytest.approx(0.0)
    assert pairs[("a", "c")].items == 2 and pairs[("a", "c")].kappa == pytest.approx(1.0)
    assert pairs[("b", "c")].kappa is None  # one item, one class: chance agreement is 1


def test_gold_accuracy_and_the_summary_per_annotator() -> None:
    scores = gold_accuracy([("good", 1, 1), ("good", 2, 2), ("bad", 1, 0), ("bad", 2, 2),
                            (None, 0, 0)])
    assert [(s.annotator, s.items, s.correct) for s in scores] == [
        ("(unknown)", 1, 1), ("bad", 2, 1), ("good", 2, 2)]
    votes: dict[str, list[tuple[str | None, int]]] = {
        "1": [("good", 0), ("bad", 1)], "2": [("good", 1), ("bad", 1)]}
    summary = quality_summary({"good": 5, "bad": 4}, votes, [("good", 1, 1), ("bad", 1, 0)],
                              [("good", 3, 3), ("good", 4, 4), ("bad", 3, 3), ("bad", 4, 5)])
    people = {p["annotator"]: p for p in summary["annotators"]}
    assert people["good"] == {"annotator": "good", "annotations": 5, "compared": 2,
                              "agreement": 0.5, "gold_items": 1, "gold_accuracy": 1.0,
                              "model_items": 2, "model_agreement": 1.0}
    assert people["bad"]["gold_accuracy"] == 0.0
    assert people["bad"]["model_agreement"] == 0.5
    assert summary["pairwise_kappa"][0]["annotators"] == ["bad", "good"]
    assert summary["fleiss_kappa"]["raters"] == 2 and summary["fleiss_kappa"]["items"] == 2


def test_model_votes_compare_each_annotation_with_the_suggestion_it_was_pushed_with(
        tmp_path) -> None:
    from activelearn.kinds import BatchKind, Split
    from activelearn.state import AnnotationRow, Store

    store = Store(tmp_path / "state.sqlite")
    store.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(3)])
    initial = store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [("img0", 0.0)])
    query = store.batches.add(1, BatchKind.QUERY, "margin", 0, "m1",
                            [("img1", 0.9), ("img2", 0.8)], [("img1", 4, 0.6), ("img2", 5, 0.7)])
    store.tasks.record(initial, 0, {"img0": 10})
    store.tasks.record(query, 1, {"img1": 11, "img2": 12})
    store.annotations.apply_pull(1, {10: "img0", 11: "img1", 12: "img2"}, [
        AnnotationRow(1, 10, "img0", 3, "a", 1.0, "2026-11-28T10:00:00Z"),  # no suggestion
        AnnotationRow(2, 11, "img1", 4, "a", 1.0, "2026-11-28T10:00:00Z"),
        AnnotationRow(3, 12, "img2", 6, "a", 1.0, "2026-11-28T10:00:00Z"),
        AnnotationRow(4, 12, "img2", 5, "b", 1.0, "2026-11-28T10:00:00Z")], [], "c", "c")
    assert store.annotations.model_votes() == [("a", 4, 4), ("a", 5, 6), ("b", 5, 5)]
    store.close()
