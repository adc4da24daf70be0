"""Gold items in the state store: items with a trusted label (from quality.gold_file)
mixed into query batches to score the annotators. Part of `Store` (see store.py).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

QUALITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS gold (
    item_id TEXT PRIMARY KEY, label INTEGER NOT NULL, added_at REAL NOT NULL);
"""


class QualityRecords:
    """Gold items and the annotations of them (mixed into Store)."""

    db: sqlite3.Connection

    def add_gold(self, rows: Iterable[tuple[str, int]]) -> None:
        """(item_id, trusted label) rows; a changed label in the file replaces the old."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT INTO gold VALUES (?, ?, ?) ON CONFLICT(item_id) DO UPDATE SET"
                " label=excluded.label", [(i, label, now) for i, label in rows])

    def gold_labels(self) -> dict[str, int]:
        """item_id -> trusted label of every gold item."""
        return dict(self.db.execute("SELECT item_id, label FROM gold"))

    def unbatched_gold(self) -> list[str]:
        """Gold items not yet in any batch, in item id order."""
        return [r[0] for r in self.db.execute(
            "SELECT item_id FROM gold WHERE item_id NOT IN (SELECT item_id FROM batch_items)"
            " ORDER BY item_id")]

    def gold_votes(self) -> list[tuple[str | None, int, int]]:
        """(annotator, trusted label, annotated label) of every annotation of a gold item."""
        return list(self.db.execute(
            "SELECT a.annotator, g.label, a.label FROM annotations a JOIN gold g"
            " USING (item_id) ORDER BY a.annotation_id"))

    def model_votes(self) -> list[tuple[str | None, int, int]]:
        """(annotator, the model's suggested label, annotated label) of every annotation
        of a task pushed with a suggestion: a third opinion from a model that had not
        seen the item's label (it was unlabelled when the model chose it)."""
        return list(self.db.execute(
            "SELECT a.annotator, s.label, a.label FROM annotations a JOIN tasks t"
            " ON t.task_id = a.task_id JOIN suggestions s ON s.batch_id = t.batch_id"
            " AND s.item_id = a.item_id ORDER BY a.annotation_id"))

    def annotations_per_annotator(self) -> dict[str | None, int]:
        """annotator (None: unknown) -> stored annotations."""
        return {who: n for who, n in self.db.execute(
            "SELECT annotator, COUNT(*) FROM annotations GROUP BY annotator")}
