"""The results of a `simulate` run compared: learning curves, a summary table. The
records are those simulate writes (simulate/records.py); plots.py draws the figures.

Curves are averaged over seeds at equal label counts; only label counts that every
seed of a strategy reached are used, so each point of a mean curve has the same seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelearn.errors import ActiveLearnError
from activelearn.simulate import Record

# Floating-point slack when comparing a mean accuracy with the target accuracy.
_EPS = 1e-12


# --------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class Curve:
    """One strategy's metric against labels, per seed.

    labels: [points] label counts that every seed reached, ascending.
    values: [points, seeds] the metric at each label count for each seed.
    """

    strategy: str
    labels: np.ndarray
    values: np.ndarray

    @property
    def seeds(self) -> int:
        """Number of seeds."""
        return int(self.values.shape[1])

    @property
    def mean(self) -> np.ndarray:
        """[points] mean over seeds."""
        return self.values.mean(axis=1)


def curves(records: Sequence[Record], metric: str = "accuracy") -> dict[str, Curve]:
    """Group records into one :class:`Curve` per strategy, in order of first appearance.

    A later record for the same (strategy, seed, labels) replaces an earlier one.
    Raises ActiveLearnError when a record lacks a key or a strategy's seeds share no
    label count.
    """
    per_seed: dict[str, dict[Any, dict[float, float]]] = {}
    for i, record in enumerate(records):
        missing = [k for k in ("strategy", "labels", metric) if record.get(k) is None]
        if missing:
            raise ActiveLearnError(
                f"result record {i} ({_describe(record)}) lacks {', '.join(missing)}"
            )
        seeds = per_seed.setdefault(str(record["strategy"]), {})
        seeds.setdefault(record.get("seed"), {})[float(record["labels"])] = float(record[metric])
    return {name: _curve(name, seeds) for name, seeds in per_seed.items()}


def _curve(strategy: str, seeds: dict[Any, dict[float, float]]) -> Curve:
    points = sorted(set.intersection(*(set(by_labels) for by_labels in seeds.values())))
    if not points:
        spans = ", ".join(f"seed {s}: {min(v):g}-{max(v):g}" for s, v in seeds.items())
        raise ActiveLearnError(
            f"strategy {strategy!r}: its seeds share no label count ({spans}); "
            "give every seed the same initial and batch sizes"
        )
    values = np.array([[seeds[s][x] for s in seeds] for x in points], dtype=float)
    return Curve(strategy, np.array(points, dtype=float), values)


def _describe(record: Record) -> str:
    keys = ("strategy", "seed", "round")
    return ", ".join(f"{k}={record[k]!r}" for k in keys if k in record) or "no strategy"


def area_under_curve(labels: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under ``values`` against ``labels``, divided by the label range.

    labels, values: [points]. Reads as the mean metric over the run; one point -> its value.
    """
    if len(labels) == 1:
        return float(values[0])
    area = np.sum(np.diff(labels) * (values[1:] + values[:-1]) / 2.0)
    return float(area / (labels[-1] - labels[0]))


def labels_to_reach(labels: np.ndarray, values: np.ndarray, target: float) -> float | None:
    """Labels at which the curve first reaches ``target``, interpolated linearly.

    labels, values: [points]. Returns the first label count when the curve starts at or
    above the target, and None when it never reaches it.
    """
    reached = np.flatnonzero(values >= target - _EPS)
    if len(reached) == 0:
        return None
    i = int(reached[0])
    if i == 0:
        return float(labels[0])
    x0, x1, y0, y1 = labels[i - 1], labels[i], values[i - 1], values[i]
    return float(min(x1, x0 + (target - y0) * (x1 - x0) / (y1 - y0)))


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class SummaryRow:
    """One strategy's results over its seeds.

    final_*: at the last label count every seed reached; std is the sample std over
    seeds (0.0 for one seed); final_worst_recall_mean: the mean over seeds of the lowest
    per-class test recall (None when the records lack it).
    auc: :func:`area_under_curve` of the mean accuracy curve.
    target_accuracy: the baseline's final mean accuracy (None without a baseline).
    labels_to_target: labels the mean curve needs to reach it (None: not reached).
    label_efficiency: the baseline's labels to target / this strategy's (None: n/a).
    """

    strategy: str
    seeds: int
    final_labels: int
    final_accuracy_mean: float
    final_accuracy_std: float
    final_macro_f1_mean: float | None
    auc: float
    baseline: str
    target_accuracy: float | None
    labels_to_target: float | None
    label_efficiency: float | None
    final_worst_recall_mean: float | None = None


