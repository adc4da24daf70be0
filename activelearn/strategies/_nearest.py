"""Each candidate's squared distance to its nearest centre, updated lazily.

k-center greedy (core-set) and k-means++ seeding (BADGE, and the k-means of the
clustering strategies: `D2Sampler`) add one centre per pick and need every
candidate's distance to the nearest centre. Updating all of them
per pick is a pass over the whole [candidates, dim] array, memory-bound at
several milliseconds for 60,000 x 128 on a 2-core machine, times 500 picks.
Instead `bound` holds upper bounds, exact as of the last `refresh`; the centres
added since then are `pending`, and a pick measures only the few candidates it
looks at against them. `refresh` folds the pending centres in with one
matrix-matrix product, which is far cheaper than as many matrix-vector ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# sq_dist(rows, centres): [len(rows), len(centres)] squared distances from the
# candidates at `rows` (a slice or positions) to the candidates at `centres`.
SqDist = Callable[[slice | np.ndarray, np.ndarray], np.ndarray]

# Bounds one block of a points-by-centres distance matrix (float32 entries, 16 MiB).
_BLOCK_ENTRIES = 1 << 22
# Rows per block in `refresh`: keeps the [rows, pending] temporaries small.
_REFRESH_ROWS = 16384
# Centres pending before a refresh folds them in. A refresh reads every candidate, so
# fewer, wider ones are cheaper: 1,000 picks among 1,000,000 x 512 took 11.8 s (64),
# 8.6 s (128), 6.6 s (256) for the core-set, 13.2, 12.7 and 9.1 s for BADGE.
MAX_PENDING = 256
# Rejected D^2 proposals in a row before the bounds are refreshed (which makes the next
# proposal certain to be accepted).
_MAX_REJECTIONS = 16


class NearestCentres:
    """Lazy nearest-centre squared distances over the candidates.

    bound: [candidates], at least the true squared distance to the nearest centre;
    a centre's own entry is `taken_value` (-inf to never pick it, 0 for no weight).
    """

    def __init__(
        self, sq_dist: SqDist, bound: np.ndarray, taken_value: float,
        max_pending: int | None = None,
    ) -> None:
        self._sq_dist = sq_dist
        self.bound = bound
        self.taken_value = taken_value
        self.max_pending = MAX_PENDING if max_pending is None else max_pending
        self.pending: list[int] = []

    @property
    def full(self) -> bool:
        """True when enough centres are pending that a refresh is due."""
        return len(self.pending) >= self.max_pending

    def add(self, position: int) -> None:
        """Make the candidate at `position` a centre."""
        self.bound[position] = self.taken_value
        self.pending.append(position)

    def exact(self, rows: np.ndarray) -> np.ndarray:
        """rows: [m] positions -> [m] true squared distances to the nearest centre."""
        values = self.bound[rows]
        if self.pending:
            to_pending = self._sq_dist(rows, np.asarray(self.pending)).min(axis=1)
            values = np.minimum(values, to_pending)
        return values

    def refresh(self) -> None:
        """Fold the pending centres into `bound`, making it exact."""
        if not self.pending:
            return
        centres = np.asarray(self.pending)
        for start in range(0, len(self.bound), _REFRESH_ROWS):
            rows = slice(start, start + _REFRESH_ROWS)
            nearest = self._sq_dist(rows, centres).min(axis=1)
            np.minimum(self.bound[rows], nearest, out=self.bound[rows])
        self.pending = []


def exact_min_sq(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distance from each point to its nearest centre, in blocks of points.

    points: [points, dim], centres: [centres, dim], float32 -> [points] float32
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


def expand_sq(cross: np.ndarray, row_sq: np.ndarray, col_sq: np.ndarray) -> np.ndarray:
    """Squared distances |a|^2 - 2 a.b + |b|^2 from inner products, clamped at 0.

    cross: [rows, cols] inner products a.b (overwritten: it is the largest temporary),
    row_sq: [rows] |a|^2, col_sq: [cols] |b|^2 -> [rows, cols], the same array.
    """
    cross *= -2.0
    cross += row_sq[:, None]
    cross += col_sq
    return np.maximum(cross, 0.0, out=cross)


class D2Sampler:
    """Draws a candidate with probability proportional to its squared nearest-centre distance.

    Rejection sampling: propose from the bounds as of the last refresh (one cumulative
    sum per refresh, not per pick), accept with probability exact / bound. Bounds only
    overestimate, so accepted draws follow the exact D^2 distribution.
    """

    def __init__(self, nearest: NearestCentres, rng: np.random.Generator) -> None:
        self._nearest = nearest
        self._rng = rng
        self._weights: np.ndarray = np.zeros(0)  # [candidates] bounds at the last refresh
        self._cumulative: np.ndarray = np.zeros(0)  # [candidates] their running sum

    def draw(self, taken: np.ndarray) -> tuple[int, float]:
        """A position not in taken: [k], and its squared distance to the nearest centre."""
        if self._nearest.full or not len(self._cumulative):
            self._refresh()
        for _ in range(_MAX_REJECTIONS):
            drawn = self._propose_and_test()
            if drawn is not None:
                return drawn
        self._refresh()
        drawn = self._propose_and_test()
        if drawn is not None:
            return drawn
        # Every remaining candidate sits on a centre: no weight anywhere, draw uniformly.
        untaken = np.setdiff1d(np.arange(len(self._weights)), taken)
        return int(self._rng.choice(untaken)), 0.0

    def _refresh(self) -> None:
        self._nearest.refresh()
        self._weights = self._nearest.bound.copy()
        self._cumulative = np.cumsum(self._weights, dtype=np.float64)

    def _propose_and_test(self) -> tuple[int, float] | None:
        total = self._cumulative[-1]
        if not total > 0.0:
            return None
        # side="right" never lands on a zero weight: its cumulative equals the previous one.
        proposal = int(np.searchsorted(self._cumulative, self._rng.random() * total, "right"))
        proposal = min(proposal, len(self._weights) - 1)
        sq = float(self._nearest.exact(np.array([proposal]))[0])
        if self._rng.random() * self._weights[proposal] < sq:
            return proposal, sq
        return None
