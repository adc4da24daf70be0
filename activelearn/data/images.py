"""Read any image a user may have and return it at the model's input size.

    info = read_info("s3://photos/cats/1.jpg")           # the header only: ImageInfo
    pixels = decode("photos/cat.png", (224, 224), 3)     # [3, 224, 224] uint8
    images, reasons = decode_many(uris, (224, 224), 3, workers=4)

An image is named by a path or a file://, http(s):// or s3:// URI (opening them, and the
S3 settings such as AWS_ENDPOINT_URL: activelearn.data.uris), or given as bytes.

What decode does, in this order:

- Limits, before pixels are decoded: a file over MAX_FILE_BYTES (200 MiB, by its size
  when the source tells it, else by what was read) or an image whose header claims more
  than MAX_PIXELS (100 megapixels) is refused: "too large: ...". Both are arguments
  (max_bytes, max_pixels), not global settings; Pillow's own decompression-bomb guard (at
  twice its Image.MAX_IMAGE_PIXELS, left as it is) refuses still larger headers the same way.
- EXIF orientation is applied (ImageOps.exif_transpose): the image comes out as a viewer
  shows it. read_info's width and height are those too (swapped for orientations 5-8).
- Every mode comes out as L (channels=1) or RGB (channels=3):
  transparency (LA, RGBA, PA, a palette or L/RGB image with a transparent colour) is
  composited on white, not black, so a product photo on a transparent background stays
  light; 16-bit modes (I;16, I;16B, ...) are scaled by the 16-bit range (v / 257), so
  0..65535 spans 0..255 instead of clipping to white; 32-bit I likewise when its values fit
  in 0..65535, F times 255 when its values lie in 0..1, and otherwise both by the image's
  own min..max; CMYK, P, 1 (bilevel) and the rest through Pillow's convert (RGB to L by
  ITU-R 601-2 luma).
- Size (h, w): the image is scaled (bilinear, antialiased, with reducing_gap) until it
  covers the target, then centre-cropped to it; for a square target the shorter side
  becomes the target's side. A JPEG at least twice the needed size both ways is first
  decoded at 1/2, 1/4 or 1/8 scale by libjpeg (Image.draft), which is much faster. An
  image already of the target size is not resampled (a 28x28 L PNG comes out
  bit-identical). With exact=True (the file sources' `resize: false`) an image of another
  size is refused instead.
- Anything wrong with one image (corrupt, truncated, empty, an unknown format, a FIFO, an
  HTTP 404) is an UnusableImage with the reason, never another exception; a ConfigError
  says a package for a URI scheme is missing (s3fs).
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from activelearn.data.uris import UnusableImage, open_uri, require_backends
from activelearn.data.workers import worker_options

__all__ = ["MAX_FILE_BYTES", "MAX_PIXELS", "ImageInfo", "UnusableImage", "decode",
           "decode_many", "dhash", "read_bytes", "read_info"]

MAX_PIXELS = 100_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024
# resize() first shrinks by whole factors (Image.reduce) down to this factor above the
# target, then resamples: fast for big images; 3 is indistinguishable from a full resample.
_REDUCING_GAP = 3.0
_BATCH = 64  # images a decoding worker hands back at once
# What Pillow raises on a broken file. IndexError, KeyError, struct.error and
# ZeroDivisionError come from its plugins on malformed headers (found by fuzzing).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError,
                  struct.error, ZeroDivisionError)
_SWAPPING = (5, 6, 7, 8)  # EXIF orientations that turn the image by 90 degrees
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_WIDE = (*_SIXTEEN_BIT, "I", "F")


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header tells, without decoding its pixels.

    width, height: as a viewer shows the image (after EXIF orientation);
    format: Pillow's name for it ("JPEG", "PNG", "WEBP"); mode: as stored ("RGB", "P",
    "I;16", "CMYK").
    """

    width: int
    height: int
    format: str
    mode: str


def read_info(uri_or_bytes: str | bytes) -> ImageInfo:
    """The image's size, format and mode from its header; raises UnusableImage."""
    if isinstance(uri_or_bytes, (bytes, bytearray, memoryview)):
        if not uri_or_bytes:
            raise UnusableImage("empty file")
        with _reading(), Image.open(io.BytesIO(uri_or_bytes)) as img:
            return ImageInfo(*_shown_size(img), img.format or "", img.mode)
    with open_uri(uri_or_bytes) as handle:
        if _known_size(handle) == 0:
            raise UnusableImage("empty file")
        with _reading(), Image.open(handle) as img:
            width, height = _shown_size(img)
        return ImageInfo(width, height, img.format or "", img.mode)


