"""A pool's images as one indexable set, whether they sit in memory or in files.

    images[positions]          # a subset, still lazy for files
    as_tensor(images[0:256])   # [256, channels, h, w] uint8, decoded (or read) now
    for batch in batches(images, index_batches, pin=True): ...

Fashion-MNIST and CIFAR-10 pools hold a uint8 tensor, which is its own image set. File
pools hold FileImages: the URIs and the size to decode at, decoded only when a batch is
asked for, in DataLoader worker processes ahead of the consumer, or read from the
decoded cache (cache.py) where it holds the item, else from a worker's own decoded cache
(decoded.py, by the file's sha256) where it holds the image, which keeps what is decoded.
So memory follows the batch, not the pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np

from activelearn.data.cache import ImageCache
from activelearn.data.decoded import CacheStats, DecodedCache
from activelearn.data.images import decode_many
from activelearn.data.workers import worker_options
from activelearn.errors import printable

if TYPE_CHECKING:  # torch is imported when images are used: `ingest` never needs it
    import torch

log = logging.getLogger("activelearn.images")

# Decoding in worker processes pays only above this many pixels per image and images.
_PROCESS_MIN_PIXELS = 96 * 96
_PROCESS_MIN_IMAGES = 64
# Processes for images fetched over the network (s3://, http(s)://), whatever the cores:
# they wait on each request, so a few in parallel read several times as fast.
_REMOTE_PROCESSES = 8
# A batches() run reads in this process when a worker's decoded cache lacks at most this
# share of the items (round 2: the changed images), without starting DataLoader workers.
_FEW_MISSING = 0.05


class FileImages:
    """Images named by URIs, decoded at size (h, w) with 1 or 3 channels when used.

    slots/cached: per item, its row in the decoded cache and whether that row holds it
    (no cache: all False). digests/decoded: per item, its file's sha256, and a worker's
    own decoded cache, which the items the memmap cache lacks are looked up in (and
    written to once decoded). Indexing returns a FileImages of those items, except an
    int, which returns that one image as a tensor, as a tensor would.
    """

    def __init__(self, uris: Sequence[str], size: tuple[int, int], channels: int,
                 cache: ImageCache | None = None, slots: np.ndarray | None = None,
                 cached: np.ndarray | None = None, digests: Sequence[str] | None = None,
                 decoded: DecodedCache | None = None) -> None:
        self.uris = list(uris)
        self.size, self.channels, self.cache = (int(size[0]), int(size[1])), channels, cache
        n = len(self.uris)
        self.slots = np.full(n, -1, np.int64) if slots is None else np.asarray(slots, np.int64)
        self.cached = np.zeros(n, bool) if cached is None or cache is None else \
            np.asarray(cached, bool)
        self.digests = list(digests) if digests is not None and decoded is not None else None
        self.decoded = decoded if self.digests is not None else None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.uris), self.channels, *self.size)

    def __len__(self) -> int:
        return len(self.uris)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self.load_positions(np.array([int(key)]))[0]
        positions = _positions(key, len(self))
        digests = None if self.digests is None else [self.digests[i] for i in positions]
        return FileImages([self.uris[i] for i in positions], self.size, self.channels,
                          self.cache, self.slots[positions], self.cached[positions],
                          digests, self.decoded)

    def load(self) -> torch.Tensor:
        """All of them: [len, channels, h, w] uint8 (zeros for a file that failed to
        decode since it was catalogued; a warning names it)."""
        return self.load_positions(np.arange(len(self)))

    def load_positions(self, positions: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(positions), self.channels, *self.size), dtype=np.uint8)
        hit = self.cached[positions]
        if hit.any() and self.cache is not None:
            out[hit] = self.cache.read(self.slots[positions[hit]])
        miss = np.flatnonzero(~hit)
        if len(miss) and self.decoded is not None and self.digests is not None:
            digests = [self.digests[positions[i]] for i in miss]
            miss = miss[~self.decoded.read(digests, (self.channels, *self.size), out, miss)]
        if len(miss):
            uris = [self.uris[positions[i]] for i in miss]
            with _more_processes_than_cores():
                images, reasons = decode_many(uris, self.size, self.channels,
                                              workers=self._decode_processes(len(uris)))
            out[miss] = images
            for uri, reason in zip(uris, reasons, strict=True):
                if reason is not None:
                    log.warning("image %s failed to decode (%s); used as a blank image",
                                printable(uri), printable(reason))
            if self.decoded is not None and self.digests is not None:
                ok = [i for i, reason in enumerate(reasons) if reason is None]
                self.decoded.write([self.digests[positions[miss[i]]] for i in ok], images[ok])
        import torch

        return torch.from_numpy(out)

    def loader_workers(self) -> int:
        """DataLoader worker processes for batches(): none when the caches hold every
        item, or all but a few (a read is cheaper than a process: the few are decoded
        here), else up to 8 leaving a core to the model (8 whatever the cores for images
        fetched over the network)."""
        if self.cached.all() or self._decoded_lacks() <= _FEW_MISSING * len(self):
            return 0
        if self._remote():
            return _REMOTE_PROCESSES
        return max(1, min(8, (os.cpu_count() or 1) - 1))

    def _decoded_lacks(self) -> int:
        """How many of the items neither cache holds (every item without a decoded
        cache): one stat each, far cheaper than the reads that follow."""
        rest = np.flatnonzero(~self.cached)
        if self.decoded is None or self.digests is None:
            return len(rest)
        shape = (self.channels, *self.size)
        return sum(not self.decoded.path(self.digests[i], shape).exists() for i in rest)

    def _decode_processes(self, count: int) -> int:
        """Processes for decode_many: none in a DataLoader worker of batches() (a daemon
        process may not start any) or for few images; _REMOTE_PROCESSES for images
        fetched over the network; else up to 8 on 4 cores or more, for large images."""
        if multiprocessing.current_process().daemon or count < _PROCESS_MIN_IMAGES:
            return 0
        if self._remote():
            return _REMOTE_PROCESSES
        cpus = os.cpu_count() or 1
        if cpus < 4 or self.size[0] * self.size[1] < _PROCESS_MIN_PIXELS:
            return 0
        return min(8, cpus)

    def _remote(self) -> bool:
        """Whether the images are fetched over the network (judged on the first URI: a
        pool's URIs share a root)."""
        first = self.uris[0] if self.uris else ""
        return "://" in first and not first.lower().startswith("file:")


ImageSet: TypeAlias = "torch.Tensor | FileImages"


def as_tensor(images: ImageSet) -> torch.Tensor:
    """The images as a uint8 tensor: a tensor as it is, FileImages decoded now."""
    return images.load() if isinstance(images, FileImages) else images


def is_lazy(images: ImageSet) -> bool:
    return isinstance(images, FileImages)


def sample_positions(count: int, at_most: int) -> np.ndarray:
    """At most `at_most` evenly spread positions of count items."""
    return np.arange(0, count, max(1, -(-count // at_most)), dtype=np.int64)


def batches(images: ImageSet, index_batches: Sequence[np.ndarray | torch.Tensor],
            pin: bool = False) -> Iterator[torch.Tensor]:
    """The uint8 batch of each index array, in order. File images are decoded by
    DataLoader worker processes a few batches ahead, into pinned memory when pin (for
    CUDA); a tensor is indexed directly."""
    if not isinstance(images, FileImages):
        import torch

        for idx in index_batches:
            yield images[torch.as_tensor(idx, dtype=torch.long)]
        return
    workers = images.loader_workers()
    if workers == 0 or len(index_batches) < 2:
        for idx in index_batches:
            yield images.load_positions(np.asarray(idx, dtype=np.int64))
        return
    import torch
    from torch.utils.data import DataLoader

    # a generator of its own: a DataLoader draws its workers' seed from the global one,
    # which would change the dropout and crops that follow (a seeded run must not
    # depend on where its images come from)
    with _more_processes_than_cores():  # made and started here, not across the yields
        loader = iter(DataLoader(
            cast(Any, _Batches(images, index_batches)), batch_size=None,
            num_workers=min(workers, len(index_batches)), pin_memory=pin, prefetch_factor=2,
            persistent_workers=False, generator=torch.Generator().manual_seed(0),
            **worker_options()))
    if images.decoded is None:
        yield from loader
        return
    for batch, stats, off in loader:  # the workers' use of the decoded cache, counted here
        images.decoded.absorb(stats, off)
        yield batch


@contextmanager
def _more_processes_than_cores() -> Iterator[None]:
    """Without torch's warning that a DataLoader has more workers than cores: images
    fetched over the network are read by more processes than cores on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        yield


def slices(count: int, batch_size: int) -> list[np.ndarray]:
    """Consecutive position batches covering count items."""
    return [np.arange(lo, min(lo + batch_size, count), dtype=np.int64)
            for lo in range(0, count, batch_size)]


class _Batches:
    """The map-style dataset of batches(): item i is the decoded batch i, with a decoded
    cache the batch, what the cache did for it and why its writes are off (if so): a
    DataLoader worker's counts are its own, so it hands them to the parent."""

    def __init__(self, images: FileImages, index_batches: Sequence[Any]) -> None:
        self.images, self.index_batches = images, index_batches

    def __len__(self) -> int:
        return len(self.index_batches)

    def __getitem__(self, i: int) -> torch.Tensor | tuple[torch.Tensor, CacheStats, str | None]:
        positions = np.asarray(self.index_batches[i], dtype=np.int64)
        decoded = self.images.decoded
        if decoded is None:
            return self.images.load_positions(positions)
        decoded.quiet = True  # this worker's copy: the parent says what is to be said
        before = decoded.stats.copy()
        batch = self.images.load_positions(positions)
        return batch, decoded.stats.since(before), decoded.off


def _positions(key: Any, count: int) -> np.ndarray:
    """Integer positions of an index: a slice, an int/bool array, a tensor or a list."""
    if isinstance(key, slice):
        return np.arange(count, dtype=np.int64)[key]
    if hasattr(key, "cpu"):  # a torch tensor
        key = key.cpu().numpy()
    array = np.asarray(key)
    if array.dtype == bool:
        return np.flatnonzero(array)
    return array.astype(np.int64).reshape(-1)
