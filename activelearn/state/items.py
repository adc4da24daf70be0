"""The pool's items and their split (`store.items`): recorded once per item, the split
drawn at the first ingest and fixed for the experiment."""

from __future__ import annotations

from collections.abc import Iterable

from activelearn.state.schema import Table


class ItemTable(Table):
    """The items table."""

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def add(self, rows: Iterable[tuple[str, int, str | None, str]]) -> None:
        """rows: (item_id, idx, path, split); existing ids keep their split."""
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)", rows)

    def splits(self) -> dict[str, str]:
        """item_id -> split for every item."""
        return dict(self.db.execute("SELECT item_id, split FROM items"))
