"""strategy.cost_weighted: informativeness per expected second of annotation time, on
hand-built probabilities (cost.py, through select_batch: the one selection path)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from activelearn.errors import ConfigError
from activelearn.strategies import SelectionInput, get_strategy, select_batch
from activelearn.strategies.cost import class_seconds_array, per_second

# Each row's top two probabilities decide margin's score 1 - (p1 - p2); the predicted
# class is the first of the two.


def row(predicted: int, p1: float, p2: float, classes: int = 3) -> list[float]:
    """A probability row predicting `predicted` with p1, the next class p2, rest spread."""
    other = (predicted + 1) % classes
    rest = (1.0 - p1 - p2) / (classes - 2)
    out = [rest] * classes
    out[predicted], out[other] = p1, p2
    return out


def probs(*rows: list[float]) -> SelectionInput:
    return SelectionInput(np.array(rows, dtype=np.float32))


def pick(inp: SelectionInput, n: int, seconds=None, balance=False, name="margin") -> list[int]:
    chosen, _ = select_batch(get_strategy(name), inp, np.arange(inp.size), n, seed=0,
                             class_balance=balance, class_seconds=seconds)
    return chosen.tolist()


def test_a_cheap_class_wins_at_equal_informativeness_and_beats_a_bit_more_informative() -> None:
    # items 0, 1: predicted class 0 (12 s a label); items 2, 3: class 1 (3 s)
    inp = probs(row(0, 0.5, 0.4), row(0, 0.5, 0.4), row(1, 0.5, 0.4), row(1, 0.7, 0.2))
    seconds = [12.0, 3.0, 6.0]
    # margin alone: the three 0.9 scores (0, 1, 2) before item 3's 0.5
    assert sorted(pick(inp, 3)) == [0, 1, 2]
    # per second: item 2 (0.9 / 3) first, then item 3 (0.5 / 3 beats 0.9 / 12)
    assert pick(inp, 2, seconds) == [2, 3]
    # equal seconds everywhere rank exactly as margin alone
    assert pick(inp, 4, [5.0, 5.0, 5.0]) == pick(inp, 4)


def test_the_selection_scores_are_per_second_and_best_first() -> None:
    inp = probs(row(0, 0.5, 0.4), row(1, 0.6, 0.3), row(2, 0.9, 0.05))
    _, sel = select_batch(get_strategy("entropy"), inp, np.arange(3), 3, 0,
                          class_seconds=[10.0, 2.0, 4.0])
    entropy = get_strategy("entropy").compute_score(inp.probs)  # type: ignore[attr-defined]
    expected = entropy / np.array([10.0, 2.0, 4.0])
    assert np.allclose(sel.scores, expected[sel.positions])
    assert list(sel.scores) == sorted(sel.scores, reverse=True)


def test_it_composes_with_class_balance() -> None:
    # 3 predicted classes, 4 candidates each; class 0 is 4x as slow as class 1
    rows = [row(c, 0.5 + 0.1 * k, 0.3, classes=3) for c in range(3) for k in range(4)]
    inp = probs(*rows)
    predicted = inp.probs.argmax(axis=1)
    seconds = [12.0, 3.0, 6.0]
    plain, weighted = pick(inp, 6, balance=True), pick(inp, 6, seconds, balance=True)
    # the quotas stay equal: two per predicted class either way, the same items (within a
    # class every item costs the same, so the strategy's own order decides)
    assert np.bincount(predicted[weighted], minlength=3).tolist() == [2, 2, 2]
    assert sorted(weighted) == sorted(plain)
    # ... and the batch is ordered per second: the cheap class's items come first
    assert predicted[weighted].tolist() == [1, 1, 2, 2, 0, 0]
    assert predicted[plain].tolist() != predicted[weighted].tolist()


def test_without_usable_seconds_it_ranks_by_score_alone(caplog) -> None:
    inp = probs(row(0, 0.5, 0.4), row(1, 0.6, 0.3), row(1, 0.5, 0.45))
    with caplog.at_level(logging.WARNING):
        assert pick(inp, 3, [0.0, float("nan"), -1.0]) == pick(inp, 3)
    assert "no class has a positive, finite median lead time" in caplog.text


def test_an_unusable_class_gets_the_median_of_the_others() -> None:
    got = class_seconds_array([4.0, 0.0, float("inf"), 10.0, 6.0], 5)
    assert got is not None and got.tolist() == [4.0, 6.0, 6.0, 10.0, 6.0]
    with pytest.raises(ValueError, match="class seconds for 2 classes, the model has 3"):
        class_seconds_array([1.0, 2.0], 3)


def test_a_score_at_or_below_zero_never_ranks_a_costlier_item_higher() -> None:
    # BALD can give -1e-7: dividing would make the 12 s item the better one
    ranked = per_second(np.array([-1e-7, -1e-7, 0.2, 0.0]), np.array([12.0, 3.0, 6.0, 3.0]))
    assert ranked[1] > ranked[0]  # equal negative scores: the cheaper first
    assert ranked[2] > ranked[3] >= ranked[1]  # any positive score above every other
    assert np.isnan(per_second(np.array([np.nan]), np.array([3.0])))[0]


def test_a_candidate_with_broken_probabilities_still_comes_last() -> None:
    inp = probs(row(0, 0.5, 0.4), [np.nan, 0.5, 0.5], row(1, 0.9, 0.05))
    assert pick(inp, 3, [12.0, 3.0, 6.0])[-1] == 1


@pytest.mark.parametrize("name", ["random", "coreset", "badge", "typiclust"])
def test_a_strategy_without_scores_cannot_be_cost_weighted(name) -> None:
    strategy = get_strategy(name)
    assert not strategy.ranks_by_score
    inp = SelectionInput(np.full((4, 3), 1 / 3, dtype=np.float32),
                         embeddings=np.eye(4, 3, dtype=np.float32),
                         labeled_embeddings=np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match=f"strategy.cost_weighted: {name} has no per-item"):
        select_batch(strategy, inp, np.arange(4), 2, 0, class_seconds=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", ["margin", "entropy", "least-confidence", "bald"])
def test_score_and_rank_strategies_declare_their_scores(name) -> None:
    assert get_strategy(name).ranks_by_score
