"""Data sources: each turns a `data:` config section into a Pool of images with stable ids.

    pool = open_pool(cfg, store)                       # a project's pool (catalogued)
    pool = load_source(cfg.data, cfg.classes)          # just the source

A source is a function `(DataConfig, classes, input_size, state) -> Pool` (base.py),
registered by name with register_source and found with get_source; data.source names it.
input_size is model.input_size; state (files.SourceState) is where a file source keeps
its catalogue and decoded cache, None for none. The built-in sources are registered
lazily, so listing the names does not import torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activelearn.config import Config, DataConfig
from activelearn.config.registry import Registry
from activelearn.config.schema import HUB_INPUT_SIZE

if TYPE_CHECKING:  # the types only: base.py imports torch
    from activelearn.data.cache import ImageCache
    from activelearn.data.snapshot import CatalogueSnapshot
    from activelearn.data.sources.base import Pool
    from activelearn.state import Store

__all__ = ["available_sources", "cache_dir", "get_source", "load_source", "open_pool",
           "project_cache", "register_source"]

log = logging.getLogger("activelearn.sources")

Loader = Callable[..., "Pool"]  # (DataConfig, classes, input_size=..., state=...) -> Pool
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


def open_pool(cfg: Config, store: Store | None = None, refresh: bool = True,
              progress: bool = False, build_cache: bool = True,
              catalogue: CatalogueSnapshot | None = None) -> Pool:
    """The project's pool: the source of cfg.data at model.input_size, with its catalogue
    and decoded cache in the store and WORK_DIR/cache (refresh: list the source and read
    new or changed files, as the controller does; False: take the catalogue as the
    controller left it, as a worker does). Without a store nothing is kept.
    build_cache: False leaves the decoded cache to the caller (jobs.kinds.cache.build_cache,
    on RQ workers); the pool decodes what the cache lacks meanwhile.
    catalogue: instead of a store, the catalogue a job reads from its snapshot (never
    refreshed); when it gives no memmap cache (a worker on another machine), the
    worker's own decoded cache (data/decoded.py) where the worker process set one up."""
    from activelearn.data.decoded import DecodedCache
    from activelearn.data.sources.files import SourceState

    state = None
    if catalogue is not None:
        decoded = DecodedCache.from_environment() if catalogue.cache_geometry() is None \
            else None
        state = SourceState(catalogue, cache_dir(cfg), refresh=False, decoded=decoded)
    elif store is not None:
        state = SourceState(store.catalogue, cache_dir(cfg), refresh, progress, build_cache)
    return load_source(cfg.data, cfg.classes, input_size(cfg), state)


FILE_SOURCES = ("imagefolder", "manifest")


def input_size(cfg: Config) -> tuple[int, int] | None:
    """model.input_size; unset, torchvision weights' 224x224 for file sources (None: the
    source's own size or default)."""
    if cfg.model.input_size is None and cfg.model.hub_weights \
            and cfg.data.source in FILE_SOURCES:
        return HUB_INPUT_SIZE
    return cfg.model.input_size


def cache_dir(cfg: Config) -> Path:
    """Where the project's decoded cache lives."""
    return cfg.work_dir / "cache"


def project_cache(cfg: Config) -> ImageCache:
    """The project's decoded cache at its input size and channels (data.cache: memmap)."""
    from activelearn.data.cache import ImageCache
    from activelearn.data.sources.files import DEFAULT_CHANNELS, decode_size

    return ImageCache(cache_dir(cfg), decode_size(cfg.data, input_size(cfg)),
                      cfg.data.channels or DEFAULT_CHANNELS)


def load_source(cfg: DataConfig, classes: list[str],
                input_size: tuple[int, int] | None = None, state: Any = None) -> Pool:
    """Load the pool cfg describes; `classes` are the class names in label-index order.

    Raises UnknownNameError for an unregistered cfg.source, ConfigError for settings the
    source cannot use, DataError when the data is missing or has no usable image.
    Unusable single images are not errors: they are listed in pool.skipped.
    """
    loader = get_source(cfg.source)
    started = time.perf_counter()
    pool = loader(cfg, list(classes), input_size=input_size, state=state)
    tests = int(pool.is_test.sum())
    log.info(
        "loaded %s from %s: %d pool + %d test items, %d skipped, in %.2f s",
        cfg.source, cfg.root, len(pool) - tests, tests, len(pool.skipped),
        time.perf_counter() - started,
    )
    return pool
