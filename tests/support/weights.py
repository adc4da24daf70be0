"""A pretrained weights file the tests save themselves (model.weights)."""

from __future__ import annotations

from pathlib import Path

import torch

from activelearn.learn.checkpoints import save_checkpoint
from activelearn.learn.inference import Normalizer
from activelearn.learn.networks import InputSpec, small_cnn


def saved_cnn(path: Path, classes: int = 5, channels: int = 1) -> torch.nn.Module:
    """A small_cnn for 28x28 images saved as an activelearn checkpoint at path."""
    torch.manual_seed(3)
    model = small_cnn(InputSpec(channels, 28, 28, classes), 0.25).eval()
    save_checkpoint(path, model, Normalizer((70.0,) * channels, (90.0,) * channels),
                    {"model_version": "pre", "input_size": [28, 28]})
    return model
