"""Key-value facts about a project (`store.meta`): the schema version, the linked Label
Studio project and server, the pull cursor, the pool size at the last clean."""

from __future__ import annotations

from activelearn.state.schema import Table


class MetaTable(Table):
    """The meta table."""

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
