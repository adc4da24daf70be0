"""From pool positions to a strategy's batch and back: which unlabeled positions are
scored (all, or a seeded subset), and the pool positions of what the strategy picks.
Shared by simulate, the select job and the cycle, so they pick alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from activelearn.errors import PoolExhaustedError
from activelearn.strategies.base import Selection, SelectionInput, Strategy
from activelearn.strategies.cost import with_expected_seconds


def candidate_positions(unlabeled: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The unlabeled positions to score: all of them, or a seeded random subset of `limit`.

    unlabeled: [items] pool positions -> [min(items, limit)] sorted positions."""
    if limit <= 0 or limit >= len(unlabeled):
        return unlabeled
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(unlabeled, size=limit, replace=False))


def select_batch(strategy: Strategy, inp: SelectionInput, candidates: np.ndarray, n: int,
                 seed: int, class_balance: bool = False,
                 class_seconds: Sequence[float] | None = None) -> tuple[np.ndarray, Selection]:
    """Pool positions of the selected batch ([n], best first) and the strategy's selection
    (positions into candidates). candidates: [items] the pool positions inp describes.
    class_balance: the strategy picks within each predicted class (see balanced_select).
    class_seconds: [classes] the expected seconds to label an item of each class
    (strategy.cost_weighted): the strategy ranks by its score per expected second of the
    candidate's predicted class (cost.py; a ConfigError for a strategy without per-item
    scores); None = by its score alone. With class_balance the quotas stay equal (every
    item of a predicted class costs the same) and the batch is ordered per second."""
    if class_seconds is not None:
        inp = with_expected_seconds(strategy, inp, class_seconds)
    sel = balanced_select(strategy, inp, n, seed) if class_balance else \
        strategy.select(inp, n, seed)
    return candidates[sel.positions], sel


def balanced_select(strategy: Strategy, inp: SelectionInput, n: int, seed: int) -> Selection:
    """The strategy's picks made class by class: the candidates are grouped by the model's
    predicted class, each class gets an equal quota of the batch (a class with fewer
    candidates gives its unused share to the others: class_quotas), and the strategy
    picks its quota within the class. The batch is ordered by score, best first, as the
    strategy's own scores are comparable across classes.

    A rare class is then asked about as often as a common one, even when the model is
    unsure about few of its items (it would otherwise starve: its items rarely have the
    highest scores)."""
    predicted = np.asarray(inp.probs).argmax(axis=1)
    classes = int(inp.probs.shape[1])
    quotas = class_quotas(np.bincount(predicted, minlength=classes), n)
    positions, scores = [], []
    for c in np.flatnonzero(quotas):
        rows = np.flatnonzero(predicted == c)
        sel = strategy.select(inp.subset(rows), int(quotas[c]), seed * 1009 + int(c))
        positions.append(rows[sel.positions])
        scores.append(sel.scores)
    merged_positions, merged_scores = np.concatenate(positions), np.concatenate(scores)
    order = np.argsort(-np.nan_to_num(merged_scores, nan=-np.inf), kind="stable")
    return Selection(merged_positions[order], merged_scores[order])


def class_quotas(available: np.ndarray, n: int) -> np.ndarray:
    """[classes] how many of a batch of n each class gets: equal shares, none above what
    the class has (available: [classes] candidates per class), the rest shared among the
    classes with candidates left; when the shares cannot be equal, the classes with the
    fewest candidates get the extra one first. Raises PoolExhaustedError when all
    classes together have fewer than n."""
    available = np.asarray(available, dtype=np.int64)
    if n > available.sum():
        raise PoolExhaustedError(available=int(available.sum()), requested=n)
    quotas = np.zeros_like(available)
    remaining = n
    while remaining > 0:
        room = available - quotas
        open_classes = np.flatnonzero(room > 0)
        share = remaining // len(open_classes)
        if share == 0:  # fewer left than open classes: one each, scarcest first
            scarcest = open_classes[np.argsort(room[open_classes], kind="stable")]
            quotas[scarcest[:remaining]] += 1
            break
        give = np.minimum(room[open_classes], share)
        quotas[open_classes] += give
        remaining -= int(give.sum())
    return quotas
