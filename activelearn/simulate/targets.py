"""The targets of a `simulate` run: a test accuracy (or macro-F1) to reach, given as a
number (`simulate --target-accuracy 0.90`) or as a fraction of the full-data value
(`--target-fraction 0.97`). simulate writes the resolved targets to targets.json next to
rounds.json, so `report` shows the same table (reporting/targets.py: the labels each
strategy needs to reach them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from activelearn.errors import ActiveLearnError
from activelearn.files import write_text
from activelearn.simulate.records import METRIC_LABELS

TARGET_METRICS = ("accuracy", "macro_f1")
TARGETS_FILE = "targets.json"


@dataclass(frozen=True)
class Target:
    """A value of `metric` (accuracy or macro_f1) to reach; note says how it was set
    ("" when given as a number, "0.97 × full-data accuracy 0.921")."""

    metric: str
    value: float
    note: str = ""

    @property
    def name(self) -> str:
        """e.g. "test accuracy 0.900"."""
        return f"{METRIC_LABELS.get(self.metric, self.metric)} {self.value:.3f}"


@dataclass(frozen=True)
class TargetSpec:
    """What `simulate` was asked to reach: values of metric, and fractions of the
    full-data value of metric (full_data: that value when the user gave it, else it is
    measured or read from the cache)."""

    metric: str = "accuracy"
    values: tuple[float, ...] = ()
    fractions: tuple[float, ...] = ()
    full_data: float | None = None

    @property
    def needs_full_data(self) -> bool:
        """True when a fraction needs the full-data value and none was given."""
        return bool(self.fractions) and self.full_data is None

    def resolve(self, full_value: float | None = None, source: str = "given") -> list[Target]:
        """The targets, values first, then fractions of full_value (or of self.full_data);
        source: where the full-data value came from, for the note."""
        full = self.full_data if self.full_data is not None else full_value
        if self.fractions and full is None:
            raise ActiveLearnError("a target fraction needs the full-data value")
        found = [Target(self.metric, float(v)) for v in self.values]
        label = METRIC_LABELS.get(self.metric, self.metric).removeprefix("test ")
        for fraction in self.fractions:
            assert full is not None
            found.append(Target(self.metric, float(fraction * full),
                                f"{fraction:g} × full-data {label} {full:.3f}, {source}"))
        return found


def write_targets(out_dir: Path, targets: Sequence[Target], notes: Sequence[str] = ()) -> None:
    """Write out_dir/targets.json (the targets and lines such as where the full-data value
    came from), or remove an earlier one when there are no targets."""
    path = Path(out_dir) / TARGETS_FILE
    if not targets:
        path.unlink(missing_ok=True)
        return
    write_text(path, json.dumps({
        "targets": [{"metric": t.metric, "value": t.value, "note": t.note} for t in targets],
        "notes": list(notes)}, indent=1) + "\n")


def read_targets(path: Path) -> tuple[list[Target], list[str]]:
    """The targets and notes simulate wrote next to rounds.json (path: the folder or its
    rounds.json); none when there is no targets.json. Raises ActiveLearnError for a file
    that is not one."""
    folder = path if path.is_dir() else path.parent
    found = folder / TARGETS_FILE
    if not found.exists():
        return [], []
    try:
        raw = json.loads(found.read_text())
        targets = [Target(str(t["metric"]), float(t["value"]), str(t.get("note", "")))
                   for t in raw["targets"]]
        return targets, [str(n) for n in raw.get("notes", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ActiveLearnError(f"{found}: not a simulate targets.json ({exc})") from None
