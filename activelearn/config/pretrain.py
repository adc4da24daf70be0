"""`pretrain`: self-supervised pretraining on the pool (a section of Config, kept beside
schema.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class PretrainConfig:
    """Self-supervised pretraining on the pool (`pretrain:`; `activelearn pretrain`, and
    `cycle` before the first model when model.weights is "pool"). The configured network
    learns from every train-pool item, labeled or not (never holdout, validation or test
    items); the result is a checkpoint that model.weights: pool names.

    Attributes:
        method {simclr, vicreg}: SimCLR's contrastive loss (measured best here,
            docs/pretraining.md) or VICReg's
        epochs [1, 10000]: passes over the pool (or over items_per_epoch items)
        batch_size [16, 65536]: images per step (each seen as two views)
        lr (0, 10]: the peak learning rate of SGD with momentum (warm-up, then cosine)
        temperature (0, 10]: SimCLR's softmax temperature
        projection_dim [8, 8192]: the projection head's output size (dropped afterwards)
        crop (0, 1] each {min <= max}: [min, max] share of the area a view keeps
        brightness [0, 10]: the views' brightness jitter, in standard deviations
        contrast [0, 1): the views' contrast jitter, a factor in [1 - contrast, 1 + contrast]
        items_per_epoch [0, 10**9]: pool items per epoch (0 = all)
        min_items [2, 10**9]: pools with fewer train items than this are refused (too
            small to learn from)

    Left-right mirroring follows training.hflip.
    """

    method: Literal["simclr", "vicreg"] = "simclr"
    epochs: int = 20
    batch_size: int = 256
    lr: float = 0.5
    temperature: float = 0.2
    projection_dim: int = 64
    crop: tuple[float, float] = (0.25, 1.0)
    brightness: float = 0.4
    contrast: float = 0.4
    items_per_epoch: int = 0
    min_items: int = 1000
