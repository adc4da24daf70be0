"""Tiny synthetic image folders for tests that need a file pool quickly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image


def class_folders(root: Path, classes: Sequence[str], per_class: int = 40) -> Path:
    """root/CLASS/i.png: per_class 8x8 grey images a class, each class its own brightness
    band (easy to learn). Returns root."""
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (8, 8), color=20 + 100 * k + i).save(root / cls / f"{i}.png")
    return root
