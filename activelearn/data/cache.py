"""The decoded cache (`data.cache: memmap`): the file sources' images decoded once at the
model's input size, as rows of one uint8 file under WORK_DIR/cache.

    cache = ImageCache(work_dir / "cache", (32, 32), 3)
    build(cache, store.catalogue, rows)        # decode what is not cached yet
    cache.read(np.array([4, 7]))               # [2, 3, 32, 32] uint8

An item's row is its catalogue slot; the catalogue's `cached` flag says the row holds the
file as it is now (ingest clears it when the file changes). Rows are written and flushed
before they are marked, a chunk at a time, so an interrupted build loses at most a chunk
and a reader never takes an unwritten row for a cached one. Reads map the file only for
the copy, so the pages read do not stay in the process's memory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from activelearn.data.images import decode_many
from activelearn.state.catalogue import CatalogueRow, CatalogueTable

log = logging.getLogger("activelearn.cache")

_CHUNK = 2048  # images decoded, written and marked at a time


class ImageCache:
    """The cache file of one geometry: row i is the image of slot i, [channels, h, w]."""

    def __init__(self, folder: Path, size: tuple[int, int], channels: int) -> None:
        self.size, self.channels = (int(size[0]), int(size[1])), int(channels)
        self.geometry = f"{self.channels}x{self.size[0]}x{self.size[1]}"
        self.path = Path(folder) / f"images-{self.geometry}.u8"
        self.row_shape = (self.channels, *self.size)
        self.row_bytes = self.channels * self.size[0] * self.size[1]

    def rows(self) -> int:
        """How many rows the file has room for."""
        try:
            return self.path.stat().st_size // self.row_bytes
        except FileNotFoundError:
            return 0

    def read(self, slots: np.ndarray) -> np.ndarray:
        """The rows of these slots: [len(slots), channels, h, w] uint8."""
        slots = np.asarray(slots, dtype=np.int64)
        out = np.empty((len(slots), *self.row_shape), dtype=np.uint8)
        if len(slots) == 0:
            return out
        mapped = np.memmap(self.path, dtype=np.uint8, mode="r",
                           shape=(self.rows(), *self.row_shape))
        try:
            order = np.argsort(slots, kind="stable")  # read the file forwards
            out[order] = mapped[slots[order]]
        finally:
            del mapped
        return out

    def reserve(self, rows: int) -> None:
        """Make the file hold at least this many rows (before workers write into it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab"):
            pass  # created when missing
        if self.rows() < rows:
            os.truncate(self.path, rows * self.row_bytes)

    def write(self, slots: np.ndarray, images: np.ndarray) -> None:
        """Store images ([len(slots), channels, h, w] uint8) at these slots and flush."""
        if len(slots) == 0:
            return
        self.reserve(int(np.max(slots)) + 1)
        mapped = np.memmap(self.path, dtype=np.uint8, mode="r+",
                           shape=(self.rows(), *self.row_shape))
        try:
            mapped[np.asarray(slots, dtype=np.int64)] = images
            mapped.flush()
        finally:
            del mapped


def missing(cache: ImageCache, table: CatalogueTable,
            rows: Sequence[CatalogueRow]) -> list[CatalogueRow]:
    """The usable rows the cache does not hold (all of them when the catalogue's flags
    are for another geometry: they are cleared), with room made for them in the file."""
    fresh = table.cache_geometry() != cache.geometry
    if fresh:  # another input size: no row holds an image of this one
        table.reset_cache(cache.geometry)
    found = [r for r in rows if r.reason is None and (fresh or not r.cached)]
    if found:
        cache.reserve(max(r.slot for r in found) + 1)
    return found


def write_rows(cache: ImageCache, rows: Sequence[CatalogueRow], workers: int,
               done: Callable[[list[str], dict[str, str]], None] | None = None,
               progress: bool = False) -> tuple[list[str], dict[str, str]]:
    """Decode rows into their cache slots, a chunk at a time (written and flushed before
    done(written ids, failed) is called for the chunk). Returns (the ids written,
    item_id -> reason for files that failed to decode)."""
    written: list[str] = []
    failed: dict[str, str] = {}
    bar = tqdm(total=len(rows), desc="cache", unit="img", unit_scale=True, leave=False,
               disable=None if progress else True)
    for start in range(0, len(rows), _CHUNK):
        part = rows[start:start + _CHUNK]
        images, reasons = decode_many([r.uri for r in part], cache.size, cache.channels,
                                      workers=workers)
        ok = [i for i, reason in enumerate(reasons) if reason is None]
        cache.write(np.array([part[i].slot for i in ok], dtype=np.int64), images[ok])
        chunk_ok = [part[i].item_id for i in ok]
        chunk_failed = {part[i].item_id: str(reason)
                        for i, reason in enumerate(reasons) if reason is not None}
        if done is not None:
            done(chunk_ok, chunk_failed)
        written += chunk_ok
        failed.update(chunk_failed)
        bar.update(len(part))
    bar.close()
    return written, failed


def build(cache: ImageCache, table: CatalogueTable, rows: Sequence[CatalogueRow],
          workers: int, progress: bool = False) -> tuple[int, dict[str, str]]:
    """Decode the usable rows that are not cached into the cache in this process (and
    its DataLoader workers), marking them cached as they are written. Returns (images
    written, item_id -> reason for files that failed to decode), the failures also
    recorded in the catalogue as unusable."""

    def record(ok: list[str], failed: dict[str, str]) -> None:
        table.set_cached(ok)
        table.mark_unusable(failed)

    written, failed = write_rows(cache, missing(cache, table, rows), workers, record,
                                 progress)
    if failed:
        log.warning("cache: %d files failed to decode (now listed as unusable)", len(failed))
    return len(written), failed