def read_bytes(uri: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; UnusableImage when it cannot be read, is empty or is larger than
    max_bytes (refused before the read when the source tells its size)."""
    data = _read(uri, max_bytes)
    if not data:
        raise UnusableImage("empty file")
    if len(data) > max_bytes:
        raise UnusableImage(_too_many_bytes(len(data), max_bytes))
    return data


def dhash(uri_or_bytes: str | bytes) -> int:
    """A 64-bit difference hash of the image, as a signed int64: the image is shrunk to
    9x8 gray (centre part, as decode crops), each bit tells whether a pixel is brighter
    than its left neighbour. Near-identical photos (re-encoded, resized, slightly
    retouched) differ in a few bits. Raises UnusableImage."""
    gray = decode(uri_or_bytes, (8, 9), 1)[0].astype(np.int16)
    bits = (gray[:, 1:] > gray[:, :-1]).ravel()
    return int(np.packbits(bits).view(">i8")[0])


def decode(
    uri_or_bytes: str | bytes, size: tuple[int, int], channels: int, *, exact: bool = False,
    max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES,
) -> np.ndarray:
    """One image at `size` (height, width) with 1 (L) or 3 (RGB) channels, by the rules in
    the module docstring. Returns [channels, height, width] uint8; raises UnusableImage.

    exact: refuse an image of another size instead of resizing it.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if isinstance(uri_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(uri_or_bytes)
    else:
        data = _read(uri_or_bytes, max_bytes)
    if not data:
        raise UnusableImage("empty file")
    if len(data) > max_bytes:
        raise UnusableImage(_too_many_bytes(len(data), max_bytes))
    with _reading(max_pixels), Image.open(io.BytesIO(data)) as img:
        pixels = np.asarray(_fit(img, size, channels, exact, max_pixels), dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def decode_many(
    uris: Sequence[str], size: tuple[int, int], channels: int, workers: int = 0, *,
    exact: bool = False,
) -> tuple[np.ndarray, list[str | None]]:
    """Decode many images (see decode), in `workers` processes or, with 0, in this one.

    Returns images [len(uris), channels, height, width] uint8 (zeros where unusable) and,
    per URI, None when it decoded or the reason it is unusable. A missing package for a
    scheme is a ConfigError, raised before any image is read.
    """
    require_backends(uris)
    images = np.zeros((len(uris), channels, *size), dtype=np.uint8)
    reasons: list[str | None] = [None] * len(uris)
    task = _Decoding(list(uris), size, channels, exact)
    for index, image, reason in _results(task, workers):
        images[index] = image
        reasons[index] = reason
    return images, reasons


# ---------------------------------------------------------------- one image

def _read(uri: str, max_bytes: int) -> bytes:
    """The file's bytes, at most max_bytes + 1 of them; refused before the read when the
    source tells a larger size."""
    with open_uri(uri) as handle:
        known = _known_size(handle)
        if known is not None and known > max_bytes:
            raise UnusableImage(_too_many_bytes(known, max_bytes))
        return handle.read(max_bytes + 1)


def _known_size(handle: BinaryIO) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a local file: fsspec tells .size
        size = getattr(handle, "size", None)
        return size if isinstance(size, int) else None


def _too_many_bytes(size: int, limit: int) -> str:
    return f"too large: {size:,} bytes (limit {limit:,})"


@contextmanager
def _reading(max_pixels: int = MAX_PIXELS) -> Iterator[None]:
    """Pillow's errors on a broken file as UnusableImage reasons."""
    try:
        yield
    except UnidentifiedImageError:
        raise UnusableImage("not a readable image (cannot identify the format)") from None
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fired before ours could; its message has no width x height
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)):,}" if found else "too many"
        raise UnusableImage(f"too large: {pixels} pixels (limit {max_pixels:,})") from None
    except _DECODE_ERRORS as exc:
        raise UnusableImage(f"cannot read image: {exc}") from None


def _orientation(img: Image.Image) -> Any:
    if img.format == "PNG" and "exif" not in img.info:
        return 1  # Pillow would decode the pixels to look for an eXIf chunk after them
    return img.getexif().get(ExifTags.Base.Orientation, 1)


