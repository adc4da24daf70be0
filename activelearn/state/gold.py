"""Gold items (`store.gold`): items with a trusted label (from quality.gold_file) mixed
into query batches to score the annotators."""

from __future__ import annotations

import time
from collections.abc import Iterable

from activelearn.state.schema import Table


class GoldTable(Table):
    """The gold table, and the annotations of gold items."""

    def add(self, rows: Iterable[tuple[str, int]]) -> None:
        """(item_id, trusted label) rows; a changed label in the file replaces the old."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT INTO gold VALUES (?, ?, ?) ON CONFLICT(item_id) DO UPDATE SET"
                " label=excluded.label", [(i, label, now) for i, label in rows])

    def labels(self) -> dict[str, int]:
        """item_id -> trusted label of every gold item."""
        return dict(self.db.execute("SELECT item_id, label FROM gold"))

    def unbatched(self) -> list[str]:
        """Gold items not yet in any batch, in item id order."""
        return [r[0] for r in self.db.execute(
            "SELECT item_id FROM gold WHERE item_id NOT IN (SELECT item_id FROM batch_items)"
            " ORDER BY item_id")]

    def votes(self) -> list[tuple[str | None, int, int]]:
        """(annotator, trusted label, annotated label) of every annotation of a gold item."""
        return list(self.db.execute(
            "SELECT a.annotator, g.label, a.label FROM annotations a JOIN gold g"
            " USING (item_id) ORDER BY a.annotation_id"))
