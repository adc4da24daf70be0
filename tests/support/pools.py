"""Tiny in-memory pools for fast simulate tests, and a pool of named images (a
manifest's URIs) with the project config that pushes it, for the task-image tests."""

from __future__ import annotations

import numpy as np
import torch

from activelearn.config import Config, config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.kinds import UNKNOWN_LABEL


def tiny_pool(n_train: int = 60, n_test: int = 40) -> Pool:
    """Two classes of 8x8 images, dark and light, with a test part."""
    rng = np.random.default_rng(0)
    n = n_train + n_test
    labels = np.arange(n) % 2
    images = (labels[:, None, None] * 150 + rng.integers(0, 100, (n, 8, 8))).astype(np.uint8)
    return Pool([f"i{k:03d}" for k in range(n)], torch.from_numpy(images[:, None].copy()),
                labels.astype(np.int64), np.arange(n) >= n_train, ["dark", "light"])


def manifest_config(image_mode: str, **label_studio) -> Config:
    """A manifest project of classes a and b whose tasks refer to their images by
    label_studio.image_mode (and the other label_studio keys given)."""
    return config_from_dict(
        {"project": {"name": "t"},
         "data": {"source": "manifest", "root": "images.csv", "image_size": [2, 2]},
         "classes": ["a", "b"], "label_studio": {"image_mode": image_mode, **label_studio}},
        source="project.yaml")


def named_pool(paths: list[str]) -> Pool:
    """An unlabelled pool of 2x2 blank images, one per path (a manifest's URIs)."""
    n = len(paths)
    return Pool(item_ids=[f"item{i}" for i in range(n)],
                images=torch.zeros((n, 1, 2, 2), dtype=torch.uint8),
                labels=np.full(n, UNKNOWN_LABEL, dtype=np.int64),
                is_test=np.zeros(n, dtype=bool), class_names=["a", "b"], paths=paths)