def _shown_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) as a viewer shows the image, from the header."""
    width, height = img.size
    return (height, width) if _orientation(img) in _SWAPPING else (width, height)


def _fit(img: Image.Image, size: tuple[int, int], channels: int, exact: bool,
         max_pixels: int) -> Image.Image:
    """The opened (not yet loaded) image, checked, oriented, converted and sized."""
    width, height = img.size
    if width * height > max_pixels:
        raise UnusableImage(f"too large: {width} x {height} pixels (limit {max_pixels:,})")
    if exact:
        _check_exact(_shown_size(img), size)
    elif img.format == "JPEG":
        _draft(img, size)
    ImageOps.exif_transpose(img, in_place=True)  # loads the pixels
    if exact:
        _check_exact(img.size, size)  # an eXIf chunk after a PNG's pixels turned it
    return _cover(_to_mode(img, channels), size)


def _check_exact(shown: tuple[int, int], size: tuple[int, int]) -> None:
    if shown != (size[1], size[0]):
        raise UnusableImage(f"size {shown[1]}x{shown[0]} (height x width), "
                            f"expected {size[0]}x{size[1]}")


def _draft(img: Image.Image, size: tuple[int, int]) -> None:
    """Let libjpeg decode a JPEG at 1/2, 1/4 or 1/8 scale when that still covers the
    target (Pillow picks the scale; the result is at least the size asked for)."""
    shown_w, shown_h = _shown_size(img)
    scale = max(size[1] / shown_w, size[0] / shown_h)
    need = (math.ceil(shown_w * scale), math.ceil(shown_h * scale))
    if (shown_w, shown_h) != img.size:
        need = (need[1], need[0])  # the file stores the image turned
    if img.size[0] >= 2 * need[0] and img.size[1] >= 2 * need[1]:
        img.draft(img.mode, need)


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    """L (channels=1) or RGB (3): wide modes scaled to 8 bits, transparency on white."""
    target = "L" if channels == 1 else "RGB"
    if img.mode in _WIDE:
        img = _to_8bit(img)
    elif img.has_transparency_data:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img if img.mode == target else img.convert(target)


def _to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float image as L, scaled by its range (module docstring)."""
    values = np.nan_to_num(np.asarray(img).astype(np.float64))
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode in _SIXTEEN_BIT or (img.mode == "I" and low >= 0 and high <= 65535):
        scaled = values / 257
    elif img.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255
    elif high > low:
        scaled = (values - low) * (255 / (high - low))
    else:
        scaled = np.zeros_like(values)
    return Image.fromarray(np.rint(scaled).clip(0, 255).astype(np.uint8))


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale until the image covers size (h, w), then take the centre: done in one resize
    of the centre box, so only the pixels that are kept are resampled."""
    height, width = size
    w, h = img.size
    if (w, h) == (width, height):
        return img
    scale = max(width / w, height / h)
    # min(): width / scale can come out a hair above w in floating point, and Pillow
    # refuses a box that leaves the image
    box_w, box_h = min(w, width / scale), min(h, height / scale)
    left, top = (w - box_w) / 2, (h - box_h) / 2
    return img.resize((width, height), Image.Resampling.BILINEAR,
                      box=(left, top, left + box_w, top + box_h), reducing_gap=_REDUCING_GAP)


# ---------------------------------------------------------------- many images

class _Decoding:
    """The map-style dataset a DataLoader (or this process) runs: item i is
    (i, image [channels, h, w] uint8, None) or (i, zeros, the reason it is unusable).

    A plain class rather than a torch Dataset subclass, so that importing this module
    does not import torch: a DataLoader needs only __len__ and __getitem__."""

    def __init__(self, uris: list[str], size: tuple[int, int], channels: int,
                 exact: bool) -> None:
        self.uris, self.size, self.channels, self.exact = uris, size, channels, exact

    def __len__(self) -> int:
        return len(self.uris)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray, str | None]:
        try:
            image = decode(self.uris[index], self.size, self.channels, exact=self.exact)
            return index, image, None
        except UnusableImage as exc:
            return index, np.zeros((self.channels, *self.size), np.uint8), str(exc)


def _results(task: _Decoding, workers: int) -> Iterator[tuple[int, np.ndarray, str | None]]:
    if workers <= 0 or len(task) == 0:
        yield from (task[i] for i in range(len(task)))
        return
    import torch
    from torch.utils.data import DataLoader

    # its own generator: the workers' seed is not drawn from torch's global one
    loader = DataLoader(cast(Any, task), batch_size=_BATCH, num_workers=workers,
                        collate_fn=_collate, persistent_workers=False,
                        generator=torch.Generator().manual_seed(0), **worker_options())
    for indices, images, reasons in loader:
        yield from zip(indices, images, reasons)


def _collate(
    items: list[tuple[int, np.ndarray, str | None]],
) -> tuple[list[int], np.ndarray, list[str | None]]:
    """A batch as numpy (the default collate would make tensors of it)."""
    return ([i for i, _, _ in items], np.stack([image for _, image, _ in items]),
            [reason for _, _, reason in items])
