"""Build a Pool from image files (shared by the imagefolder and manifest sources).

A file source lists its candidates (catalogue.Candidate); the catalogue (catalogue.py)
reads only the new or changed ones; the pool is the usable ones, as FileImages decoded
at the model's input size when used, or read from the decoded cache with
`data.cache: memmap` (cache.py), or, on a worker elsewhere, from its own decoded cache
by the files' sha256 (decoded.py). Where a project keeps its catalogue and cache is a
SourceState; without one (a quick simulate on a folder) every file is read each time.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from activelearn.config import DataConfig
from activelearn.data.cache import ImageCache, build
from activelearn.data.catalogue import Candidate, refresh
from activelearn.data.decoded import DecodedCache
from activelearn.data.imageset import FileImages
from activelearn.data.snapshot import CatalogueSnapshot
from activelearn.data.sources.base import ContentHashes, Pool, SkippedItem
from activelearn.data.sources.limits import check_limit, limited_positions
from activelearn.errors import ConfigError, DataError
from activelearn.state.catalogue import CatalogueRow, CatalogueTable

log = logging.getLogger("activelearn.sources")

DEFAULT_CHANNELS = 3  # RGB unless data.channels says 1
DEFAULT_SIZE = (64, 64)  # the input size when model.input_size is not set


@dataclass(frozen=True)
class SourceState:
    """Where a file source keeps what it learnt: the project's catalogue table and the
    folder of the decoded cache. refresh: list the source and read new or changed files
    (and extend the cache, unless build_cache is False); False takes the catalogue as it
    stands (a worker loads the pool the controller ingested, at the same positions).
    decoded: a worker's own decoded cache, for the items the memmap cache lacks."""

    catalogue: CatalogueTable | CatalogueSnapshot  # a snapshot only with refresh False
    cache_dir: Path
    refresh: bool = True
    progress: bool = False
    build_cache: bool = True  # False: the caller builds it (as jobs on RQ workers)
    decoded: DecodedCache | None = None


def decode_size(cfg: DataConfig, input_size: Sequence[int] | None) -> tuple[int, int]:
    """The size file images are decoded at: model.input_size, else data.image_size (its
    older name), else DEFAULT_SIZE."""
    size = input_size or cfg.image_size or DEFAULT_SIZE
    return int(size[0]), int(size[1])


def pool_from_files(
    list_candidates: Callable[[], list[Candidate]], class_names: list[str], cfg: DataConfig,
    size: tuple[int, int], where: str, state: SourceState | None,
) -> Pool:
    """The pool of the listed files, honouring data.limit / data.test_limit.

    The pool lists the non-test items in id order, then the test items in id order.
    Unusable files become SkippedItems. `where` names the source in messages, e.g.
    "imagefolder data/photos". Raises DataError when no image is usable.
    """
    check_limit("limit", cfg.limit)
    check_limit("test_limit", cfg.test_limit)
    notes: list[str] = []
    rows = _catalogue_rows(list_candidates, cfg, state, notes)
    channels = cfg.channels or DEFAULT_CHANNELS
    generation = state.catalogue.generation() if state is not None else 0
    cache = _cache(cfg, size, channels, state, rows, notes)
    if state is not None and state.catalogue.generation() != generation:
        rows = list(state.catalogue.rows())  # the cached flags as the build left them
    usable = [r for r in rows if r.reason is None]
    skipped = [SkippedItem(r.item_id, r.uri, r.reason) for r in rows if r.reason is not None]
    kept: list[CatalogueRow] = []
    for test, limit in ((False, cfg.limit), (True, cfg.test_limit)):
        part = sorted((r for r in usable if r.is_test == test), key=lambda r: r.item_id)
        keep = limited_positions(np.array([r.label for r in part], dtype=np.int64), limit)
        kept += [part[i] for i in keep]
    if not kept:
        raise DataError(_empty_message(where, len(rows), skipped))
    images = FileImages([r.uri for r in kept], size, channels, cache,
                        np.array([r.slot for r in kept], dtype=np.int64),
                        np.array([r.cached for r in kept], dtype=bool),
                        [r.sha256 or "" for r in kept],
                        state.decoded if state is not None else None)
    return Pool(
        item_ids=[r.item_id for r in kept],
        images=images,
        labels=np.array([r.label for r in kept], dtype=np.int64),
        is_test=np.array([r.is_test for r in kept], dtype=bool),
        class_names=list(class_names),
        paths=[r.uri for r in kept],
        skipped=skipped,
        notes=notes,
        hashes=ContentHashes([r.sha256 or "" for r in kept],
                             np.array([r.dhash or 0 for r in kept], dtype=np.int64)),
    )


def _catalogue_rows(list_candidates: Callable[[], list[Candidate]], cfg: DataConfig,
                    state: SourceState | None, notes: list[str]) -> list[CatalogueRow]:
    source = f"{cfg.source} {cfg.root}"
    if state is not None and not state.refresh and state.catalogue.source() == source \
            and state.catalogue.count():
        return list(state.catalogue.rows())
    # a reader (refresh False) never writes: without the controller's catalogue it
    # reads the files for itself
    table = state.catalogue if state is not None and state.refresh else None
    assert not isinstance(table, CatalogueSnapshot)  # a snapshot is never refreshed
    rows, summary = refresh(list_candidates(), table, source,
                            state is not None and state.progress)
    notes.append(summary.line())
    return rows


def _cache(cfg: DataConfig, size: tuple[int, int], channels: int,
           state: SourceState | None, rows: list[CatalogueRow],
           notes: list[str]) -> ImageCache | None:
    """The decoded cache when data.cache is memmap, built or extended first when the
    state refreshes (a worker only reads what the controller built)."""
    if cfg.cache != "memmap":
        return None
    if state is None:
        raise ConfigError("data.cache: memmap needs a project (its work dir holds the "
                          "cache); run through a project config, or set data.cache: none")
    cache = ImageCache(state.cache_dir, size, channels)
    if state.refresh and state.build_cache:
        assert not isinstance(state.catalogue, CatalogueSnapshot)  # never refreshed
        workers = min(8, os.cpu_count() or 1) if len(rows) >= 64 else 0
        started = time.perf_counter()
        written, failed = build(cache, state.catalogue, rows, workers, state.progress)
        notes.append(f"cache {cache.path}: {written} images decoded into it, "
                     f"{len(failed)} failed, in {time.perf_counter() - started:.1f} s")
    elif state.catalogue.cache_geometry() != cache.geometry:
        if not state.refresh and state.decoded is None:  # the controller builds it; this
            # reader decodes meanwhile (a worker elsewhere: its own decoded cache serves)
            log.warning("cache %s is not built for %s; decoding the files instead "
                        "(run activelearn ingest)", cache.path, cache.geometry)
        return None
    return cache


def _empty_message(where: str, candidates: int, skipped: list[SkippedItem]) -> str:
    if not skipped:
        return f"{where}: no images found (or the limits keep none)"
    first = skipped[0]
    return (
        f"{where}: no usable images: {len(skipped)} of {candidates} skipped "
        f"(first: {first.item_id}: {first.reason})"
    )
