"""simulate's results against annotator time: labels per annotator-hour and accuracy at
equal annotator-hours (interpolated per seed, then averaged), in the summary and the
report's simulate section."""

from __future__ import annotations

import pytest

from activelearn.reporting.hours import accuracy_at_hours, hours_summary, runs_by_strategy
from activelearn.reporting.simulate_section import simulate_section


def records() -> list[dict]:
    """random: 100 labels an hour; cheap: 200 labels an hour and a flatter curve."""
    found = []
    for strategy, hours_per_100, gain in (("random", 1.0, 0.10), ("cheap", 0.5, 0.06)):
        for seed in (0, 1):
            for k, labels in enumerate((100, 200, 300)):
                found.append({"strategy": strategy, "seed": seed, "round": k,
                              "labels": labels, "accuracy": 0.5 + gain * k + 0.01 * seed,
                              "annotator_hours": hours_per_100 * (k + 1),
                              "annotator_seconds": 3600 * hours_per_100 * (k + 1)})
    return found


def test_labels_per_hour_and_accuracy_at_the_fewest_hours_any_run_spent() -> None:
    summary = hours_summary(records())
    assert summary is not None
    rows, common = summary
    assert common == 1.5  # cheap's 300 labels took 1.5 h
    random, cheap = rows
    assert (random.labels, random.hours, random.labels_per_hour) == (300, 3.0, 100)
    assert (cheap.labels, cheap.hours, cheap.labels_per_hour) == (300, 1.5, 200)
    # random at 1.5 h: halfway between its 100 and 200 labels (0.5, 0.6; seeds +0, +0.01)
    assert random.accuracy_at_equal_hours == pytest.approx(0.555)
    assert cheap.accuracy_at_equal_hours == pytest.approx(cheap.accuracy) == \
        pytest.approx(0.625)
    # (final - first) / hours in between
    assert random.gain_per_hour == pytest.approx(0.2 / 2.0)
    assert cheap.gain_per_hour == pytest.approx(0.12 / 1.0)


def test_no_accuracy_outside_a_runs_hours() -> None:
    runs = runs_by_strategy(records())["cheap"]
    assert accuracy_at_hours(runs, 2.0) is None  # cheap stopped at 1.5 h
    assert accuracy_at_hours(runs, 0.25) is None  # ... and started at 0.5 h
    assert accuracy_at_hours(runs, 1.0) == pytest.approx(0.565)


def test_records_without_annotator_hours_have_no_hours_summary(tmp_path) -> None:
    plain = [{k: v for k, v in r.items() if not k.startswith("annotator")} for r in records()]
    assert hours_summary(plain) is None
    assert "labels/h" not in simulate_section(plain, "", tmp_path).html()
    page = simulate_section(records(), "", tmp_path).html()
    assert "labels/h" in page and "acc at 1.50 h" in page and "the fewest any run spent" in page
