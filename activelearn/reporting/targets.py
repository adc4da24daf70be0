"""How many labels each strategy of a `simulate` run needs to reach its targets
(simulate/targets.py) of test accuracy (or macro-F1), per seed, as mean ± std over seeds,
and the label efficiency against random: random's mean labels / the strategy's, and the
mean ± std over seeds of the paired ratios (random and the strategy with the same seed,
hence the same initial labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelearn.reporting.results import labels_to_reach
from activelearn.simulate import Record, Target


@dataclass(frozen=True)
class TargetRow:
    """One strategy against one target, over its seeds.

    per_seed: seed -> labels needed (interpolated between rounds; None: not reached).
    labels_mean, labels_std: over seeds (sample std; 0.0 for one seed), None unless every
    seed reached the target. efficiency: the baseline's labels_mean / this one's;
    efficiency_at_least: the baseline did not reach the target on every seed, so its
    labels are at least those of its last round and efficiency is a lower bound.
    paired: baseline / strategy per seed where both reached, its mean and std, and how
    many seeds pair (paired_seeds, of the strategy's seeds).
    """

    strategy: str
    target: Target
    per_seed: dict[Any, float | None]
    labels_mean: float | None
    labels_std: float | None
    efficiency: float | None = None
    efficiency_at_least: bool = False
    paired_mean: float | None = None
    paired_std: float | None = None
    paired_seeds: int = 0
    baseline: str = "random"

    @property
    def seeds(self) -> int:
        """How many seeds the strategy ran."""
        return len(self.per_seed)

    @property
    def reached(self) -> int:
        """How many of its seeds reached the target."""
        return sum(v is not None for v in self.per_seed.values())


@dataclass
class _Seeds:
    """One strategy's per-seed curves of a metric: seed -> (labels, values), each
    [points], labels ascending."""

    curves: dict[Any, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def needed(self, target: float) -> dict[Any, float | None]:
        return {seed: labels_to_reach(x, y, target) for seed, (x, y) in self.curves.items()}

    def at_least(self, target: float) -> dict[Any, float]:
        """Labels needed per seed, a seed that never reached it counted at its last round."""
        return {seed: (n if n is not None else float(self.curves[seed][0][-1]))
                for seed, n in self.needed(target).items()}


def _per_seed(records: Sequence[Record], metric: str) -> dict[str, _Seeds]:
    points: dict[str, dict[Any, dict[float, float]]] = {}
    for record in records:
        if record.get(metric) is None or record.get("labels") is None:
            continue
        seeds = points.setdefault(str(record["strategy"]), {})
        seeds.setdefault(record.get("seed"), {})[float(record["labels"])] = float(record[metric])
    found = {}
    for strategy, seeds in points.items():
        found[strategy] = _Seeds({seed: (np.array(sorted(by)),
                                         np.array([by[x] for x in sorted(by)]))
                                  for seed, by in seeds.items()})
    return found


def target_rows(records: Sequence[Record], targets: Sequence[Target],
                baseline: str = "random") -> list[TargetRow]:
    """One row per (target, strategy), targets in the given order, strategies in order of
    first appearance in records; strategies without the target's metric are left out."""
    rows = []
    for target in targets:
        by_strategy = _per_seed(records, target.metric)
        base = by_strategy.get(baseline)
        for strategy, seeds in by_strategy.items():
            rows.append(_row(strategy, seeds, base, target, baseline))
    return rows


def _row(strategy: str, seeds: _Seeds, base: _Seeds | None, target: Target,
         baseline: str) -> TargetRow:
    needed = seeds.needed(target.value)
    mean, std = _mean_std(needed.values())
    if base is None:
        return TargetRow(strategy, target, needed, mean, std, baseline=baseline)
    base_needed = base.needed(target.value)
    base_mean, _ = _mean_std(base_needed.values())
    at_least = base_mean is None
    if at_least:
        base_mean = float(np.mean(list(base.at_least(target.value).values())))
    ratios = []
    for seed, n in needed.items():
        b = base_needed.get(seed)
        if n is not None and n > 0 and b is not None:
            ratios.append(b / n)
    paired_mean, paired_std = _mean_std(ratios)
    return TargetRow(strategy, target, needed, mean, std, _ratio(base_mean, mean), at_least,
                     paired_mean, paired_std, len(ratios), baseline)


def _mean_std(values: Any) -> tuple[float | None, float | None]:
    """Mean and sample std (0.0 for one value) of values, or (None, None) when any is
    None or there are none."""
    found = list(values)
    if not found or any(v is None for v in found):
        return None, None
    arr = np.array(found, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


# --------------------------------------------------------------------------- text


def targets_table(rows: Sequence[TargetRow]) -> list[list[str]]:
    """The rows as text cells: a header row, then one row per (target, strategy)."""
    base = rows[0].baseline if rows else "random"
    header = ["target", "strategy", "seeds", "labels to reach (mean ± std)",
              f"efficiency vs {base}", "paired efficiency"]
    return [header] + [_cells(row) for row in rows]


def _cells(row: TargetRow) -> list[str]:
    missing = row.seeds - row.reached
    if row.labels_mean is None:
        labels = f"not reached ({missing} of {row.seeds} seed{'s' if row.seeds != 1 else ''})"
    else:
        labels = f"{row.labels_mean:.0f} ± {row.labels_std:.0f}"
    efficiency = "-" if row.efficiency is None else \
        f"{'≥ ' if row.efficiency_at_least else ''}{row.efficiency:.2f}x"
    paired = "-"
    if row.paired_mean is not None:
        paired = f"{row.paired_mean:.2f}x ± {row.paired_std:.2f}"
        if row.paired_seeds < row.seeds:
            paired += f" ({row.paired_seeds} of {row.seeds} seeds)"
    return [row.target.name, row.strategy, str(row.seeds), labels, efficiency, paired]


def format_targets(rows: Sequence[TargetRow]) -> str:
    """An aligned table for the terminal, then lines saying how each target was set and
    what the efficiency columns mean."""
    if not rows:
        return "targets: no strategy recorded the targets' metric"
    table = targets_table(rows)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + target_notes(rows))


def target_notes(rows: Sequence[TargetRow]) -> list[str]:
    """How each target was set, and what the efficiency columns mean."""
    notes = []
    for target in dict.fromkeys(row.target for row in rows):
        if target.note:
            notes.append(f"target {target.name} = {target.note}")
    base = rows[0].baseline if rows else "random"
    notes.append(f"efficiency = {base}'s mean labels to the target / the strategy's "
                 f"(≥: {base} did not reach it on every seed, counted at its last round)")
    notes.append(f"paired efficiency: mean ± std over seeds of {base}'s labels / the "
                 "strategy's with the same seed (the same initial labels)")
    return notes


def targets_csv(rows: Sequence[TargetRow]) -> list[list[object]]:
    """One CSV row per (target, strategy, seed): the labels that seed needed."""
    out: list[list[object]] = [["metric", "target", "note", "strategy", "seed",
                                "labels_to_reach", "labels_mean", "labels_std", "efficiency",
                                "efficiency_at_least", "paired_mean", "paired_std"]]
    for row in rows:
        for seed, labels in row.per_seed.items():
            out.append([row.target.metric, row.target.value, row.target.note, row.strategy,
                        seed, _blank(labels), _blank(row.labels_mean), _blank(row.labels_std),
                        _blank(row.efficiency), row.efficiency_at_least,
                        _blank(row.paired_mean), _blank(row.paired_std)])
    return out


def _blank(value: float | None) -> object:
    return "" if value is None else value
