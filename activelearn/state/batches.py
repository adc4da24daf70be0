"""Selected batches with their provenance (`store.batches`): strategy, seed, model
version, each item's score and rank, and the model's suggestion for each item."""

from __future__ import annotations

import time

from activelearn.kinds import BatchKind, Split
from activelearn.state.schema import Table


class BatchTable(Table):
    """The batches, batch_items and suggestions tables."""

    def add(self, round_: int, kind: BatchKind, strategy: str, seed: int | None,
            model_version: str | None, items: list[tuple[str, float]],
            suggestions: list[tuple[str, int, float]] | None = None,
            move_to: Split | None = None) -> int:
        """Record a selected batch in one transaction: items as (item_id, score), best
        first; the model's suggestions as (item_id, label, confidence); move_to: give
        the items this split (a holdout batch). Returns the batch id."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO batches (round, kind, strategy, seed, model_version, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (round_, kind.value, strategy, seed, model_version, time.time()))
            batch_id = int(cur.lastrowid or 0)
            self.db.executemany("INSERT INTO batch_items VALUES (?, ?, ?, ?)",
                                [(batch_id, i, rank, s) for rank, (i, s) in enumerate(items)])
            self.db.executemany("INSERT INTO suggestions VALUES (?, ?, ?, ?)",
                                [(batch_id, i, lab, c) for i, lab, c in suggestions or []])
            if move_to is not None:
                self.db.executemany("UPDATE items SET split=? WHERE item_id=?",
                                    [(move_to.value, i) for i, _ in items])
        return batch_id

    def batched_ids(self) -> set[str]:
        """Items in any batch (selected once: never selected again)."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT item_id FROM batch_items")}

    def queued_ids(self) -> set[str]:
        """Items in a batch that have no label yet."""
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT b.item_id FROM batch_items b LEFT JOIN labels l USING (item_id)"
            " WHERE l.item_id IS NULL")}

    def items(self, batch_id: int) -> list[tuple[str, float]]:
        """(item_id, score) of a batch, best first."""
        return list(self.db.execute(
            "SELECT item_id, score FROM batch_items WHERE batch_id=? ORDER BY rank", (batch_id,)))

    def suggestions(self, batch_id: int) -> dict[str, tuple[int, float]]:
        """item_id -> (label, confidence) of a batch's suggestions."""
        return {i: (lab, conf) for i, lab, conf in self.db.execute(
            "SELECT item_id, label, confidence FROM suggestions WHERE batch_id=?", (batch_id,))}

    def all(self, round_: int | None = None) -> list[dict]:
        """Batches as dicts (batch_id, round, kind, ...), of one round or all, oldest first."""
        cols = ["batch_id", "round", "kind", "strategy", "seed", "model_version"]
        where, args = ("WHERE round=?", (round_,)) if round_ is not None else ("", ())
        rows = self.db.execute(
            f"SELECT {', '.join(cols)} FROM batches {where} ORDER BY batch_id", args)
        return [dict(zip(cols, r)) for r in rows]
