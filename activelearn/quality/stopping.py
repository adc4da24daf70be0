"""Where a holdout curve is heading and whether to stop labelling: the maths and the
words of the stop decision, on holdout results already read (loop/stopping.py reads them
from the state; `cycle`, `status` and the report show them).

- each holdout accuracy is shown with its 95% Wilson interval (forecast.wilson_interval):
  on ~200 holdout items it moves by several points from round to round;
- the forecast (forecast.fit_curve) fits a power law to the holdout accuracy of every
  round against its train labels (3 rounds at different label counts at least) and says
  how many more labels reach the target (loop.target_accuracy, else the next whole
  percent above the fitted accuracy now) and what 1,000 more labels gain now; ranges are
  the 5th-95th percentiles of 200 seeded bootstrap resamples;
- the stop decision (loop.stop_when): the first criterion set and met stops `cycle`'s
  selection (see StopWhenConfig). The suggestion is shown either way; with no gain
  criterion set it compares the forecast gain with SUGGEST_GAIN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from activelearn.config import LoopConfig
from activelearn.quality.forecast import BAND, MIN_ROUNDS, CurveFit, fit_curve, wilson_interval

SUGGEST_GAIN = 0.002  # the suggestion's threshold (0.2 points per 1,000 labels) when
#                       loop.stop_when.gain_per_1000 is off
STEP = 1000  # the gain is per this many labels
RESAMPLES = 200
GAIN_KEY, ACCURACY_KEY = "loop.stop_when.gain_per_1000", "loop.stop_when.accuracy"


@dataclass(frozen=True)
class HoldoutPoint:
    """One round's holdout result: labels is its train labels (None: unknown yet)."""

    round: int
    labels: int | None
    correct: int
    items: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.items if self.items else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the accuracy."""
        return wilson_interval(self.correct, self.items)


def correct_of(payload: dict) -> tuple[int, int]:
    """(correct, items) of an evaluation's payload: the confusion matrix's diagonal and
    total when it has one, else accuracy times items."""
    confusion = payload.get("confusion")
    if confusion:
        return (sum(row[k] for k, row in enumerate(confusion)),
                sum(sum(row) for row in confusion))
    items = int(payload.get("items") or 0)
    return round(payload["accuracy"] * items), items


def accuracy_text(payload: dict, digits: int = 4) -> str:
    """"0.8420 (95% CI 0.7854-0.8867)": an accuracy with its Wilson interval."""
    correct, items = correct_of(payload)
    low, high = wilson_interval(correct, items)
    return f"{payload['accuracy']:.{digits}f} (95% CI {low:.{digits}f}-{high:.{digits}f})"


@dataclass(frozen=True)
class Outlook:
    """The holdout curve's outlook: the latest result, the forecast (None with fewer than
    MIN_ROUNDS label counts), its target, the stop reason (a loop.stop_when criterion
    met: cycle stops selecting) and the suggestion shown either way."""

    latest: HoldoutPoint | None
    rounds: int  # distinct label counts with holdout results
    labels: int | None  # the newest fitted label count: where the gain is measured
    fit: CurveFit | None
    target: float | None
    stop: str | None
    stop_key: str | None  # the loop.stop_when key of the criterion met
    suggestion: str

    def lines(self) -> list[str]:
        """The forecast and the suggestion, a line each."""
        return [*forecast_lines(self), self.suggestion]

    def to_dict(self) -> dict[str, Any]:
        """The forecast as plain, JSON-able data (inf and nan become None)."""
        fit, n = self.fit, self.labels
        out: dict[str, Any] = {"rounds": self.rounds, "min_rounds": MIN_ROUNDS,
                               "labels": n, "target": self.target, "fitted": fit is not None}
        if fit is None or n is None:
            return out
        reach = fit.labels_to_reach(self.target) if self.target is not None else None
        out.update({
            "curve": {"a": fit.a, "b": fit.b, "c": fit.c, "scale": fit.scale,
                      "dispersion": fit.dispersion},
            "band": f"{BAND[0]:g}th-{BAND[1]:g}th percentiles of {len(fit.draws)} "
                    "bootstrap resamples",
            "accuracy": _band_dict(fit.predict_band(n)),
            "gain_per_1000": _band_dict(fit.gain_per(n, STEP)),
            "labels_to_reach": None if reach is None else _band_dict(reach),
            "more_labels": None if reach is None else _band_dict(
                tuple(max(0.0, v - n) for v in reach))})
        return out


def outlook(points: list[HoldoutPoint], loop: LoopConfig, resamples: int = RESAMPLES,
            seed: int = 0) -> Outlook:
    """The outlook of holdout results (see the module); the fit is seeded, so the same
    results give the same forecast and decision."""
    fitted = [p for p in points if p.labels and p.items > 0]  # 0 labels: not a point
    counts = [p.labels for p in fitted if p.labels is not None]
    rounds = len(set(counts))
    fit = fit_curve(counts, [p.accuracy for p in fitted], [p.items for p in fitted],
                    resamples, seed) if rounds >= MIN_ROUNDS else None
    labels = max(counts, default=None)
    latest = points[-1] if points else None
    target = loop.target_accuracy or loop.stop_when.accuracy or None
    if target is None and fit is not None and labels is not None:
        target = min(1.0, math.floor(float(fit.predict(labels)) * 100 + 1) / 100)
    met, unmet = _criteria(latest, fit, labels, loop)
    stop, key = next(((why, k) for why, k in met if k), (None, None))
    if stop is not None:
        suggestion = f"stop suggested: {stop}"
    elif met:
        suggestion = (f"stop suggested: {met[0][0]}; set {GAIN_KEY} for cycle to stop "
                      "selecting batches")
    else:
        suggestion = "keep labelling: " + ("; ".join(unmet) or f"forecast needs {MIN_ROUNDS} "
                                           f"rounds with holdout results (have {rounds})")
    return Outlook(latest, rounds, labels, fit, target, stop, key, suggestion)


def _criteria(latest: HoldoutPoint | None, fit: CurveFit | None, labels: int | None,
              loop: LoopConfig) -> tuple[list[tuple[str, str | None]], list[str]]:
    """([(why met, its loop.stop_when key; None for the suggestion's default)], [why
    not met]) of the accuracy and gain criteria."""
    when = loop.stop_when
    met: list[tuple[str, str | None]] = []
    unmet: list[str] = []
    if when.accuracy > 0 and latest is not None:
        low, high = latest.interval
        shown = (f"holdout accuracy {latest.accuracy:.3f} (95% CI {low:.3f}-{high:.3f}, "
                 f"{latest.items} items)")
        by = ", its lower end" if when.strict else ","
        limit = f"{ACCURACY_KEY} {when.accuracy:g}"
        if (low if when.strict else latest.accuracy) >= when.accuracy:
            met.append((f"{shown}{by} at or above {limit}", ACCURACY_KEY))
        else:
            unmet.append(f"{shown}{by} below {limit}")
    if fit is not None and labels is not None:
        gain, low, high = fit.gain_per(labels, STEP)
        threshold = when.gain_per_1000 or SUGGEST_GAIN
        shown = f"forecast gain {gain_text(gain, low, high, labels, f' per {STEP:,} labels')}"
        # the suggestion alone (no gain criterion set) waits for the band: a few noisy
        # rounds fit a flat curve more often than the rounds after them bear out
        strict = when.strict or not when.gain_per_1000
        by = ", its upper end" if strict else ","
        limit = f"{GAIN_KEY} {threshold:g} ({threshold * 100:g} points)" \
            if when.gain_per_1000 else \
            f"{threshold * 100:g} points, the suggestion's threshold ({GAIN_KEY} is off)"
        if (high if strict else gain) < threshold:
            met.append((f"{shown}{by} below {limit}", GAIN_KEY if when.gain_per_1000 else None))
        else:
            unmet.append(f"{shown}{by} not below {limit}")
    return met, unmet


def forecast_lines(found: Outlook) -> list[str]:
    """"forecast: ..." lines: the fitted accuracy now and its asymptote, the labels to
    reach the target, the gain per 1,000 labels."""
    fit, n, target = found.fit, found.labels, found.target
    if fit is None or n is None:
        return [f"forecast: needs {MIN_ROUNDS} rounds with holdout results (have "
                f"{found.rounds})"]
    now, low, high = fit.predict_band(n)
    lines = [f"forecast: holdout accuracy {now:.3f} (range {low:.3f}-{high:.3f}) at {n:,} "
             f"labels, levelling off at {fit.asymptote:.3f} (power law fitted to "
             f"{found.rounds} rounds; ranges: {BAND[0]:g}th-{BAND[1]:g}th percentiles of "
             f"{len(fit.draws)} bootstrap resamples)"]
    if target is not None:
        lines.append(_reach_line(fit, n, target))
    gain, low, high = fit.gain_per(n, STEP)
    lines.append(f"forecast: gain per {STEP:,} labels: {gain_text(gain, low, high, n)}")
    return lines


def _reach_line(fit: CurveFit, n: int, target: float) -> str:
    goal = f"{target * 100:g}%"
    reach = fit.labels_to_reach(target)
    if reach is None:
        return (f"forecast: {goal} is not reached: the fitted curve levels off at "
                f"{fit.asymptote:.3f}")
    estimate, low, high = reach
    if estimate <= n:
        return f"forecast: {goal} is reached already by the fitted curve at {n:,} labels"
    lowest = f"{max(0.0, low - n):,.0f}"
    if math.isfinite(high):
        shown = f"range {lowest}-{high - n:,.0f}"
    else:  # more than the band's share of the resampled curves level off below the goal
        never = float((fit.draws[:, 0] <= target).mean())
        shown = f"range {lowest} to never: {never:.0%} of the resampled curves level off below"
    return f"forecast: about {estimate - n:,.0f} more labels ({shown}) to reach {goal}"


def gain_text(gain: float, low: float, high: float, n: int, per: str = "") -> str:
    """"+0.8 points{per} (range +0.3 to +1.2) at 2,000 labels": a gain in percentage
    points, with 2 decimals when it is below 0.1."""
    spec = "+.2f" if abs(gain) < 0.001 else "+.1f"
    return (f"{gain * 100:{spec}} points{per} (range {low * 100:{spec}} to "
            f"{high * 100:{spec}}) at {n:,} labels")


def _band_dict(band: tuple[float, ...]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None)
            for k, v in zip(("estimate", "low", "high"), band)}
