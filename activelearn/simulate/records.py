"""What a `simulate` run records: one dict per (strategy, seed, round), e.g.
``{"strategy": "margin", "seed": 0, "round": 3, "labels": 2000, "accuracy": 0.851, ...}``,
written to rounds.csv and rounds.json after every round (reporting reads them back to
draw and compare)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from activelearn.files import write_atomically, write_text

Record = Mapping[str, Any]

KNOWN_KEYS = (
    "strategy", "seed", "round", "labels", "accuracy", "macro_f1", "worst_recall",
    "worst_class", "val_accuracy", "val_macro_f1", "train_s", "score_s", "select_s", "loss",
)
METRIC_LABELS = {
    "accuracy": "test accuracy",
    "macro_f1": "test macro-F1",
    "worst_recall": "worst-class test recall",
    "val_accuracy": "validation accuracy",
    "val_macro_f1": "validation macro-F1",
}


def write_rounds(records: Sequence[Record], out_dir: Path) -> tuple[Path, Path]:
    """Write ``rounds.csv`` and ``rounds.json`` into ``out_dir``; return their paths.

    Each file is written to a temporary file in ``out_dir`` and moved into place with
    ``os.replace``, so calling this after every round and interrupting at any moment
    leaves either the previous or the new complete file, never half of one.
    CSV columns: the known keys first (in :data:`KNOWN_KEYS` order), then any extra
    keys in the order they first appear; a record lacking a key gets an empty cell.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = csv_columns(records)
    csv_path, json_path = out_dir / "rounds.csv", out_dir / "rounds.json"

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)

    write_atomically(csv_path, write_csv)
    write_text(json_path, json.dumps([dict(r) for r in records], indent=1,
                                     default=_json_default) + "\n")
    return csv_path, json_path


def csv_columns(records: Iterable[Record]) -> list[str]:
    """The union of the records' keys: known keys first, then extras in first-seen order."""
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    known = [k for k in KNOWN_KEYS if k in seen]
    return known + [k for k in seen if k not in KNOWN_KEYS]


def round_line(r: Record) -> str:
    """The line simulate prints for a finished round (auto: with the strategy that picked)."""
    acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
    hours = f"  annotator {r['annotator_hours']:.2f} h" if "annotator_hours" in r else ""
    picked = r.get("picked_by") or r["strategy"]
    by = f" ({picked})" if picked != r["strategy"] else ""
    return (f"{r['strategy'] + by:<16} seed {r['seed']} round {r['round']:>2}  labels "
            f"{r['labels']:>6}  test acc {acc}{hours}  train {r['train_s']:.1f}s  score "
            f"{r['score_s']:.1f}s  select {r['select_s']:.1f}s")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays (np.float32 accuracy, np.int64 labels) are not JSON types.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")
