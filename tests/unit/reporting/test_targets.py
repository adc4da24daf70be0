"""Targets of a simulate run: labels to reach a score per seed, mean ± std over seeds,
seeds that never reach it, and efficiency against random, with numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.reporting.targets import format_targets, target_rows, targets_csv
from activelearn.simulate import Target, TargetSpec


def run(strategy: str, seed: int, points: list[tuple[int, float]], metric="accuracy"):
    return [{"strategy": strategy, "seed": seed, "round": i, "labels": labels, metric: value}
            for i, (labels, value) in enumerate(points)]


# random: seed 0 reaches 0.80 at 3000, seed 1 at 2500 (halfway from 0.70 @ 2000 to 0.90)
RANDOM = run("random", 0, [(1000, 0.6), (2000, 0.7), (3000, 0.8)]) \
    + run("random", 1, [(1000, 0.6), (2000, 0.7), (3000, 0.9)])
# margin: seed 0 reaches 0.80 at 1500, seed 1 at 2000
MARGIN = run("margin", 0, [(1000, 0.7), (2000, 0.9)]) \
    + run("margin", 1, [(1000, 0.6), (2000, 0.8)])


def rows_by_strategy(records, value=0.8, metric="accuracy"):
    return {r.strategy: r for r in target_rows(records, [Target(metric, value)])}


def test_labels_to_reach_per_seed_and_their_mean_and_std():
    rows = rows_by_strategy(RANDOM + MARGIN)
    assert rows["random"].per_seed == {0: pytest.approx(3000), 1: pytest.approx(2500)}
    assert rows["margin"].per_seed == {0: pytest.approx(1500), 1: pytest.approx(2000)}
    assert rows["random"].labels_mean == pytest.approx(2750)
    assert rows["random"].labels_std == pytest.approx(np.std([3000, 2500], ddof=1))
    assert rows["margin"].labels_mean == pytest.approx(1750)


def test_efficiency_is_the_ratio_of_means_and_the_paired_ratios_mean_and_std():
    margin = rows_by_strategy(RANDOM + MARGIN)["margin"]
    assert margin.efficiency == pytest.approx(2750 / 1750)
    assert not margin.efficiency_at_least
    ratios = [3000 / 1500, 2500 / 2000]
    assert margin.paired_mean == pytest.approx(np.mean(ratios))
    assert margin.paired_std == pytest.approx(np.std(ratios, ddof=1))
    assert margin.paired_seeds == 2


def test_a_seed_that_never_reaches_the_target_is_counted_and_shown():
    records = RANDOM + run("margin", 0, [(1000, 0.7), (2000, 0.9)]) \
        + run("margin", 1, [(1000, 0.6), (2000, 0.7)])  # seed 1 stays below 0.8
    margin = rows_by_strategy(records)["margin"]
    assert margin.per_seed[1] is None and margin.reached == 1 and margin.seeds == 2
    assert margin.labels_mean is None and margin.efficiency is None
    # the seed that reached it still pairs with random's
    assert margin.paired_mean == pytest.approx(3000 / 1500) and margin.paired_seeds == 1
    text = format_targets(target_rows(records, [Target("accuracy", 0.8)]))
    line = next(line for line in text.splitlines() if line.split()[3:4] == ["margin"])
    assert "not reached (1 of 2 seeds)" in line
    assert "2.00x ± 0.00 (1 of 2 seeds)" in line


def test_when_random_falls_short_the_efficiency_is_a_lower_bound():
    records = run("random", 0, [(1000, 0.6), (2000, 0.7)]) \
        + run("margin", 0, [(1000, 0.7), (2000, 0.9)])
    margin = rows_by_strategy(records)["margin"]
    assert margin.efficiency_at_least
    assert margin.efficiency == pytest.approx(2000 / 1500)  # random counted at 2000
    assert margin.paired_mean is None
    assert "≥ 1.33x" in format_targets(target_rows(records, [Target("accuracy", 0.8)]))


def test_no_baseline_gives_no_efficiency_and_the_metric_is_selectable():
    records = run("margin", 0, [(100, 0.5), (200, 0.7)], metric="macro_f1") \
        + run("margin", 0, [(100, 0.9), (200, 0.95)])  # accuracy is another metric
    (row,) = target_rows(records, [Target("macro_f1", 0.6)])
    assert row.labels_mean == pytest.approx(150) and row.efficiency is None
    assert row.target.name == "test macro-F1 0.600"


def test_the_table_has_a_row_per_target_and_strategy_and_says_how_targets_were_set():
    goals = TargetSpec("accuracy", (0.8,), (0.9,)).resolve(0.95, "cached")
    assert [t.value for t in goals] == [0.8, pytest.approx(0.855)]
    text = format_targets(target_rows(RANDOM + MARGIN, goals))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["target", "strategy"]
    assert len(lines) == 2 + 4 + 3  # header, rule, 2 targets x 2 strategies, 3 notes
    assert "1750 ± 354" in text and "1.57x" in text  # margin at 0.8
    assert "= 0.9 × full-data accuracy 0.950, cached" in text
    csv = targets_csv(target_rows(RANDOM + MARGIN, goals))
    assert len(csv) == 1 + 2 * 2 * 2  # a row per target, strategy and seed
