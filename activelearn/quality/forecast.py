"""How sure a holdout accuracy is, and where the learning curve is heading: pure numpy.

- `wilson_interval`: the Wilson score interval of a binomial proportion (correct of n
  holdout items). Unlike "p ± z·se" it stays inside [0, 1] and is not empty at 0/n or
  n/n; on 200 items a 0.84 accuracy is 0.78-0.88 at 95%.
- `fit_curve`: a power law ``acc(n) = a - b * n**(-c)`` (a <= 1, b >= 0, c > 0; a at
  least the best observed accuracy) fitted to accuracy against train labels by weighted
  least squares (weights 1/variance of each accuracy, binomial), with a parametric
  bootstrap band: each resample draws every round's accuracy again from
  Binomial(items, accuracy) / items (the spread scaled up when the fit's residuals are
  wider than binomial noise) and refits. The band is the 5th-95th percentile of the
  resamples (a 90% band).

The fitter is exact for its grid: c runs over a fine log-spaced grid (0.01 to 4); for
each c the model is linear in (a, b) and the box-constrained weighted least squares is
solved in closed form (the free optimum, else the best point of each edge of the box).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_ROUNDS = 3  # distinct label counts with an accuracy: fewer cannot fix 3 parameters
BAND = (5.0, 95.0)  # percentiles of the bootstrap resamples that make the band
EXPONENTS = np.geomspace(0.01, 4.0, 600)  # the grid of c


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """(low, high) of the Wilson score interval of correct/n (z=1.96: 95%); n = 0 knows
    nothing: (0, 1)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be 0 to n ({n}), got {correct}")
    p, z2 = correct / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


Band = tuple[float, float, float]  # (estimate, low, high)


@dataclass(frozen=True)
class CurveFit:
    """A fitted learning curve ``acc(n) = a - b * (n / scale)**(-c)`` and its bootstrap
    resamples (`draws`: [resamples, 3] of a, b, c). The ranges its methods return are the
    BAND percentiles of the resamples."""

    a: float
    b: float
    c: float
    scale: float  # labels are divided by this (their geometric mean) before the power
    labels: tuple[int, ...]  # the fitted points
    accuracy: tuple[float, ...]
    items: tuple[int, ...]
    dispersion: float  # residual variance / binomial variance (1 when within noise)
    draws: np.ndarray

    @property
    def asymptote(self) -> float:
        """The accuracy the curve approaches with unlimited labels (a)."""
        return self.a

    def predict(self, n: float | np.ndarray) -> float | np.ndarray:
        """The fitted accuracy at n train labels (a number or an array of them)."""
        value = _curve(self.a, self.b, self.c, np.asarray(n, dtype=float) / self.scale)
        return float(value) if np.ndim(value) == 0 else value

    def predict_band(self, n: float) -> Band:
        """(fitted accuracy, low, high) at n labels."""
        drawn = _curve(self.draws[:, 0], self.draws[:, 1], self.draws[:, 2], n / self.scale)
        return (float(self.predict(n)), *_band(drawn))

    def gain_per(self, n: float, step: float = 1000) -> Band:
        """(accuracy gained by `step` more labels at n, low, high), as a fraction."""
        d = self.draws
        drawn = (_curve(d[:, 0], d[:, 1], d[:, 2], (n + step) / self.scale)
                 - _curve(d[:, 0], d[:, 1], d[:, 2], n / self.scale))
        return (float(self.predict(n + step)) - float(self.predict(n)), *_band(drawn))

    def labels_to_reach(self, target: float) -> Band | None:
        """(train labels at which the curve reaches target, low, high); None when the
        fitted asymptote is at or below target (not reached by the forecast). A bound is
        inf when more than the band's share of resamples never reach it."""
        estimate = _labels_at(self.a, self.b, self.c, target) * self.scale
        if not math.isfinite(estimate):
            return None
        d = self.draws
        drawn = _labels_at(d[:, 0], d[:, 1], d[:, 2], target) * self.scale
        return (float(estimate), *_band(drawn))


