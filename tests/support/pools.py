"""Tiny in-memory pools for fast simulate tests."""

from __future__ import annotations

import numpy as np
import torch

from activelearn.data.sources.base import Pool


def tiny_pool(n_train: int = 60, n_test: int = 40) -> Pool:
    """Two classes of 8x8 images, dark and light, with a test part."""
    rng = np.random.default_rng(0)
    n = n_train + n_test
    labels = np.arange(n) % 2
    images = (labels[:, None, None] * 150 + rng.integers(0, 100, (n, 8, 8))).astype(np.uint8)
    return Pool([f"i{k:03d}" for k in range(n)], torch.from_numpy(images[:, None].copy()),
                labels.astype(np.int64), np.arange(n) >= n_train, ["dark", "light"])
