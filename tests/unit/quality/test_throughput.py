"""Seconds per label by class: the report's table and the cost weighting's expectation."""

from __future__ import annotations

import pytest

from activelearn.quality.throughput import class_work, median_seconds_by_class


def test_class_work_counts_median_and_mean_per_class_in_class_order() -> None:
    found = class_work({2: [10.0, 30.0, 20.0, 100.0], 0: [4.0], 1: []})
    assert [w.label for w in found] == [0, 2]  # a class without lead times is left out
    assert (found[1].annotations, found[1].median_lead_time) == (4, 25.0)
    assert found[1].mean_lead_time == pytest.approx(40.0)
    assert (found[0].median_lead_time, found[0].mean_lead_time) == (4.0, 4.0)


def test_median_seconds_by_class_falls_back_to_the_overall_median() -> None:
    lead_times = {0: [2.0, 4.0, 6.0], 2: [10.0, 12.0]}
    assert median_seconds_by_class(lead_times) == {0: 4.0, 2: 11.0}
    # over all five lead times the median is 6: class 1 and 3 have no data of their own
    assert median_seconds_by_class(lead_times, classes=4) == {0: 4.0, 1: 6.0, 2: 11.0,
                                                               3: 6.0}


def test_median_seconds_by_class_is_none_without_lead_times() -> None:
    assert median_seconds_by_class({}) is None
    assert median_seconds_by_class({1: []}, classes=3) is None
