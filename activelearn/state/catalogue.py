"""The file sources' catalogue (`store.catalogue`): one row per image file the source
lists, with what its file was when it was last read (byte size and a version: the mtime
or the server's ETag) and what reading it found: size, format, mode, content hashes, or
the reason it is unusable. Ingesting reads only new or changed files (data/catalogue.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from activelearn.state.schema import Table, chunks

SOURCE_META = "catalogue_source"  # which source (name and root) the rows describe


class CatalogueRow(NamedTuple):  # a tuple: read by the hundred thousand
    """One catalogued file. label: a class index or UNKNOWN_LABEL; width/height: as shown
    (after EXIF orientation); reason: why it is unusable, None when it is usable;
    sha256: of the file's bytes; dhash: a 64-bit perceptual hash (as a signed integer)."""

    item_id: str
    uri: str
    bytes: int
    version: str
    label: int
    is_test: bool
    width: int | None = None
    height: int | None = None
    format: str | None = None
    mode: str | None = None
    reason: str | None = None
    sha256: str | None = None
    dhash: int | None = None
    slot: int = -1  # its row in the decoded cache (stable while the item is catalogued)
    cached: bool = False  # that row holds the file as it is now


_COLUMNS = ("item_id, uri, bytes, version, label, is_test, width, height, format, mode, "
            "reason, sha256, dhash, slot, cached")
CACHE_META = "catalogue_cache"  # the geometry the cached flags are for, e.g. "3x32x32"
GENERATION_META = "catalogue_generation"  # counts the changes of the rows


class CatalogueTable(Table):
    """The catalogue table."""

    def source(self) -> str | None:
        """The source ("name root") the rows describe, None before the first ingest."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (SOURCE_META,)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM catalogue").fetchone()[0]

    def rows(self) -> Iterator[CatalogueRow]:
        """Every row, in item id order."""
        for row in self.db.execute(f"SELECT {_COLUMNS} FROM catalogue ORDER BY item_id"):
            yield _row(row)

    def rows_of(self, item_ids: list[str]) -> list[CatalogueRow]:
        """The rows of these ids (those catalogued), in item id order."""
        found: list[CatalogueRow] = []
        for part in chunks(item_ids):
            marks = ",".join("?" * len(part))
            found += [_row(r) for r in self.db.execute(
                f"SELECT {_COLUMNS} FROM catalogue WHERE item_id IN ({marks})", part)]
        return sorted(found, key=lambda r: r.item_id)

    def generation(self) -> int:
        """A number that changes whenever the rows do (a reader's cached pool is stale
        once it changed)."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (GENERATION_META,)).fetchone()
        return int(row[0]) if row else 0

    def _changed(self) -> None:  # inside the writer's transaction
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                        (GENERATION_META, str(self.generation() + 1)))

    def next_slot(self) -> int:
        """The cache row a newly catalogued item gets."""
        return self.db.execute("SELECT COALESCE(MAX(slot), -1) + 1 FROM catalogue").fetchone()[0]

    def replace(self, source: str, upserts: Iterable[CatalogueRow],
                relabelled: Iterable[tuple[str, int, bool]], removed: list[str]) -> None:
        """One ingest's changes in one transaction: rows read (new or changed files, with
        their slot and cached False), (item_id, label, is_test) of unchanged files whose
        label or split moved, and the ids of files the source no longer lists."""
        before = self.db.total_changes + 1  # + the source's meta row, written first
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (SOURCE_META, source))
            self.db.executemany(
                f"INSERT OR REPLACE INTO catalogue ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((r.item_id, r.uri, r.bytes, r.version, r.label, int(r.is_test), r.width,
                  r.height, r.format, r.mode, r.reason, r.sha256, r.dhash, r.slot,
                  int(r.cached)) for r in upserts))
            self.db.executemany("UPDATE catalogue SET label=?, is_test=? WHERE item_id=?",
                                ((label, int(test), item_id)
                                 for item_id, label, test in relabelled))
            for part in chunks(removed):
                marks = ",".join("?" * len(part))
                self.db.execute(f"DELETE FROM catalogue WHERE item_id IN ({marks})", part)
            if self.db.total_changes != before:
                self._changed()

    def clear(self) -> None:
        """Forget every row (the project now reads another source)."""
        with self.db:
            self.db.execute("DELETE FROM catalogue")
            self._changed()

    def cache_geometry(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (CACHE_META,)).fetchone()
        return row[0] if row else None

    def reset_cache(self, geometry: str) -> None:
        """The cache now holds images of another geometry: no row is cached."""
        with self.db:
            self.db.execute("UPDATE catalogue SET cached=0")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (CACHE_META, geometry))
            self._changed()

    def set_cached(self, item_ids: list[str]) -> None:
        """These items' cache rows now hold their files (written and flushed before)."""
        with self.db:
            for part in chunks(item_ids):
                marks = ",".join("?" * len(part))
                self.db.execute(f"UPDATE catalogue SET cached=1 WHERE item_id IN ({marks})",
                                part)
            if item_ids:
                self._changed()

    def mark_unusable(self, reasons: dict[str, str]) -> None:
        """Record files found unusable after they were catalogued (a decode failed)."""
        with self.db:
            self.db.executemany("UPDATE catalogue SET reason=? WHERE item_id=?",
                                ((reason, item_id) for item_id, reason in reasons.items()))
            if reasons:
                self._changed()


def _row(values: tuple) -> CatalogueRow:
    (item_id, uri, size, version, label, is_test, width, height, fmt, mode, reason, sha,
     dhash, slot, cached) = values
    return CatalogueRow(item_id, uri, size, version, label, bool(is_test), width, height,
                        fmt, mode, reason, sha, dhash, slot, bool(cached))
