"""Requests for another annotation of a disputed item (quality.relabel_fraction): which
task's overlap was raised in Label Studio, to what, and in which round
(`store.relabels`).

A request is pending while the item has fewer stored annotations than the overlap it
asked for; a pending item is not asked again, so a slow annotator does not make every
round raise the same task once more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from activelearn.quality.relabel import Disputed
from activelearn.state.schema import Table


class RelabelTable(Table):
    """The relabel_requests table, and the disputed items it may ask about."""

    def disputed(self, max_annotations: int) -> list[Disputed]:
        """Items with disagreeing annotations, a live task, fewer than max_annotations
        annotations and no pending request; gold items are left out (their label is
        trusted whatever the votes)."""
        counts = dict(self.db.execute(
            "SELECT item_id, COUNT(*) FROM annotations GROUP BY item_id"))
        asked = dict(self.db.execute(
            "SELECT item_id, MAX(overlap) FROM relabel_requests GROUP BY item_id"))
        confidence = dict(self.db.execute(
            "SELECT item_id, MIN(confidence) FROM suggestions GROUP BY item_id"))
        out = []
        for item_id, votes, task_id in self.db.execute(
                "SELECT d.item_id, d.votes, t.task_id FROM disagreements d JOIN tasks t"
                " USING (item_id) WHERE t.deleted_at IS NULL AND d.item_id NOT IN"
                " (SELECT item_id FROM gold) ORDER BY d.item_id"):
            n = counts.get(item_id, 0)
            if n >= max_annotations or asked.get(item_id, 0) > n:
                continue
            out.append(Disputed(item_id, task_id, {int(k): v for k, v in
                                                   json.loads(votes).items()},
                                n, confidence.get(item_id)))
        return out

    def add(self, round_: int, rows: Iterable[tuple[str, int, int, int]]
                             ) -> None:
        """(item_id, task_id, annotations now, overlap wanted) rows, not yet applied."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO relabel_requests VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [(i, t, round_, n, o, now) for i, t, n, o in rows])

    def unapplied(self, round_: int) -> list[tuple[str, int, int]]:
        """(item_id, task_id, overlap) of this round's requests not yet sent to Label
        Studio."""
        return list(self.db.execute(
            "SELECT item_id, task_id, overlap FROM relabel_requests WHERE round=? AND"
            " applied_at IS NULL ORDER BY item_id", (round_,)))

    def mark_applied(self, round_: int, item_ids: Iterable[str]) -> None:
        with self.db:
            self.db.executemany(
                "UPDATE relabel_requests SET applied_at=? WHERE round=? AND item_id=?",
                [(time.time(), round_, i) for i in item_ids])

    def count(self, round_: int) -> int:
        """How many requests this round recorded."""
        return self.db.execute("SELECT COUNT(*) FROM relabel_requests WHERE round=?",
                               (round_,)).fetchone()[0]

    def all(self) -> list[tuple[str, int, int, int, bool]]:
        """(item_id, round, annotations when asked, overlap asked, applied) of every
        request, oldest first."""
        return [(i, r, n, o, applied is not None) for i, r, n, o, applied in self.db.execute(
            "SELECT item_id, round, annotations, overlap, applied_at FROM relabel_requests"
            " ORDER BY requested_at, item_id")]
