"""From pool positions to a strategy's batch and back: which unlabeled positions are
scored (all, or a seeded subset), and the pool positions of what the strategy picks.
Shared by simulate, the select job and the cycle, so they pick alike."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.base import Selection, SelectionInput, Strategy


def candidate_positions(unlabeled: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The unlabeled positions to score: all of them, or a seeded random subset of `limit`.

    unlabeled: [items] pool positions -> [min(items, limit)] sorted positions."""
    if limit <= 0 or limit >= len(unlabeled):
        return unlabeled
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(unlabeled, size=limit, replace=False))


def select_batch(strategy: Strategy, inp: SelectionInput, candidates: np.ndarray, n: int,
                 seed: int) -> tuple[np.ndarray, Selection]:
    """Pool positions of the selected batch ([n], best first) and the strategy's selection
    (positions into candidates). candidates: [items] the pool positions inp describes."""
    sel = strategy.select(inp, n, seed)
    return candidates[sel.positions], sel
