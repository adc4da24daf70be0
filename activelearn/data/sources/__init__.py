"""Data sources: each turns a `data:` config section into a Pool of images with stable ids.

    pool = load_source(cfg.data, cfg.classes)

Sources are looked up by name in SOURCES; a new one is a function
`(DataConfig, classes) -> Pool` added there with register_source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from activelearn.config import DataConfig
from activelearn.data.sources import cifar10, fashion_mnist, imagefolder, manifest
from activelearn.data.sources.base import UNKNOWN_LABEL, Pool, SkippedItem
from activelearn.errors import UnknownNameError

__all__ = [
    "SOURCES", "UNKNOWN_LABEL", "Pool", "SkippedItem",
    "available_sources", "load_source", "register_source",
]

log = logging.getLogger("activelearn.sources")

Loader = Callable[[DataConfig, list[str]], Pool]

SOURCES: dict[str, Loader] = {
    fashion_mnist.NAME: fashion_mnist.load,
    cifar10.NAME: cifar10.load,
    "imagefolder": imagefolder.load,
    "manifest": manifest.load,
}


def register_source(name: str, loader: Loader) -> None:
    """Make `loader` available as data.source: name (replaces a source of that name)."""
    SOURCES[name] = loader


def available_sources() -> list[str]:
    """The registered source names, sorted."""
    return sorted(SOURCES)


def load_source(cfg: DataConfig, classes: list[str]) -> Pool:
    """Load the pool cfg describes; `classes` are the class names in label-index order.

    Raises UnknownNameError for an unregistered cfg.source, ConfigError for settings the
    source cannot use, DataError when the data is missing or has no usable image.
    Unusable single images are not errors: they are listed in pool.skipped.
    """
    loader = SOURCES.get(cfg.source)
    if loader is None:
        raise UnknownNameError("source", cfg.source, list(SOURCES))
    started = time.perf_counter()
    pool = loader(cfg, list(classes))
    tests = int(pool.is_test.sum())
    log.info(
        "loaded %s from %s: %d pool + %d test items, %d skipped, in %.2f s",
        cfg.source, cfg.root, len(pool) - tests, tests, len(pool.skipped),
        time.perf_counter() - started,
    )
    return pool
