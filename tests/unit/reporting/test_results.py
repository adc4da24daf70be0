"""Tests for activelearn.reporting.results: hand-made records with numbers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelearn.errors import ActiveLearnError
from activelearn.reporting import results
from activelearn.reporting.plots import simulate_curves as plot_curves
from activelearn.reporting.results import format_summary, summarize
from support.records import MARGIN, RANDOM, curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"




def by_name(rows):
    return {row.strategy: row for row in rows}


# --------------------------------------------------------------------------- summary


def test_labels_to_target_interpolates_between_the_rounds_around_the_crossing():
    rows = by_name(summarize(curve("random", RANDOM) + curve("margin", MARGIN)))
    margin = rows["margin"]
    # 0.70 @ 1000 -> 0.82 @ 2000 crosses 0.80 at 1000 + 1000 * 0.10 / 0.12
    assert margin.target_accuracy == pytest.approx(0.80)
    assert margin.labels_to_target == pytest.approx(1833.333, abs=1e-3)
    assert margin.label_efficiency == pytest.approx(4000 / 1833.3333, rel=1e-6)
    assert rows["random"].labels_to_target == pytest.approx(4000)
    assert rows["random"].label_efficiency == pytest.approx(1.0)


def test_baseline_needs_the_first_crossing_of_its_own_final_accuracy():
    # random dips at the end: it first reached 0.78 between 2000 (0.70) and 3000 (0.82)
    rows = by_name(summarize(
        curve("random", [(1000, 0.6), (2000, 0.70), (3000, 0.82), (4000, 0.78)])
        + curve("margin", [(1000, 0.78), (2000, 0.9)])
    ))
    assert rows["random"].labels_to_target == pytest.approx(2000 + 1000 * 0.08 / 0.12)
    assert rows["margin"].labels_to_target == pytest.approx(1000)  # reached at the first point
    assert rows["margin"].label_efficiency == pytest.approx((2000 + 1000 * 0.08 / 0.12) / 1000)


def test_a_strategy_that_never_reaches_the_target_gets_none():
    worse = [(1000, 0.55), (2000, 0.65), (3000, 0.70), (4000, 0.79)]
    rows = by_name(summarize(curve("random", RANDOM) + curve("entropy", worse)))
    assert rows["entropy"].labels_to_target is None
    assert rows["entropy"].label_efficiency is None
    assert "not reached" in format_summary(list(rows.values()))


def test_without_the_baseline_there_is_no_target_and_no_efficiency():
    rows = summarize(curve("margin", MARGIN) + curve("entropy", RANDOM))
    assert [r.strategy for r in rows] == ["margin", "entropy"]
    for row in rows:
        assert row.target_accuracy is None
        assert row.labels_to_target is None
        assert row.label_efficiency is None
    text = format_summary(rows)
    assert "no 'random' baseline" in text
    assert text.splitlines()[2].split()[-2:] == ["-", "-"]  # labels to target, efficiency


def test_another_baseline_can_be_named():
    rows = by_name(summarize(curve("random", RANDOM) + curve("margin", MARGIN), baseline="margin"))
    assert rows["margin"].target_accuracy == pytest.approx(0.86)
    assert rows["random"].labels_to_target is None


def test_auc_is_the_trapezoid_of_the_mean_curve_over_the_label_range():
    rows = by_name(summarize(curve("random", RANDOM)))
    # trapezoids of 1000 labels: (0.60+0.70)/2 + (0.70+0.75)/2 + (0.75+0.80)/2 = 2.15
    assert rows["random"].auc == pytest.approx(2.15 / 3)
    uneven = results.area_under_curve(np.array([0.0, 1.0, 4.0]), np.array([0.0, 1.0, 1.0]))
    assert uneven == pytest.approx((0.5 + 3.0) / 4)


def test_a_single_round_gives_its_accuracy_as_auc_and_final():
    rows = by_name(summarize(curve("random", [(500, 0.4)]) + curve("margin", [(500, 0.45)])))
    assert rows["margin"].auc == pytest.approx(0.45)
    assert rows["margin"].final_labels == 500
    assert rows["margin"].labels_to_target == pytest.approx(500)
    assert rows["margin"].label_efficiency == pytest.approx(1.0)


def test_mean_and_std_are_taken_over_seeds_at_equal_label_counts():
    records = (
        curve("random", [(1000, 0.60), (2000, 0.80)], seed=0)
        + curve("random", [(1000, 0.70), (2000, 0.70)], seed=1)
        + curve("random", [(1000, 0.65), (2000, 0.90)], seed=2)
    )
    (row,) = summarize(records)
    assert row.seeds == 3
    assert row.final_labels == 2000
    assert row.final_accuracy_mean == pytest.approx(0.80)
    assert row.final_accuracy_std == pytest.approx(np.std([0.8, 0.7, 0.9], ddof=1))
    assert row.final_macro_f1_mean == pytest.approx(0.79)
    assert row.auc == pytest.approx((0.65 + 0.80) / 2)  # mean curve 0.65 -> 0.80


def test_a_seed_that_stopped_early_limits_the_curve_to_the_shared_label_counts():
    records = curve("random", RANDOM, seed=0) + curve("random", RANDOM[:2], seed=1)
    (row,) = summarize(records)
    assert row.final_labels == 2000
    assert row.final_accuracy_mean == pytest.approx(0.70)


def test_a_later_record_for_the_same_point_replaces_the_earlier_one():
    records = curve("random", RANDOM) + curve("random", [(4000, 0.90)])
    (row,) = summarize(records)
    assert row.final_accuracy_mean == pytest.approx(0.90)


def test_a_record_without_accuracy_is_reported_with_its_strategy_and_round():
    records = curve("margin", MARGIN)
    del records[2]["accuracy"]
    with pytest.raises(ActiveLearnError, match=r"strategy='margin'.*round=2.*lacks accuracy"):
        summarize(records)


def test_no_records_give_no_rows():
    assert summarize([]) == []
    assert format_summary([]) == "no results"


def test_format_summary_shows_every_strategy_the_efficiency_and_the_target():
    rows = summarize(curve("random", RANDOM) + curve("margin", MARGIN))
    text = format_summary(rows)
    lines = text.splitlines()
    assert "random" in text and "margin" in text
    assert f"{4000 / 1833.3333:.2f}x" in text  # 2.18x
    assert "1833" in text
    assert "0.860 ± 0.000" in text
    assert "random's final test accuracy 0.800" in lines[-1]
    # aligned: the header and every row have the same width before stripping
    assert len({len(line) for line in lines[:4]}) == 1


# --------------------------------------------------------------------------- plot


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 5_000 < len(data) < 2_000_000


@pytest.mark.parametrize(
    "records",
    [
        curve("random", RANDOM, seed=0) + curve("random", MARGIN, seed=1)
        + curve("margin", MARGIN, seed=0) + curve("margin", RANDOM, seed=1),
        curve("margin", MARGIN),  # one seed, no baseline
        curve("random", RANDOM[:1]) + curve("margin", MARGIN[:1]),  # one round
    ],
    ids=["two-seeds", "one-seed", "one-round"],
)
def test_plot_curves_writes_a_png(tmp_path: Path, records):
    path = plot_curves(records, tmp_path / "plots" / "curves.png")
    assert path == tmp_path / "plots" / "curves.png"
    assert_png(path)
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]


def test_plot_curves_of_another_metric(tmp_path: Path):
    assert_png(plot_curves(curve("margin", MARGIN), tmp_path / "f1.png", metric="macro_f1"))


def test_plot_curves_refuses_nothing_to_plot(tmp_path: Path):
    with pytest.raises(ActiveLearnError, match="no result records"):
        plot_curves([], tmp_path / "curves.png")
    with pytest.raises(ActiveLearnError, match="lacks val_accuracy"):
        plot_curves(curve("margin", MARGIN), tmp_path / "curves.png", metric="val_accuracy")
