"""Build a Pool from a list of image files (shared by the imagefolder and manifest sources)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from activelearn.config import DataConfig
from activelearn.data.sources.base import Pool, SkippedItem
from activelearn.data.sources.decode import ImageSpec, decode_files
from activelearn.data.sources.limits import check_limit, round_robin
from activelearn.errors import ConfigError, DataError

log = logging.getLogger("activelearn.sources")

DEFAULT_CHANNELS = 3  # RGB unless data.channels says 1


@dataclass(frozen=True)
class FileItem:
    """One candidate image before decoding; label is a class index or UNKNOWN_LABEL."""

    item_id: str
    path: str
    label: int
    is_test: bool = False


def image_spec(cfg: DataConfig, source: str) -> ImageSpec:
    """The ImageSpec of a file source; data.image_size is required for these sources."""
    if cfg.image_size is None:
        raise ConfigError(f"data.image_size: required for the {source} source")
    height, width = cfg.image_size
    if height <= 0 or width <= 0:
        raise ConfigError(f"data.image_size: must be positive, got [{height}, {width}]")
    return ImageSpec((height, width), cfg.channels or DEFAULT_CHANNELS, cfg.resize)


def pool_from_files(
    items: Sequence[FileItem], class_names: list[str], spec: ImageSpec, cfg: DataConfig,
    where: str,
) -> Pool:
    """Decode the items into a Pool, honouring data.limit / data.test_limit.

    The pool lists the non-test items in id order, then the test items in id order.

    Unusable images become SkippedItems (one warning line each). `where` names the source
    in messages, e.g. "imagefolder data/photos". Raises DataError when no image is usable.
    """
    check_limit("limit", cfg.limit)
    check_limit("test_limit", cfg.test_limit)
    parts = [[it for it in items if not it.is_test], [it for it in items if it.is_test]]
    kept: list[FileItem] = []
    arrays: list[np.ndarray] = []
    skipped: list[SkippedItem] = []
    for part, limit in zip(parts, [cfg.limit, cfg.test_limit], strict=True):
        part_kept, part_images, part_skipped = _decode_part(part, limit, spec)
        kept += part_kept
        arrays.append(part_images)
        skipped += part_skipped
    if not kept:
        raise DataError(_empty_message(where, len(items), skipped))
    return Pool(
        item_ids=[it.item_id for it in kept],
        images=torch.from_numpy(np.concatenate(arrays)),
        labels=np.array([it.label for it in kept], dtype=np.int64),
        is_test=np.array([it.is_test for it in kept], dtype=bool),
        class_names=list(class_names),
        paths=[it.path for it in kept],
        skipped=skipped,
    )


def _decode_part(
    items: list[FileItem], limit: int | None, spec: ImageSpec
) -> tuple[list[FileItem], np.ndarray, list[SkippedItem]]:
    """Decode all items, or, under a limit, items in round-robin order until `limit` decode.

    Only as many files as needed are read: a skipped one is replaced by the next in order.
    """
    by_id = sorted(items, key=lambda it: it.item_id)
    order = round_robin(np.array([it.label for it in by_id], dtype=np.int64))
    want = len(by_id) if limit is None else min(limit, len(by_id))
    chosen: list[int] = []
    blocks = [np.zeros((0, spec.channels, *spec.size), np.uint8)]
    skipped: list[SkippedItem] = []
    start = 0
    while len(chosen) < want and start < len(order):
        batch = order[start : start + want - len(chosen)].tolist()
        start += len(batch)
        images, reasons = decode_files([by_id[i].path for i in batch], spec)
        ok = np.array([r is None for r in reasons], dtype=bool)
        chosen += [i for i, r in zip(batch, reasons, strict=True) if r is None]
        skipped += [_skip(by_id[i], r) for i, r in zip(batch, reasons, strict=True) if r]
        blocks.append(images[ok])
    # The pool lists items in id order whatever order they were decoded in.
    back = np.argsort(np.array(chosen, dtype=np.int64), kind="stable")
    return [by_id[chosen[j]] for j in back], np.concatenate(blocks)[back], skipped


def _skip(item: FileItem, reason: str) -> SkippedItem:
    log.warning("skipped image %s (%s): %s", item.item_id, item.path, reason)
    return SkippedItem(item.item_id, item.path, reason)


def _empty_message(where: str, candidates: int, skipped: list[SkippedItem]) -> str:
    if not skipped:
        return f"{where}: no images found (or the limits keep none)"
    first = skipped[0]
    return (
        f"{where}: no usable images: {len(skipped)} of {candidates} skipped "
        f"(first: {first.item_id}: {first.reason})"
    )
