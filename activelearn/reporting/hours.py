"""simulate's results against the annotators' time: labels per annotator-hour and test
accuracy at equal annotator-hours, for runs with a cost model (simulate --class-seconds:
records with annotator_hours).

Strategies that label the same number of items can spend very different hours (one that
asks about hard, slow classes costs more per label), so accuracy is compared at the same
annotator-hours: each seed's accuracy-against-hours curve is interpolated there and the
seeds are averaged. The hours compared at are the fewest any run spent in all, so every
curve reaches them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Record = Mapping[str, Any]


@dataclass(frozen=True)
class HoursRow:
    """One strategy over its seeds (means): final labels and annotator-hours, labels per
    hour, final accuracy, accuracy gained per annotator-hour after the first round
    ((final - first) / hours spent in between; None for one round), and accuracy at
    the common annotator-hours."""

    strategy: str
    seeds: int
    labels: float
    hours: float
    labels_per_hour: float
    accuracy: float
    gain_per_hour: float | None
    accuracy_at_equal_hours: float


def runs_by_strategy(records: Sequence[Record]) -> dict[str, list[np.ndarray]]:
    """strategy -> per seed [rounds, 3] (labels, annotator_hours, accuracy) by labels, in
    order of first appearance; records without hours or accuracy are left out."""
    found: dict[str, dict[Any, list[tuple[float, float, float]]]] = {}
    for r in records:
        if r.get("annotator_hours") is None or r.get("accuracy") is None:
            continue
        found.setdefault(str(r["strategy"]), {}).setdefault(r.get("seed"), []).append(
            (float(r["labels"]), float(r["annotator_hours"]), float(r["accuracy"])))
    return {name: [np.array(sorted(points)) for points in seeds.values()]
            for name, seeds in found.items()}


def accuracy_at_hours(runs: Sequence[np.ndarray], hours: float) -> float | None:
    """Mean over seeds of the accuracy interpolated at `hours`; None when a seed's run
    ends before them or starts after them."""
    values = []
    for run in runs:
        spent, accuracy = run[:, 1], run[:, 2]
        if not spent[0] - 1e-9 <= hours <= spent[-1] + 1e-9:
            return None
        values.append(float(np.interp(hours, spent, accuracy)))
    return float(np.mean(values))


def hours_summary(records: Sequence[Record]) -> tuple[list[HoursRow], float] | None:
    """One HoursRow per strategy and the common hours their accuracy is compared at
    (the fewest annotator-hours any run ended with); None without annotator_hours."""
    by_strategy = runs_by_strategy(records)
    if not by_strategy:
        return None
    common = min(float(run[-1, 1]) for runs in by_strategy.values() for run in runs)
    rows = []
    for name, runs in by_strategy.items():
        last = np.array([run[-1] for run in runs])
        gains = [(run[-1, 2] - run[0, 2]) / (run[-1, 1] - run[0, 1]) for run in runs
                 if len(run) > 1 and run[-1, 1] > run[0, 1]]
        at = accuracy_at_hours(runs, common)
        assert at is not None  # every run ends at or after the common hours
        labels, hours = float(last[:, 0].mean()), float(last[:, 1].mean())
        rows.append(HoursRow(name, len(runs), labels, hours,
                             labels / hours if hours > 0 else float("nan"),
                             float(last[:, 2].mean()),
                             float(np.mean(gains)) if len(gains) == len(runs) else None, at))
    return rows, common


def hours_table(rows: Sequence[HoursRow], common: float) -> list[list[str]]:
    """The summary as text cells: a header, then one row per strategy."""
    header = ["strategy", "seeds", "labels", "annotator-h", "labels/h", "final acc",
              "acc gain/h", f"acc at {common:.2f} h"]
    return [header] + [[
        r.strategy, str(r.seeds), f"{r.labels:.0f}", f"{r.hours:.2f}",
        f"{r.labels_per_hour:.0f}", f"{r.accuracy:.4f}",
        "-" if r.gain_per_hour is None else f"{r.gain_per_hour:+.4f}",
        f"{r.accuracy_at_equal_hours:.4f}"] for r in rows]


def format_hours(rows: Sequence[HoursRow], common: float) -> str:
    """An aligned table for the terminal and a line saying what it compares."""
    table = hours_table(rows, common)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(hours_note(common))
    return "\n".join(lines)


def hours_note(common: float) -> str:
    """What the hours table compares."""
    return (f"annotator time: the simulated annotator's seconds per label (mean over seeds); "
            f"accuracy at equal annotator-hours is interpolated at {common:.2f} h, the "
            "fewest any run spent")