def fit_curve(labels: Sequence[float], accuracy: Sequence[float], items: Sequence[int],
              resamples: int = 200, seed: int = 0) -> CurveFit:
    """Fit the power law to accuracy [rounds] against train labels [rounds], each
    accuracy measured on items [rounds] holdout items; seeded bootstrap of `resamples`.
    Raises ValueError with fewer than MIN_ROUNDS distinct label counts."""
    n = np.asarray(labels, dtype=float)
    y = np.asarray(accuracy, dtype=float)
    m = np.asarray(items, dtype=float)
    if not (n.shape == y.shape == m.shape) or n.ndim != 1:
        raise ValueError("labels, accuracy and items must be equal-length sequences")
    if len(np.unique(n)) < MIN_ROUNDS:
        raise ValueError(f"needs {MIN_ROUNDS} rounds at different label counts, got "
                         f"{len(np.unique(n))}")
    if np.any(n <= 0) or np.any(m <= 0) or np.any((y < 0) | (y > 1)):
        raise ValueError("labels and items must be positive, accuracy in [0, 1]")
    scale = float(np.exp(np.mean(np.log(n))))
    u = np.log(n / scale)
    # the binomial variance of each accuracy, from a smoothed proportion (never 0)
    p = (y * m + 1) / (m + 2)
    var = p * (1 - p) / m
    w = 1 / var
    a, b, c, sse = _fit(u, y, w)
    dof = len(y) - 3
    dispersion = max(1.0, sse / dof) if dof > 0 else 1.0
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, 3))
    for r in range(resamples):
        noise = rng.binomial(m.astype(np.int64), p) / m - p
        drawn = np.clip(y + noise * math.sqrt(dispersion), 0.0, 1.0)
        draws[r] = _fit(u, drawn, w)[:3]
    return CurveFit(a, b, c, scale, tuple(int(v) for v in n), tuple(float(v) for v in y),
                    tuple(int(v) for v in m), dispersion, draws)


def _fit(u: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float, float]:
    """The weighted least-squares (a, b, c) of y ≈ a - b·exp(-c·u) with max(y) <= a <= 1
    and b >= 0, and its weighted sum of squared residuals. u, y, w: [points]."""
    floor = min(float(y.max()), 1.0)
    x = np.exp(-EXPONENTS[:, None] * u[None, :])  # [grid, points]
    sw = w.sum()
    mx, my = (x * w).sum(1) / sw, float((w * y).sum() / sw)
    sxx = (w * (x - mx[:, None]) ** 2).sum(1)
    sxy = (w * (x - mx[:, None]) * (y - my)).sum(1)
    b_free = -np.divide(sxy, sxx, out=np.zeros_like(sxx), where=sxx > 1e-15)
    candidates = [(my + b_free * mx, b_free)]  # the free optimum, if inside the box
    sxx0 = (w * x * x).sum(1)
    for edge in (floor, 1.0):  # a on an edge: the best b >= 0
        b = np.maximum(0.0, (w * x * (edge - y)).sum(1) / sxx0)
        candidates.append((np.full_like(b, edge), b))
    candidates.append((np.full_like(mx, min(max(my, floor), 1.0)), np.zeros_like(mx)))
    best = (math.inf, 0.0, 0.0, 0.0)
    for a, b in candidates:
        sse = (w * (y - a[:, None] + b[:, None] * x) ** 2).sum(1)
        sse[(a < floor - 1e-12) | (a > 1 + 1e-12) | (b < 0)] = math.inf
        k = int(np.argmin(sse))
        if sse[k] < best[0]:
            best = (float(sse[k]), float(a[k]), float(b[k]), float(EXPONENTS[k]))
    sse, a, b, c = best
    return a, b, c, sse


def _curve(a: np.ndarray | float, b: np.ndarray | float, c: np.ndarray | float,
           x: np.ndarray | float) -> np.ndarray:
    return np.asarray(a - b * np.power(x, -np.asarray(c)))


def _labels_at(a: np.ndarray | float, b: np.ndarray | float, c: np.ndarray | float,
               target: float) -> np.ndarray:
    """Scaled labels where a - b·x^-c = target: inf where a <= target; 0 where b is 0
    and a is above target (reached with any labels)."""
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    gap = a - target
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(gap > 0, np.power(b / np.where(gap > 0, gap, 1.0), 1 / c), np.inf)
    return x


def _band(values: np.ndarray) -> tuple[float, float]:
    """The BAND percentiles of the resamples' values (inf kept: 'inverted_cdf' picks
    observed values instead of interpolating)."""
    low, high = np.percentile(values, BAND, method="inverted_cdf")
    return float(low), float(high)
