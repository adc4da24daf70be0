"""Build a Pool from whole in-memory datasets (the torchvision sources' train and test parts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from activelearn.config import DataConfig
from activelearn.data.sources.base import Pool
from activelearn.data.sources.limits import check_limit, limited_positions
from activelearn.errors import ConfigError, DataError


@dataclass
class Part:
    """One part of a dataset: name ("train"/"test"), images [items, channels, H, W] uint8,
    labels [items] int64."""

    name: str
    images: np.ndarray
    labels: np.ndarray

    @property
    def is_test(self) -> bool:
        return self.name == "test"


def check_classes(source: str, classes: list[str], expected: int) -> None:
    """A fixed dataset needs exactly its number of class names (in its label order)."""
    if len(classes) != expected:
        raise ConfigError(
            f"classes: {source} has {expected} classes, the config lists {len(classes)}"
        )


def check_shape(source: str, cfg: DataConfig, channels: int, size: tuple[int, int],
                input_size: tuple[int, int] | None = None) -> None:
    """data.channels / data.image_size / model.input_size are optional here but must match
    the dataset if set."""
    if input_size is not None and tuple(input_size) != size:
        raise ConfigError(
            f"model.input_size: {source} images are {size[0]}x{size[1]}, got "
            f"{input_size[0]}x{input_size[1]} (remove the key)"
        )
    if cfg.channels is not None and cfg.channels != channels:
        raise ConfigError(
            f"data.channels: {source} images have {channels} channel(s), got {cfg.channels} "
            "(remove the key)"
        )
    if cfg.image_size is not None and tuple(cfg.image_size) != size:
        raise ConfigError(
            f"data.image_size: {source} images are {size[0]}x{size[1]}, got "
            f"{cfg.image_size[0]}x{cfg.image_size[1]} (remove the key)"
        )


def pool_from_parts(source: str, parts: list[Part], classes: list[str], cfg: DataConfig) -> Pool:
    """Concatenate the parts into one Pool with ids like "fashion-mnist/train/00042".

    data.limit applies to the non-test parts, data.test_limit to the test part; the kept
    items are a round-robin over labels in id (= array) order.
    """
    check_limit("limit", cfg.limit)
    check_limit("test_limit", cfg.test_limit)
    ids: list[str] = []
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    is_test: list[np.ndarray] = []
    for part in parts:
        keep = limited_positions(part.labels, cfg.test_limit if part.is_test else cfg.limit)
        # Slicing when everything is kept avoids a 55 MB fancy-index copy for Fashion-MNIST.
        whole = len(keep) == len(part.labels)
        images.append(part.images if whole else part.images[keep])
        labels.append(part.labels if whole else part.labels[keep])
        is_test.append(np.full(len(keep), part.is_test))
        ids += [f"{source}/{part.name}/{i:05d}" for i in keep.tolist()]
    if not ids:
        raise DataError(f"{source}: no items left (data.limit / data.test_limit keep none)")
    return Pool(
        item_ids=ids,
        images=torch.from_numpy(np.ascontiguousarray(np.concatenate(images))),
        labels=np.concatenate(labels).astype(np.int64),
        is_test=np.concatenate(is_test),
        class_names=list(classes),
        paths=[],
    )
