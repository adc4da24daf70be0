"""Ranking label errors from out-of-fold probabilities, on hand-built numbers."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.quality.label_errors import (
    assign_folds,
    rank_label_errors,
    recall_in_top,
    share_wrong_in_top,
)


def test_ranks_contradicted_labels_by_the_probability_taken_from_the_label():
    probs = np.array([[0.9, 0.1, 0.0],   # label 0, agrees: not ranked
                      [0.1, 0.8, 0.1],   # label 0, model says 1 at 0.8: score 0.9
                      [0.3, 0.0, 0.7],   # label 0, model says 2 at 0.7: score 0.7
                      [0.05, 0.0, 0.95],  # label 1, model says 2 at 0.95: score 1.0
                      [0.4, 0.35, 0.25]])  # label 1, model says 0 at 0.4: score 0.65
    labels = np.array([0, 0, 0, 1, 1])
    ranking = rank_label_errors(probs, labels)
    assert ranking.index.tolist() == [3, 1, 2, 4]
    assert ranking.suggestion.tolist() == [2, 1, 2, 0]
    np.testing.assert_allclose(ranking.score, [1.0, 0.9, 0.7, 0.65])
    confident = rank_label_errors(probs, labels, min_confidence=0.75)
    assert confident.index.tolist() == [3, 1]
    assert share_wrong_in_top(ranking, np.array([0, 1, 0, 1, 0], dtype=bool), 2) == 1.0
    assert share_wrong_in_top(confident, np.array([0, 1, 0, 1, 0], dtype=bool), 4) == 0.5
    # recall: of the 3 wrong labels, the top 2 catch 1 and the whole ranking 2 (item 0,
    # wrong but agreed with, is never ranked)
    wrong = np.array([1, 0, 1, 1, 0], dtype=bool)
    assert recall_in_top(ranking, wrong, 2) == pytest.approx(1 / 3)
    assert recall_in_top(ranking, wrong, 10) == pytest.approx(2 / 3)


def test_equal_scores_keep_array_order_and_shapes_are_checked():
    probs = np.array([[0.2, 0.8]] * 3)
    assert rank_label_errors(probs, np.zeros(3, dtype=int)).index.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="disagree"):
        rank_label_errors(probs, np.zeros(2, dtype=int))


def test_folds_are_balanced_and_do_not_depend_on_the_order_of_the_ids():
    ids = [f"item-{i}" for i in range(101)]
    folds = assign_folds(ids, 3, seed=7)
    assert sorted(np.bincount(folds).tolist()) == [33, 34, 34]
    shuffled = list(reversed(ids))
    again = dict(zip(shuffled, assign_folds(shuffled, 3, seed=7)))
    assert all(again[i] == k for i, k in zip(ids, folds))
    assert not np.array_equal(assign_folds(ids, 3, seed=8), folds)
    with pytest.raises(ValueError, match="at least 2 folds"):
        assign_folds(ids, 1, seed=0)
