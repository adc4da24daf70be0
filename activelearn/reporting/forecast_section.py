"""The report's "Forecast and stopping" section: the power-law forecast of the holdout
curve (quality/forecast.py) with its bootstrap band, and the stopping suggestion
(quality/stopping.py)."""

from __future__ import annotations

from pathlib import Path

from activelearn.config import LoopConfig
from activelearn.files import write_csv
from activelearn.loop.stopping import holdout_points
from activelearn.quality.forecast import BAND, MIN_ROUNDS, wilson_interval
from activelearn.quality.stopping import correct_of, forecast_lines, outlook
from activelearn.reporting.page import Section, fmt
from activelearn.state import Evaluation

AHEAD = (500, 1000, 2000, 5000, 10000)  # more labels the forecast table shows


def forecast_section(evaluations: list[Evaluation], loop: LoopConfig,
                     out_dir: Path) -> Section:
    """The forecast from the finished rounds' holdout results, a table of the fitted
    accuracy ahead (forecast.csv), and the suggestion."""
    section = Section("forecast", "Forecast and stopping")
    found = outlook(holdout_points(evaluations), loop)  # finished rounds only
    if found.fit is None or found.labels is None:
        section.no_data(f"the forecast needs {MIN_ROUNDS} finished rounds with holdout "
                        f"results at different label counts (have {found.rounds}).")
        return section
    for line in [*forecast_lines(found), found.suggestion]:
        section.text(line[:1].upper() + line[1:])
    fit, now = found.fit, found.labels
    at = [now, *(now + step for step in AHEAD)]
    bands = [fit.predict_band(n) for n in at]
    section.table([["train labels", "forecast accuracy", "low", "high"],
                   *[[f"{n:,}", fmt(e, ".3f"), fmt(lo, ".3f"), fmt(hi, ".3f")]
                     for n, (e, lo, hi) in zip(at, bands)]],
                  f"the power law a - b·n^-c fitted to the holdout accuracy (a = "
                  f"{fit.a:.3f}, c = {fit.c:.2f}); low and high: the {BAND[0]:g}th and "
                  f"{BAND[1]:g}th percentiles of {len(fit.draws)} bootstrap refits")
    section.files.append(write_csv(out_dir / "forecast.csv", [
        ["train_labels", "accuracy", "low", "high"],
        *[[n, *band] for n, band in zip(at, bands)]]))
    return section


def interval_cell(payload: dict) -> str:
    """"0.785-0.887": the 95% Wilson interval of an evaluation's accuracy."""
    low, high = wilson_interval(*correct_of(payload))
    return f"{low:.3f}-{high:.3f}"
