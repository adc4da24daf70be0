"""Labels with their history (`store.labels`): the current label of each item, every
change with where it came from, and the labelled items for `activelearn export`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from activelearn.kinds import NO_LABEL, Split
from activelearn.state.schema import Table, chunks


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


class LabelTable(Table):
    """The labels and label_history tables."""

    def set(self, labels: Iterable[tuple[str, int]], source: str, round_: int,
            annotator: str | None = None) -> int:
        """Record labels; a changed label keeps the old one in history. Returns rows written."""
        rows = [(item_id, label, annotator) for item_id, label in labels]
        with self.db:
            return len(self.write(rows, source, round_))

    def write(self, rows: list[tuple[str, int, str | None]], source: str,
              round_: int) -> list[tuple[str, int, int | None]]:
        """(item_id, label or NO_LABEL, annotator) rows inside the caller's transaction:
        only changes are written, each with a history row; NO_LABEL removes the label.
        Returns the changes as (item_id, label, previous label or None)."""
        now = time.time()
        current = self._current([i for i, _, _ in rows])
        # (item_id, label, previous, annotator), in order: a repeat sees the one before
        changed = []
        for item_id, label, annotator in rows:
            previous = current.get(item_id, NO_LABEL)
            if previous != label:
                changed.append((item_id, label, None if previous == NO_LABEL else previous,
                                annotator))
                current[item_id] = label
        self.db.executemany(
            "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?)",
            [(i, lab, source, round_, who, now) for i, lab, _, who in changed if lab != NO_LABEL])
        self.db.executemany("DELETE FROM labels WHERE item_id=?",
                            [(i,) for i, lab, _, _ in changed if lab == NO_LABEL])
        self.db.executemany(
            "INSERT INTO label_history (item_id, label, previous, source, round, annotator,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i, lab, prev, source, round_, who, now) for i, lab, prev, who in changed])
        return [(i, lab, prev) for i, lab, prev, _ in changed]

    def _current(self, item_ids: list[str]) -> dict[str, int]:
        """Current labels of just these items."""
        found: dict[str, int] = {}
        for chunk in chunks(list(dict.fromkeys(item_ids))):
            marks = ", ".join("?" * len(chunk))
            found.update(self.db.execute(
                f"SELECT item_id, label FROM labels WHERE item_id IN ({marks})", chunk))
        return found

    def current(self, split: str | None = None) -> dict[str, int]:
        """item_id -> current label, optionally only items of one split."""
        if split is None:
            return dict(self.db.execute("SELECT item_id, label FROM labels"))
        return dict(self.db.execute(
            "SELECT l.item_id, l.label FROM labels l JOIN items i USING (item_id)"
            " WHERE i.split=?", (split,)))

    def counts(self) -> dict[str, int]:
        """split -> how many of its items have a label."""
        return dict(self.db.execute(
            "SELECT i.split, COUNT(*) FROM labels l JOIN items i USING (item_id)"
            " GROUP BY i.split"))

    def history(self, item_id: str) -> list[tuple[int, int | None, str, int]]:
        """(label, previous, source, round) oldest first."""
        return list(self.db.execute(
            "SELECT label, previous, source, round FROM label_history WHERE item_id=?"
            " ORDER BY id", (item_id,)))

    def changed_since(self, round_: int, split: Split) -> int:
        """Items of a split whose label was set or changed after round round_."""
        return self.db.execute(
            "SELECT COUNT(DISTINCT h.item_id) FROM label_history h JOIN items i USING (item_id)"
            " WHERE h.round > ? AND i.split=?", (round_, split.value)).fetchone()[0]

    def labelled_items(self) -> list[LabelledItem]:
        """Every item with a current label, by split and then in pool order (export)."""
        rows = self.db.execute(
            "SELECT l.item_id, i.split, l.label, l.annotator, COALESCE(a.n, 0), l.round,"
            " l.source, i.path FROM labels l JOIN items i USING (item_id)"
            " LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM annotations GROUP BY item_id) a"
            " USING (item_id) ORDER BY i.split, i.idx, l.item_id")
        return [LabelledItem(item_id, split, label,
                             tuple(who.split(",")) if who else (), count, round_, source, path)
                for item_id, split, label, who, count, round_, source, path in rows]
