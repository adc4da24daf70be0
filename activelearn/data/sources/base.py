"""What every data source produces: an in-memory pool with stable string ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class SkippedItem:
    """An image left out of the pool, and why (corrupt, unreadable, wrong size)."""

    item_id: str
    path: str
    reason: str


@dataclass
class Pool:
    """All usable items of a source.

    images: [items, channels, height, width] uint8 tensor (CPU)
    labels: [items] int64 class indices into class_names, UNKNOWN_LABEL where unlabeled
    is_test: [items] bool, True for the source's own test part (e.g. Fashion-MNIST t10k)
    item_ids / paths: per item; the array position is the item's `index`
    """

    item_ids: list[str]
    images: torch.Tensor
    labels: np.ndarray
    is_test: np.ndarray
    class_names: list[str]
    paths: list[str] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.item_ids)

    def subset(self, indices: np.ndarray) -> Pool:
        """A pool of the given positions (same class names, no skipped list)."""
        idx = np.asarray(indices, dtype=np.int64)
        return Pool(
            item_ids=[self.item_ids[i] for i in idx],
            images=self.images[torch.from_numpy(idx)],
            labels=self.labels[idx],
            is_test=self.is_test[idx],
            class_names=list(self.class_names),
            paths=[self.paths[i] for i in idx] if self.paths else [],
        )
