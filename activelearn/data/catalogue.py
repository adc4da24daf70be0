"""The catalogue of a file source: what each listed image file is, read once.

    rows, summary = refresh(candidates, store.catalogue, "imagefolder /photos")

A source lists its candidates (id, URI, label, split, and the listing's byte size and
version). A candidate whose URI, size and version match its catalogued row is not read
again; a new or changed one is read once, whole: its header (size, format, mode), a
SHA-256 of its bytes and a 64-bit perceptual hash (for `clean`), and a small decode that
finds truncated or otherwise broken files. Files the source no longer lists leave the
catalogue. Rows are committed in chunks, so an interrupted first ingest resumes where it
stopped. Without a store (simulate on a folder with no project state) every file is read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from tqdm import tqdm

from activelearn.data.images import dhash, read_bytes, read_info
from activelearn.data.uris import UnusableImage, require_backends
from activelearn.data.workers import worker_options
from activelearn.errors import printable
from activelearn.state.catalogue import CatalogueRow, CatalogueTable

log = logging.getLogger("activelearn.catalogue")

_CHUNK = 2000  # rows read between two commits
_PARALLEL_MIN = 64  # fewer new files than this are read in this process
_WARN_AT_MOST = 20  # unusable files named one warning each; the rest are counted


class Candidate(NamedTuple):  # a tuple: cheap to make by the hundred thousand
    """A file a source lists. size and version come from the listing (-1 and "" when it
    tells nothing; then a catalogued file is taken as unchanged while its URI is)."""

    item_id: str
    uri: str
    label: int
    is_test: bool = False
    size: int = -1
    version: str = ""
    reason: str | None = None  # set: unusable before it is read (never read)


def storable(c: Candidate) -> Candidate:
    """c, or, when its id or URI is no valid UTF-8 (a file name of other bytes, listed by
    the system as surrogate escapes, which no state, CSV or JSON can hold), c with them
    spelt with \\x escapes and a reason: it is skipped like any unusable file."""
    try:
        c.item_id.encode()
        c.uri.encode()
        return c
    except UnicodeEncodeError:
        return c._replace(item_id=_escaped(c.item_id), uri=_escaped(c.uri),
                          reason="its name is not valid UTF-8; rename the file")


def _escaped(text: str) -> str:
    """text with the bytes of a name that are no UTF-8 as \\xNN (a lone surrogate of
    other origin as \\udNNN)."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return raw.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class IngestSummary:
    listed: int
    read: int
    removed: int
    unusable: int
    seconds: float

    def line(self) -> str:
        return (f"catalogue: {self.listed} files listed, {self.read} read (new or changed), "
                f"{self.removed} gone, {self.unusable} unusable, in {self.seconds:.1f} s")


def refresh(candidates: Sequence[Candidate], table: CatalogueTable | None, source: str,
            progress: bool = False) -> tuple[list[CatalogueRow], IngestSummary]:
    """The catalogue rows of the candidates (in their order), reading only new or changed
    files, and recording them in table when there is one. source names the source and
    its root ("imagefolder /photos"): rows of another source are dropped first."""
    start = time.perf_counter()
    candidates = [storable(c) for c in candidates]
    old: dict[str, CatalogueRow] = {}
    if table is not None:
        if table.source() not in (None, source):
            table.clear()
        old = {row.item_id: row for row in table.rows()}
    rows: list[CatalogueRow | None] = []
    to_read: list[int] = []
    relabelled: list[tuple[str, int, bool]] = []
    for c in candidates:
        row = old.get(c.item_id)
        if row is not None and _unchanged(row, c):
            if (row.label, row.is_test) != (c.label, c.is_test):
                relabelled.append((c.item_id, c.label, c.is_test))
                row = row._replace(label=c.label, is_test=c.is_test)
            rows.append(row)
        else:
            to_read.append(len(rows))
            rows.append(None)
    listed = {c.item_id for c in candidates}
    removed = [item_id for item_id in old if item_id not in listed]
    next_slot = table.next_slot() if table is not None else len(candidates)
    fresh: list[CatalogueRow] = []
    unusable = 0
    for position, row in _read_all([candidates[i] for i in to_read], old, next_slot,
                                   progress):
        rows[to_read[position]] = row
        fresh.append(row)
        if row.reason is not None:
            unusable += 1
            if unusable <= _WARN_AT_MOST:
                log.warning("skipped image %s (%s): %s", printable(row.item_id),
                            printable(row.uri), printable(row.reason))
        if table is not None and len(fresh) >= _CHUNK:
            table.replace(source, fresh, [], [])
            fresh = []
    if unusable > _WARN_AT_MOST:
        log.warning("skipped %d more unusable images (activelearn clean lists them all in "
                    "skipped.csv)", unusable - _WARN_AT_MOST)
    if table is not None:
        table.replace(source, fresh, relabelled, removed)
    done = cast(list[CatalogueRow], rows)
    summary = IngestSummary(len(candidates), len(to_read), len(removed),
                            sum(r.reason is not None for r in done),
                            time.perf_counter() - start)
    log.info(summary.line())
    return done, summary


def _unchanged(row: CatalogueRow, c: Candidate) -> bool:
    if row.uri != c.uri:
        return False
    if c.size < 0 and not c.version:
        return True  # the listing tells nothing: known by its URI
    return row.bytes == c.size and row.version == c.version


def _read_all(candidates: list[Candidate], old: dict[str, CatalogueRow], next_slot: int,
              progress: bool) -> Iterator[tuple[int, CatalogueRow]]:
    """(position in candidates, its new row) for every candidate, read in worker
    processes when there are many; a re-read file keeps its cache slot."""
    if not candidates:
        return
    require_backends(c.uri for c in candidates)
    slots = []
    for c in candidates:
        if c.item_id in old:
            slots.append(old[c.item_id].slot)
        else:
            slots.append(next_slot)
            next_slot += 1
    task = _Reading(candidates, slots)
    bar = tqdm(total=len(task), desc="ingest", unit="file", unit_scale=True, leave=False,
               disable=None if progress else True)
    for position, row in _results(task):
        bar.update()
        yield position, row
    bar.close()


def inspect(c: Candidate, slot: int) -> CatalogueRow:
    """The catalogue row of one file, read now (UnusableImage becomes its reason)."""
    row = CatalogueRow(c.item_id, c.uri, c.size, c.version, c.label, c.is_test, slot=slot)
    if c.reason is not None:
        return row._replace(reason=c.reason)
    try:
        data = read_bytes(c.uri)
        info = read_info(data)
        return row._replace(bytes=c.size if c.size >= 0 else len(data), width=info.width,
                       height=info.height, format=info.format, mode=info.mode,
                       sha256=hashlib.sha256(data).hexdigest(), dhash=dhash(data))
    except UnusableImage as exc:
        return row._replace(reason=str(exc))


class _Reading:
    """The map-style dataset a DataLoader runs: item i is (i, the row of candidate i)."""

    def __init__(self, candidates: list[Candidate], slots: list[int]) -> None:
        self.candidates, self.slots = candidates, slots

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: int) -> tuple[int, CatalogueRow]:
        return index, inspect(self.candidates[index], self.slots[index])


def _results(task: _Reading) -> Iterator[tuple[int, CatalogueRow]]:
    workers = min(os.cpu_count() or 1, 8)
    if len(task) < _PARALLEL_MIN or workers < 2:
        yield from (task[i] for i in range(len(task)))
        return
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(cast(Any, task), batch_size=32, num_workers=workers,
                        collate_fn=list, persistent_workers=False,
                        generator=torch.Generator().manual_seed(0), **worker_options())
    for batch in loader:
        yield from batch
