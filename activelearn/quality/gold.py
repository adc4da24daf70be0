"""Gold items: pool items with trusted labels, read from quality.gold_file, mixed into
query batches so each annotator's accuracy can be measured (see state/quality.py).

Gold tasks look like any other query task to annotators (same kind, a score, but no
model prediction). Their annotations are stored and scored, the item keeps its trusted
label, and that label is what training uses once the task has been annotated.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from activelearn.errors import ConfigError


def read_gold_file(path: str | Path, classes: Sequence[str],
                   known: set[str] | dict[str, int]) -> dict[str, int]:
    """item_id -> class index from a CSV (header item_id,label) or JSON-lines file; a
    label is a class name or index. Every item must be in `known` (the pool's ids)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"quality.gold_file: cannot read {path}: {exc.strerror}") from None
    if path.suffix in (".jsonl", ".json"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    gold: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "item_id" not in row or "label" not in row:
            raise ConfigError(f"{path}: row {n}: needs item_id and label")
        item_id, label = str(row["item_id"]), row["label"]
        if item_id not in known:
            raise ConfigError(f"{path}: row {n}: item {item_id} is not in the pool")
        gold[item_id] = _class_index(label, classes, f"{path}: row {n}")
    return gold


def _class_index(label: object, classes: Sequence[str], where: str) -> int:
    if isinstance(label, str) and label in classes:
        return list(classes).index(label)
    try:
        index = int(str(label))
    except ValueError:
        index = -1
    if not 0 <= index < len(classes):
        raise ConfigError(f"{where}: label {label!r} is neither a class name nor an index "
                          f"(0..{len(classes) - 1})")
    return index
