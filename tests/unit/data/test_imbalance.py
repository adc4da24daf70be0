"""simulate --imbalance: the train split subsampled so class counts fall geometrically."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.data.splits import imbalanced_counts, imbalanced_subset


def test_counts_fall_geometrically_from_the_largest_to_largest_over_the_ratio():
    counts = imbalanced_counts(np.full(10, 6000), 20)
    assert counts[0] == 6000 and counts[-1] == 300  # Fashion-MNIST with ratio 20
    assert np.all(np.diff(counts) < 0)
    steps = counts[1:] / counts[:-1]  # a constant ratio of 20^(-1/9) between classes
    assert steps == pytest.approx(np.full(9, 20 ** (-1 / 9)), abs=2e-3)


def test_a_class_never_keeps_more_than_it_has_nor_fewer_than_one():
    assert imbalanced_counts(np.array([100, 10, 100, 0]), 1000).tolist() == [100, 10, 1, 0]
    assert imbalanced_counts(np.array([5, 7]), 1).tolist() == [5, 7]  # ratio 1: all


def test_the_subset_keeps_those_counts_from_the_given_positions_only():
    labels = np.repeat(np.arange(3), 100)  # 100 per class at positions 0..299
    positions = np.arange(0, 300, 2)  # 50 of each class
    kept = imbalanced_subset(positions, labels, 3, ratio=10, seed=0)
    assert set(kept) <= set(positions.tolist()) and np.all(np.diff(kept) > 0)
    assert np.bincount(labels[kept], minlength=3).tolist() == [50, 16, 5]


def test_the_subset_is_seeded_and_keeps_unlabeled_positions():
    labels = np.array([0] * 20 + [1] * 20 + [-1] * 3)
    positions = np.arange(len(labels))
    first = imbalanced_subset(positions, labels, 2, ratio=4, seed=7)
    assert np.array_equal(first, imbalanced_subset(positions, labels, 2, ratio=4, seed=7))
    assert not np.array_equal(first, imbalanced_subset(positions, labels, 2, ratio=4, seed=8))
    assert {40, 41, 42} <= set(first.tolist())
    assert len(first) == 20 + 5 + 3
