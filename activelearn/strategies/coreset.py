"""Core-set selection (Sener & Savarese 2018): k-center greedy in embedding space."""

from __future__ import annotations

import numpy as np

from activelearn.strategies._inputs import require, zero_non_finite_rows
from activelearn.strategies._nearest import NearestCentres, expand_sq
from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy

# Bounds one block of the candidate-by-labeled distance matrix (float32 entries, 16 MiB).
_BLOCK_ENTRIES = 1 << 22
# Candidates checked exactly per pick before falling back to a refresh.
_SHORTLIST = 64


@register_strategy
class CoreSet(Strategy):
    """Repeatedly pick the candidate farthest from every centre, then make it a centre.

    The labeled items are the initial centres; without any, a seeded random
    candidate is the first pick. A score is the candidate's distance to its nearest
    centre when it was picked, so scores never increase along the selection (the
    random first pick, having no centre, gets the largest distance from it).
    """

    name = "coreset"
    needs_embeddings = True
    needs_labeled_embeddings = True

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        points = zero_non_finite_rows(require(inp, "embeddings", self.name), "embeddings")
        # Distances do not change under a shift; centring keeps the float32
        # expansion |x|^2 - 2 x.c + |c|^2 from cancelling large norms.
        offset = points.mean(axis=0)
        points = points - offset
        labeled = _labeled_points(inp, points.shape[1], self.name)
        if labeled is not None:
            return k_center_greedy(points, min_sq_distances(points, labeled - offset), n)
        start = int(rng.integers(inp.size))
        sel = k_center_greedy(points, np.full(inp.size, np.inf, dtype=np.float32), n, start)
        sel.scores[0] = sel.scores[1] if n > 1 else 0.0
        return sel


def _labeled_points(inp: SelectionInput, dim: int, strategy: str) -> np.ndarray | None:
    """labeled_embeddings as [labeled, dim] float32, or None when there are none."""
    if inp.labeled_embeddings is None or len(inp.labeled_embeddings) == 0:
        return None
    labeled = require(inp, "labeled_embeddings", strategy)
    if labeled.shape[1] != dim:
        raise ValueError(f"labeled_embeddings have dim {labeled.shape[1]}, embeddings {dim}")
    return zero_non_finite_rows(labeled, "labeled_embeddings")


def min_sq_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distance from each point to its nearest centre, in blocks of points.

    points: [candidates, dim], centres: [centres, dim] -> [candidates] float32
    """
    sq_norms = np.einsum("ij,ij->i", points, points)
    centre_sq_norms = np.einsum("ij,ij->i", centres, centres)
    rows = max(1, _BLOCK_ENTRIES // len(centres))
    out = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), rows):
        block = points[start:start + rows] @ centres.T  # [rows, centres]
        block *= -2.0  # in place: this block is the largest array the strategy makes
        block += centre_sq_norms
        out[start:start + rows] = block.min(axis=1)
    return np.maximum(out + sq_norms, 0.0)


def k_center_greedy(
    points: np.ndarray, min_sq: np.ndarray, n: int, start: int | None = None
) -> Selection:
    """Pick n points greedily, each the farthest from the centres so far.

    points: [candidates, dim]; min_sq: [candidates] squared distance to the nearest
    initial centre (+inf everywhere when there is none; then `start` is the first pick).
    Scores are sqrt(min_sq) at pick time (inf for `start`).
    """
    sq_norms = np.einsum("ij,ij->i", points, points)

    def sq_dist(rows: slice | np.ndarray, centres: np.ndarray) -> np.ndarray:
        return expand_sq(points[rows] @ points[centres].T, sq_norms[rows], sq_norms[centres])

    nearest = NearestCentres(sq_dist, min_sq, taken_value=-np.inf)
    positions = np.empty(n, dtype=np.int64)
    scores = np.empty(n, dtype=np.float64)
    for k in range(n):
        if k == 0 and start is not None:
            pick, sq = start, np.inf
        else:
            pick, sq = _farthest(nearest)
        positions[k], scores[k] = pick, np.sqrt(sq)
        nearest.add(pick)
        if nearest.full:
            nearest.refresh()
    return Selection(positions=positions, scores=scores)


def _farthest(nearest: NearestCentres) -> tuple[int, float]:
    """The candidate farthest from every centre, and its squared distance.

    Only the shortlist with the largest bounds is measured against pending centres.
    The best of it is the answer if its exact value beats every bound outside the
    shortlist, since bounds only overestimate; otherwise refresh and take the argmax.
    """
    bound = nearest.bound
    if nearest.pending and len(bound) > _SHORTLIST:
        order = np.argpartition(bound, len(bound) - _SHORTLIST - 1)
        shortlist = order[-_SHORTLIST:]
        exact = nearest.exact(shortlist)
        best = int(np.argmax(exact))
        if exact[best] >= bound[order[-_SHORTLIST - 1]]:
            return int(shortlist[best]), float(exact[best])
    nearest.refresh()
    pick = int(np.argmax(bound))
    return pick, float(bound[pick])
