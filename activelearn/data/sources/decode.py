"""Decode image files with PIL into fixed-size uint8 arrays, reporting unusable ones."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

# What a broken file can raise while PIL identifies or decodes it. Anything else is a bug.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
# Below this many pixels per image, decoding in threads is slower than in one (_workers).
_THREAD_MIN_PIXELS = 96 * 96


@dataclass(frozen=True)
class ImageSpec:
    """The shape every pool image gets: size is (height, width); channels is 1 (L) or 3 (RGB).

    resize: resize images of another size instead of rejecting them.
    """

    size: tuple[int, int]
    channels: int
    resize: bool = False


class UnusableImage(Exception):
    """One image cannot go into the pool; the message is the reason a user reads."""


def decode_file(path: str, spec: ImageSpec) -> np.ndarray:
    """Read one image file. Returns [channels, height, width] uint8; raises UnusableImage."""
    height, width = spec.size
    try:
        # One open per file: the header (size) and the pixels come from the same handle.
        with _open_regular(path) as handle, Image.open(handle) as img:
            if img.size != (width, height) and not spec.resize:
                raise UnusableImage(
                    f"size {img.size[1]}x{img.size[0]} (height x width), "
                    f"expected {height}x{width}"
                )
            mode = "L" if spec.channels == 1 else "RGB"
            out = img if img.mode == mode else img.convert(mode)
            if out.size != (width, height):
                out = out.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(out, dtype=np.uint8)
    except FileNotFoundError:
        raise UnusableImage("file not found") from None
    except UnidentifiedImageError:
        raise UnusableImage("not a readable image (cannot identify the format)") from None
    except _DECODE_ERRORS as exc:
        raise UnusableImage(f"cannot read image: {exc}") from None
    if pixels.ndim == 2:
        return pixels[None]
    return pixels.transpose(2, 0, 1)


def _open_regular(path: str) -> BinaryIO:
    """Open a regular file (or a symlink to one); UnusableImage for a FIFO, socket,
    device or broken link. Opening a FIFO blocks until a writer comes and a device can
    be endless, so the kind is checked before the open; the open itself does not block
    (O_NONBLOCK) and the handle is checked again, in case the path changed meanwhile."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnusableImage(f"broken symbolic link (to {os.readlink(path)})") from None
        raise
    if not stat.S_ISREG(mode):
        raise UnusableImage(f"not a regular file ({_file_kind(mode)})")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnusableImage(f"not a regular file ({_file_kind(mode)})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
             (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")]
    return next((name for test, name in kinds if test(mode)), f"mode {mode:o}")


def decode_files(paths: Sequence[str], spec: ImageSpec) -> tuple[np.ndarray, list[str | None]]:
    """Decode many files, in a thread pool when that pays (see _workers).

    Returns images [len(paths), channels, height, width] uint8 (zeros where unusable) and,
    per path, None when it decoded or the reason it is unusable.
    """
    images = np.zeros((len(paths), spec.channels, *spec.size), dtype=np.uint8)
    reasons: list[str | None] = [None] * len(paths)

    def work(i: int) -> None:
        try:
            images[i] = decode_file(paths[i], spec)
        except UnusableImage as exc:
            reasons[i] = str(exc)

    workers = _workers(len(paths), spec)
    if workers == 1:
        for i in range(len(paths)):
            work(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(len(paths)), chunksize=32))
    return images, reasons


def _workers(count: int, spec: ImageSpec) -> int:
    """How many decoding threads to use.

    PIL releases the GIL only inside the codec, so threads pay off for large images on
    several cores. Small images are dominated by Python-side work under the GIL: 4,000
    28x28 PNGs took 0.5 s in one thread and 1.5-1.9 s in 2-8 threads (2-core machine).
    """
    cpus = os.cpu_count() or 1
    if count < 64 or cpus < 4 or spec.size[0] * spec.size[1] < _THREAD_MIN_PIXELS:
        return 1
    return min(16, cpus)
