"""What every data source produces: a pool of images with stable string ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from activelearn.data.imageset import ImageSet


@dataclass
class SkippedItem:
    """An image left out of the pool, and why (corrupt, unreadable, wrong size)."""

    item_id: str
    path: str
    reason: str


@dataclass
class ContentHashes:
    """Per item of a file pool: sha256 of the file's bytes, and a 64-bit perceptual hash
    (images.dhash) as int64; from the catalogue, so `clean` reads no file."""

    sha256: list[str]
    dhash: np.ndarray


@dataclass
class Pool:
    """All usable items of a source.

    images: an image set of shape [items, channels, height, width] uint8: a CPU tensor
        (Fashion-MNIST, CIFAR-10) or FileImages, decoded when used (imageset.py)
    labels: [items] int64 class indices into class_names, UNKNOWN_LABEL where unlabeled
    is_test: [items] bool, True for the source's own test part (e.g. Fashion-MNIST t10k)
    item_ids / paths: per item (paths: the file's path or URI); the array position is the
        item's `index`
    hashes: the file pools' content hashes, None for in-memory datasets
    notes: one line each on how the pool was loaded (files read, cache built)
    """

    item_ids: list[str]
    images: ImageSet
    labels: np.ndarray
    is_test: np.ndarray
    class_names: list[str]
    paths: list[str] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    hashes: ContentHashes | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.item_ids)

    def subset(self, indices: np.ndarray) -> Pool:
        """A pool of the given positions (same class names, no skipped list)."""
        idx = np.asarray(indices, dtype=np.int64)
        return Pool(
            item_ids=[self.item_ids[i] for i in idx],
            images=self.images[idx],  # a tensor takes a numpy index too
            labels=self.labels[idx],
            is_test=self.is_test[idx],
            class_names=list(self.class_names),
            paths=[self.paths[i] for i in idx] if self.paths else [],
            hashes=None if self.hashes is None else ContentHashes(
                [self.hashes.sha256[i] for i in idx], self.hashes.dhash[idx]),
        )
