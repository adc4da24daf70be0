"""A worker's decoded cache (data/decoded.py) against the controller's memmap cache
(data/cache.py): writing and reading N rows of one geometry, in batches as scoring reads.

    .venv/bin/python benchmarks/decoded_cache.py [--rows 20000] [--geometry 3x64x64]
        [--batch 256] [--folder DIR] [--files N]

Rows are random pixels under made-up sha256 digests, in a temporary folder (or
--folder). Prints seconds and rows/s for: writing the decoded cache, writing the memmap,
then reading both twice, first in a new process (nothing of them in this process's
memory; the page cache may still hold the files), then again. What the issue needs: a
worker's round 2 reads its images from the decoded cache about as fast as a controller
reads its memmap (round 2 within 1.2x of the local-disk round).

--files N (default 0: skipped): N JPEG files of 96x128 on local disk read as a pool's
FileImages at the geometry, in batches as scoring reads them (imageset.batches): decoded
with no cache, decoded and kept in the decoded cache (round 1), read from it (round 2),
and read from a memmap cache holding them (the controller's).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from activelearn.data.cache import ImageCache
from activelearn.data.decoded import DecodedCache

LIMIT = 10**11  # no eviction while measuring


def digests(count: int) -> list[str]:
    return [hashlib.sha256(f"row {i}".encode()).hexdigest() for i in range(count)]


def fill(folder: Path, rows: int, shape: tuple[int, int, int], batch: int) -> None:
    images = np.random.default_rng(0).integers(0, 256, (rows, *shape), dtype=np.uint8)
    keys = digests(rows)
    cache = DecodedCache(folder / "decoded", LIMIT)
    cache.prepare()
    started = time.perf_counter()
    for lo in range(0, rows, batch):
        cache.write(keys[lo:lo + batch], images[lo:lo + batch])
    report("write decoded cache", rows, time.perf_counter() - started)
    memmap = ImageCache(folder / "memmap", shape[1:], shape[0])
    started = time.perf_counter()
    for lo in range(0, rows, batch):
        memmap.write(np.arange(lo, min(lo + batch, rows)), images[lo:lo + batch])
    report("write memmap cache", rows, time.perf_counter() - started)


def read(folder: Path, rows: int, shape: tuple[int, int, int], batch: int) -> None:
    keys = digests(rows)
    for attempt in ("first", "again"):
        cache = DecodedCache(folder / "decoded", LIMIT)
        started = time.perf_counter()
        for lo in range(0, rows, batch):
            part = keys[lo:lo + batch]
            out = np.empty((len(part), *shape), np.uint8)
            if not cache.read(part, shape, out, np.arange(len(part))).all():
                sys.exit("a row is missing from the decoded cache")
        report(f"read decoded cache ({attempt})", rows, time.perf_counter() - started)
        memmap = ImageCache(folder / "memmap", shape[1:], shape[0])
        started = time.perf_counter()
        for lo in range(0, rows, batch):
            memmap.read(np.arange(lo, min(lo + batch, rows)))
        report(f"read memmap cache ({attempt})", rows, time.perf_counter() - started)


def pool(folder: Path, count: int, shape: tuple[int, int, int], batch: int) -> None:
    from PIL import Image

    from activelearn.data.imageset import FileImages, batches, slices

    rng = np.random.default_rng(1)
    paths, keys = [], []
    for i in range(count):
        path = folder / "photos" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((128, 96)).save(path, quality=90)
        paths.append(str(path))
        keys.append(hashlib.sha256(path.read_bytes()).hexdigest())
    size, channels = (shape[1], shape[2]), shape[0]
    memmap = ImageCache(folder / "pool-memmap", size, channels)

    def timed(what: str, images: FileImages) -> np.ndarray:
        started = time.perf_counter()
        out = np.concatenate([b.numpy() for b in batches(images, slices(count, batch))])
        report(what, count, time.perf_counter() - started)
        return out

    decoded = timed("pool: decode, no cache", FileImages(paths, size, channels))
    cache = DecodedCache(folder / "pool-decoded", LIMIT)
    cache.prepare()
    timed("pool: decode into decoded cache",
          FileImages(paths, size, channels, digests=keys, decoded=cache))
    again = timed("pool: read from decoded cache", FileImages(
        paths, size, channels, digests=keys, decoded=DecodedCache(cache.folder, LIMIT)))
    memmap.write(np.arange(count), decoded)
    mapped = timed("pool: read from memmap cache", FileImages(
        paths, size, channels, memmap, np.arange(count), np.ones(count, bool)))
    if not ((again == decoded).all() and (mapped == decoded).all()):
        sys.exit("the caches gave other pixels than decoding")


def report(what: str, rows: int, seconds: float) -> None:
    print(f"{what:32s} {seconds:7.2f} s  {rows / seconds:10,.0f} rows/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--geometry", default="3x64x64", help="channels x height x width")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--folder", default=None, help="[default: a temporary folder]")
    parser.add_argument("--files", type=int, default=0, help="pool files [default: none]")
    parser.add_argument("--read-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    c, h, w = (int(v) for v in args.geometry.split("x"))
    with tempfile.TemporaryDirectory(prefix="decoded-bench-") as temporary:
        folder = Path(args.folder or temporary)
        if args.read_only:
            read(folder, args.rows, (c, h, w), args.batch)
            return
        print(f"{args.rows:,} rows of {args.geometry} in batches of {args.batch}, {folder}")
        fill(folder, args.rows, (c, h, w), args.batch)
        subprocess.run([sys.executable, __file__, "--read-only", "--folder", str(folder),
                        "--rows", str(args.rows), "--geometry", args.geometry,
                        "--batch", str(args.batch)], check=True)
        if args.files:
            pool(folder, args.files, (c, h, w), args.batch)


if __name__ == "__main__":
    main()
