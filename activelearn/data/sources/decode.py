"""Decode the file sources' images into one fixed-size uint8 array, reporting unusable ones.

The work (opening, orientation, modes, limits, resizing) is activelearn.data.images; this
module keeps the file sources' ImageSpec and its rule: without `resize`, an image of
another size is refused rather than resized.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from activelearn.data.images import UnusableImage, decode, decode_many

__all__ = ["ImageSpec", "UnusableImage", "decode_file", "decode_files"]

# Below this many pixels per image, decoding in worker processes does not pay (_workers).
_PROCESS_MIN_PIXELS = 96 * 96


@dataclass(frozen=True)
class ImageSpec:
    """The shape every pool image gets: size is (height, width); channels is 1 (L) or 3 (RGB).

    resize: resize images of another size (scale to cover, centre crop) instead of
    rejecting them.
    """

    size: tuple[int, int]
    channels: int
    resize: bool = False


def decode_file(path: str, spec: ImageSpec) -> np.ndarray:
    """Read one image file. Returns [channels, height, width] uint8; raises UnusableImage."""
    return decode(path, spec.size, spec.channels, exact=not spec.resize)


def decode_files(paths: Sequence[str], spec: ImageSpec) -> tuple[np.ndarray, list[str | None]]:
    """Decode many files, in worker processes when that pays (see _workers).

    Returns images [len(paths), channels, height, width] uint8 (zeros where unusable) and,
    per path, None when it decoded or the reason it is unusable.
    """
    return decode_many(paths, spec.size, spec.channels, workers=_workers(len(paths), spec),
                       exact=not spec.resize)


def _workers(count: int, spec: ImageSpec) -> int:
    """How many decoding processes to use (0: decode in this one).

    Each worker is a forked process that sends its images back pickled, so few images,
    few cores or small images (for 28x28 PNGs the per-image Python work dominates: they
    did not even gain from threads, 4,000 took 0.5 s in one thread on 2 cores) stay here.
    """
    cpus = os.cpu_count() or 1
    if count < 64 or cpus < 4 or spec.size[0] * spec.size[1] < _PROCESS_MIN_PIXELS:
        return 0
    return min(8, cpus)