def summarize(records: Sequence[Record], baseline: str = "random") -> list[SummaryRow]:
    """One :class:`SummaryRow` per strategy, in order of first appearance in ``records``."""
    accuracy = curves(records)
    if not accuracy:
        return []
    f1 = _final_mean(records, accuracy, "macro_f1")
    worst = _final_mean(records, accuracy, "worst_recall")
    base = accuracy.get(baseline)
    target = float(base.mean[-1]) if base is not None else None

    def needed(curve: Curve | None) -> float | None:
        if curve is None or target is None:
            return None
        return labels_to_reach(curve.labels, curve.mean, target)

    base_needed = needed(base)
    rows = []
    for name, curve in accuracy.items():
        final = curve.values[-1]
        rows.append(SummaryRow(
            strategy=name,
            seeds=curve.seeds,
            final_labels=int(curve.labels[-1]),
            final_accuracy_mean=float(final.mean()),
            final_accuracy_std=float(final.std(ddof=1)) if curve.seeds > 1 else 0.0,
            final_macro_f1_mean=f1.get(name),
            auc=area_under_curve(curve.labels, curve.mean),
            baseline=baseline,
            target_accuracy=target,
            labels_to_target=needed(curve),
            label_efficiency=_ratio(base_needed, needed(curve)),
            final_worst_recall_mean=worst.get(name),
        ))
    return rows


def _final_mean(records: Sequence[Record], accuracy: dict[str, Curve],
                metric: str) -> dict[str, float]:
    """Mean `metric` at each strategy's final label count, for strategies that record it."""
    if not any(r.get(metric) is not None for r in records):
        return {}
    found = curves([r for r in records if r.get(metric) is not None], metric=metric)
    out = {}
    for name, curve in found.items():
        acc = accuracy[name]
        # Only when the metric covers the same final point and seeds as accuracy.
        if curve.seeds == acc.seeds and curve.labels[-1] == acc.labels[-1]:
            out[name] = float(curve.values[-1].mean())
    return out


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def format_summary(rows: Sequence[SummaryRow]) -> str:
    """A plain aligned table for the terminal, then a line naming the target accuracy."""
    if not rows:
        return "no results"
    table = summary_table(rows)
    header = table[0]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(_align(line[i], w, i) for i, w in enumerate(widths)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(target_line(rows))
    return "\n".join(line.rstrip() for line in lines)


def summary_table(rows: Sequence[SummaryRow]) -> list[list[str]]:
    """The summary as text cells: a header row, then one row per strategy (rows: not empty)."""
    base = rows[0].baseline
    header = ["strategy", "seeds", "labels", "final acc ± std", "macro-F1", "worst recall",
              "AUC", f"labels to {base} acc", "efficiency"]
    return [header] + [_format_row(row) for row in rows]


def _format_row(row: SummaryRow) -> list[str]:
    no_target = row.target_accuracy is None
    needed = "-" if no_target else _or(row.labels_to_target, "not reached", "{:.0f}")
    efficiency = "-" if no_target else _or(row.label_efficiency, "not reached", "{:.2f}x")
    return [
        row.strategy,
        str(row.seeds),
        str(row.final_labels),
        f"{row.final_accuracy_mean:.3f} ± {row.final_accuracy_std:.3f}",
        _or(row.final_macro_f1_mean, "-", "{:.3f}"),
        _or(row.final_worst_recall_mean, "-", "{:.3f}"),
        f"{row.auc:.3f}",
        needed,
        efficiency,
    ]


def _or(value: float | None, missing: str, fmt: str) -> str:
    return missing if value is None else fmt.format(value)


def _align(cell: str, width: int, column: int) -> str:
    return cell.ljust(width) if column == 0 else cell.rjust(width)


def target_line(rows: Sequence[SummaryRow]) -> str:
    """What the efficiency column is measured against (rows: not empty)."""
    base = rows[0].baseline
    target = rows[0].target_accuracy
    if target is None:
        return f"target: no {base!r} baseline in the results; labels to target not computed"
    seeds = next(r.seeds for r in rows if r.strategy == base)
    return (f"target: {base}'s final test accuracy {target:.3f} (mean over {seeds} "
            f"seed{'s' if seeds != 1 else ''}); efficiency = {base}'s labels to reach it "
            "/ the strategy's")
