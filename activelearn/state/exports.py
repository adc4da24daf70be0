"""Read-only queries behind `activelearn export`: every labelled item with its split,
label, annotators and provenance. Part of `Store` (see store.py); SQL stays inside the
state package.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelledItem:
    """One item's current label as state holds it.

    label: index into the project's class names; annotators: the annotators whose
    annotation chose this label (empty for labels that did not come from people);
    annotations: how many annotations the item has in all (more than len(annotators)
    when they disagreed); round: the round the label was last set in; source: where it
    came from ("label-studio", "oracle", ...); path: the image file, or None for items
    of a torchvision dataset.
    """

    item_id: str
    split: str
    label: int
    annotators: tuple[str, ...]
    annotations: int
    round: int
    source: str
    path: str | None


class ExportRecords:
    """The labelled items, for export (mixed into Store)."""

    db: sqlite3.Connection

    def labelled_items(self) -> list[LabelledItem]:
        """Every item with a current label, by split and then in pool order."""
        rows = self.db.execute(
            "SELECT l.item_id, i.split, l.label, l.annotator, COALESCE(a.n, 0), l.round,"
            " l.source, i.path FROM labels l JOIN items i USING (item_id)"
            " LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM annotations GROUP BY item_id) a"
            " USING (item_id) ORDER BY i.split, i.idx, l.item_id")
        return [LabelledItem(item_id, split, label,
                             tuple(who.split(",")) if who else (), count, round_, source, path)
                for item_id, split, label, who, count, round_, source, path in rows]
