"""Throughput and agreement numbers on hand-made annotations."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from activelearn.annotation.stats import UNKNOWN_ANNOTATOR, agreement, parse_time, throughput
from activelearn.state.reports import AnnotationEvent


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
