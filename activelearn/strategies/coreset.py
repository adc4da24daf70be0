"""Core-set selection (Sener & Savarese 2018): k-center greedy in embedding space."""

from __future__ import annotations

import numpy as np

from activelearn.strategies import _faiss
from activelearn.strategies._inputs import check, float32_copy, require, zero_non_finite_rows
from activelearn.strategies._ivf import approx_min_sq
from activelearn.strategies._nearest import NearestCentres, exact_min_sq, expand_sq
from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy

# Candidates x labeled x dim above which the nearest-labeled distances are approximated
# (an inverted file over the labeled items, _ivf.py). 100,000 random candidates x 512 on
# 2 cores, exact (faiss) against the inverted file: 500 labeled 0.31 / 0.47 s, 1,000
# 0.51 / 0.80 s, 2,000 1.03 / 0.68 s, 5,000 2.83 / 0.86 s. Up to ~1 s, exact is worth it.
EXACT_WORK = 1e11
# Candidates checked exactly per pick before falling back to a refresh.
_SHORTLIST = 64
# Largest bounds kept at each refresh to draw the shortlists from: more than the picks
# before the next refresh (_nearest.MAX_PENDING), so they cannot all be taken.
_TOP = 4096


@register_strategy
class CoreSet(Strategy):
    """Repeatedly pick the candidate farthest from every centre, then make it a centre.

    The labeled items are the initial centres; without any, a seeded random
    candidate is the first pick. A score is the candidate's distance to its nearest
    centre when it was picked, so scores never increase along the selection (the
    random first pick, having no centre, gets the largest distance from it). With many
    candidates and many labeled items the initial distances are approximate (never
    below the exact ones): see `min_sq_distances`.
    """

    name = "coreset"
    needs_embeddings = True
    needs_labeled_embeddings = True

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        # The one float32 copy of the embeddings (2 GB at 1,000,000 x 512), edited in
        # place. Rows with a NaN or inf never get here (Strategy.select sets them aside).
        points = float32_copy(check(inp, "embeddings", self.name))
        # Distances do not change under a shift; centring keeps the float32
        # expansion |x|^2 - 2 x.c + |c|^2 from cancelling large norms (any shift near the
        # mean does: float32's rounding of it does not matter).
        offset = points.mean(axis=0)
        points -= offset
        labeled = _labeled_points(inp, points.shape[1], self.name)
        if labeled is not None:
            return k_center_greedy(points, min_sq_distances(points, labeled - offset, rng), n)
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


def min_sq_distances(points: np.ndarray, centres: np.ndarray, rng: np.random.Generator,
                     exact_work: float | None = None) -> np.ndarray:
    """Squared distance from each point to its nearest centre: exact when
    points x centres x dim <= exact_work (default EXACT_WORK), else an upper bound from
    an inverted file.

    points: [candidates, dim], centres: [centres, dim], float32 -> [candidates] float32.
    faiss does the exact search (IndexFlatL2) and trains the inverted file's lists when
    installed; without it, the exact numpy product, whatever the size.
    """
    faiss = _faiss.load()
    limit = EXACT_WORK if exact_work is None else exact_work
    if len(points) * len(centres) * points.shape[1] > limit:
        if faiss is not None:
            return approx_min_sq(points, centres, rng, faiss)
        _faiss.missing(f"the core-set measures {len(points)} candidates against "
                       f"{len(centres)} labeled items exactly")
    if faiss is not None:
        return _faiss.nearest_sq(faiss, points, centres)
    return exact_min_sq(points, centres)


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
    farthest = _Farthest(nearest)
    positions = np.empty(n, dtype=np.int64)
    scores = np.empty(n, dtype=np.float64)
    for k in range(n):
        if k == 0 and start is not None:
            pick, sq = start, np.inf
        else:
            pick, sq = farthest.next()
        positions[k], scores[k] = pick, np.sqrt(sq)
        nearest.add(pick)
        if nearest.full:
            farthest.refresh()
    return Selection(positions=positions, scores=scores)


class _Farthest:
    """Finds the candidate farthest from every centre, looking at few candidates a pick.

    Only a shortlist with the largest bounds is measured against the pending centres.
    Its best is the answer if its exact value beats every bound outside the shortlist,
    since bounds only overestimate; otherwise refresh and take the argmax. The shortlist
    comes from the `_TOP` largest bounds, kept from the last refresh (bounds change only
    there, or drop to -inf when picked): partitioning all 1,000,000 bounds costs 2.8 ms,
    2.8 s over 1,000 picks.
    """

    def __init__(self, nearest: NearestCentres) -> None:
        self._nearest = nearest
        self._top: np.ndarray = np.zeros(0, dtype=np.int64)  # [_TOP] the largest bounds
        self._outside = -np.inf  # the largest bound outside _top
        self.refresh()

    def refresh(self) -> None:
        """Make the bounds exact and find the largest again."""
        self._nearest.refresh()
        bound = self._nearest.bound
        if len(bound) > _TOP:
            order = np.argpartition(bound, len(bound) - _TOP - 1)
            self._top, self._outside = order[-_TOP:], float(bound[order[-_TOP - 1]])
        else:
            self._top, self._outside = np.arange(len(bound)), -np.inf

    def next(self) -> tuple[int, float]:
        """The candidate farthest from every centre, and its squared distance."""
        nearest = self._nearest
        values = nearest.bound[self._top]
        shortlist, rest = self._top, self._outside
        if len(values) > _SHORTLIST:
            order = np.argpartition(values, len(values) - _SHORTLIST - 1)
            shortlist = self._top[order[-_SHORTLIST:]]
            rest = max(rest, float(values[order[-_SHORTLIST - 1]]))
        exact = nearest.exact(shortlist)
        best = int(np.argmax(exact))
        if exact[best] >= rest and exact[best] > -np.inf:
            return int(shortlist[best]), float(exact[best])
        self.refresh()
        pick = int(np.argmax(nearest.bound))
        return pick, float(nearest.bound[pick])
