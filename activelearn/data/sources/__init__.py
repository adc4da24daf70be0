"""Data sources: each turns a `data:` config section into a Pool of images with stable ids.

    pool = load_source(cfg.data, cfg.classes)

A source is a function `(DataConfig, classes) -> Pool` (base.py), registered by name
with register_source and found with get_source; data.source names it. The built-in
sources are registered lazily, so listing the names does not import torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from activelearn.config import DataConfig
from activelearn.config.registry import Registry

if TYPE_CHECKING:  # the type only: base.py imports torch
    from activelearn.data.sources.base import Pool

__all__ = ["available_sources", "get_source", "load_source", "register_source"]

log = logging.getLogger("activelearn.sources")

Loader = Callable[[DataConfig, list[str]], "Pool"]
_SOURCES: Registry[Loader] = Registry("source")


def register_source(name: str, loader: Loader) -> Loader:
    """Make `loader` available as data.source: name (replaces a source of that name)."""
    return _SOURCES.register(name, loader)


def get_source(name: str) -> Loader:
    """The loader registered as name; an unknown name is a ConfigError listing the others."""
    return _SOURCES.get(name)


def available_sources() -> list[str]:
    """The registered source names, sorted."""
    return _SOURCES.available()


for _name, _module in (("fashion-mnist", "fashion_mnist"), ("cifar10", "cifar10"),
                      ("imagefolder", "imagefolder"), ("manifest", "manifest")):
    _SOURCES.register_lazy(_name, f"activelearn.data.sources.{_module}:load")


def load_source(cfg: DataConfig, classes: list[str]) -> Pool:
    """Load the pool cfg describes; `classes` are the class names in label-index order.

    Raises UnknownNameError for an unregistered cfg.source, ConfigError for settings the
    source cannot use, DataError when the data is missing or has no usable image.
    Unusable single images are not errors: they are listed in pool.skipped.
    """
    loader = get_source(cfg.source)
    started = time.perf_counter()
    pool = loader(cfg, list(classes))
    tests = int(pool.is_test.sum())
    log.info(
        "loaded %s from %s: %d pool + %d test items, %d skipped, in %.2f s",
        cfg.source, cfg.root, len(pool) - tests, tests, len(pool.skipped),
        time.perf_counter() - started,
    )
    return pool
