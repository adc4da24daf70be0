"""BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings."""

from __future__ import annotations

import numpy as np

from activelearn.strategies._inputs import require, zero_non_finite_rows
from activelearn.strategies._nearest import D2Sampler, NearestCentres, expand_sq
from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy


@register_strategy
class Badge(Strategy):
    """Pick candidates that are uncertain (large gradient) and different from each other.

    The gradient embedding of candidate i is g_i = (p_i - onehot(argmax p_i)) outer
    emb_i, flattened to [classes * dim]: the last layer's loss gradient if the
    predicted label were the true one. The first pick has the largest |g|; every
    later one is drawn with probability proportional to its squared distance to the
    nearest pick so far. A score is that distance when the item was picked (|g| for
    the first).
    """

    name = "badge"
    needs_embeddings = True

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        probs = zero_non_finite_rows(require(inp, "probs", self.name), "probs")
        # Rows with a NaN or inf never get here (Strategy.select sets them aside), so the
        # embeddings need no check: a pass over 2 GB at a million candidates.
        emb = require(inp, "embeddings", self.name)
        residual = probs.copy()  # [candidates, classes]: p - onehot(argmax p)
        residual[np.arange(len(probs)), probs.argmax(axis=1)] -= 1.0
        return kmeans_plus_plus(residual, emb, n, rng)


def kmeans_plus_plus(
    residual: np.ndarray, emb: np.ndarray, n: int, rng: np.random.Generator
) -> Selection:
    """k-means++ seeding on g_i = residual_i outer emb_i without building g.

    residual: [candidates, classes], emb: [candidates, dim].
    <g_i, g_j> = <residual_i, residual_j> <emb_i, emb_j>, so distances need only
    products of [candidates, classes] and [candidates, dim] arrays, never the
    [candidates, classes*dim] one (307 MB for 60,000 x 10 x 128).
    """
    sq_norms = np.einsum("ij,ij->i", residual, residual) * np.einsum("ij,ij->i", emb, emb)

    def sq_dist(rows: slice | np.ndarray, centres: np.ndarray) -> np.ndarray:
        cross = residual[rows] @ residual[centres].T
        cross *= emb[rows] @ emb[centres].T
        return expand_sq(cross, sq_norms[rows], sq_norms[centres])

    nearest = NearestCentres(sq_dist, np.full(len(emb), np.inf, np.float32), taken_value=0.0)
    sampler = D2Sampler(nearest, rng)
    positions = np.empty(n, dtype=np.int64)
    scores = np.empty(n, dtype=np.float64)
    positions[0] = int(np.argmax(sq_norms))
    scores[0] = np.sqrt(sq_norms[positions[0]])
    nearest.add(int(positions[0]))
    for k in range(1, n):
        pick, sq = sampler.draw(taken=positions[:k])
        positions[k], scores[k] = pick, np.sqrt(sq)
        nearest.add(pick)
    return Selection(positions=positions, scores=scores)
