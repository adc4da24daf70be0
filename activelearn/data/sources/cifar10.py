"""The `cifar10` source: torchvision's CIFAR10 (50,000 train + 10,000 test, 32x32 RGB).

It reads ROOT/cifar-10-batches-py (the unpacked python version of CIFAR-10); with
data.download: true torchvision fetches it when it is missing.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from activelearn.config import DataConfig
from activelearn.data.sources.arrays import Part, check_classes, check_shape, pool_from_parts
from activelearn.data.sources.base import Pool
from activelearn.errors import DataError

NAME = "cifar10"
FOLDER = "cifar-10-batches-py"


def load(cfg: DataConfig, classes: list[str], input_size: tuple[int, int] | None = None,
         state: object = None) -> Pool:
    """Load both parts as a Pool: images [60000, 3, 32, 32] uint8, ids cifar10/train/00042
    (input_size must be 32x32 when set; state is unused: the dataset sits in memory)."""
    check_classes(NAME, classes, 10)
    check_shape(NAME, cfg, 3, (32, 32), input_size)
    root = Path(cfg.root).expanduser()
    folder = root / FOLDER
    if not folder.is_dir() and not cfg.download:
        raise DataError(
            f"CIFAR-10 not found under {folder}: set data.download: true (needs internet) "
            f"or unpack cifar-10-python.tar.gz into {root}"
        )
    # Imported here: torchvision takes seconds to import and only these sources need it.
    from torchvision.datasets import CIFAR10

    parts = []
    for train, name in [(True, "train"), (False, "test")]:
        try:
            ds = CIFAR10(str(root), train=train, download=cfg.download)
        except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            # torchvision's own message speaks of download=True; say it in config terms.
            raise DataError(
                f"CIFAR-10 under {folder} is incomplete or corrupted: delete it and set "
                f"data.download: true (needs internet), or unpack cifar-10-python.tar.gz "
                f"into {root}"
            ) from exc
        images = ds.data.transpose(0, 3, 1, 2)  # torchvision keeps [items, H, W, 3]
        parts.append(Part(name, images, np.asarray(ds.targets, dtype=np.int64)))
    return pool_from_parts(NAME, parts, classes, cfg)
