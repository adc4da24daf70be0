"""Each candidate's squared distance to its nearest centre, updated lazily.

k-center greedy (core-set) and k-means++ seeding (BADGE) add one centre per pick
and need every candidate's distance to the nearest centre. Updating all of them
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

# Rows per block in `refresh`: keeps the [rows, pending] temporaries small.
_REFRESH_ROWS = 16384


class NearestCentres:
    """Lazy nearest-centre squared distances over the candidates.

    bound: [candidates], at least the true squared distance to the nearest centre;
    a centre's own entry is `taken_value` (-inf to never pick it, 0 for no weight).
    """

    def __init__(
        self, sq_dist: SqDist, bound: np.ndarray, taken_value: float, max_pending: int = 64
    ) -> None:
        self._sq_dist = sq_dist
        self.bound = bound
        self.taken_value = taken_value
        self.max_pending = max_pending
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


def expand_sq(cross: np.ndarray, row_sq: np.ndarray, col_sq: np.ndarray) -> np.ndarray:
    """Squared distances |a|^2 - 2 a.b + |b|^2 from inner products, clamped at 0.

    cross: [rows, cols] inner products a.b (overwritten: it is the largest temporary),
    row_sq: [rows] |a|^2, col_sq: [cols] |b|^2 -> [rows, cols], the same array.
    """
    cross *= -2.0
    cross += row_sq[:, None]
    cross += col_sq
    return np.maximum(cross, 0.0, out=cross)
