"""A deterministic synthetic photo collection for the photo-pool benchmark (photo_pool.py).

    .venv/bin/python benchmarks/photo_collection.py [--count 2000] [--root /work/bench/photos_2000]

Writes an `imagefolder` layout, ROOT/c<k>/NNNNNN.jpg|png for the classes c0..c9 and about
10% of the files loose in ROOT (unlabeled), in os.cpu_count() processes. Each file depends
only on (seed, index), so any part can be rewritten alike. Class k draws its own shape
(disc, square, triangle, ring, stripes, cross, checker, diamond, X) in its own hue on a
random background with noise, so a CNN can learn it; EXIF-turned files show the shape
upright only once the orientation is applied. The mix:

- JPEG (quality 80) mostly, PNG about 19%; long side 120-400 px, and every 200th file
  1500-4000 px (large PNGs at most 2000 px);
- modes RGB, L, CMYK JPEG, RGBA PNG (transparent background), P PNG with a transparent
  index, 16-bit grayscale PNG (I;16), JPEGs with EXIF orientation 6 or 8;
- every 2000th file corrupt: a truncated JPEG, zero bytes or random bytes named .jpg.

Prints the files written, the rate (with the time 200,000 files would take) and the disk
use per 1,000 files; --check opens every file with Pillow and counts formats, modes, EXIF
orientations, sizes and unreadable files; --decode N times plain Pillow against
activelearn's decode_many on N files. mutate() rewrites a fraction of the files (new
content, new size and mtime) to measure an incremental re-ingest.
"""

from __future__ import annotations

import argparse
import colorsys
import io
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = [f"c{k}" for k in range(10)]
MANIFEST = ".photo_collection.json"  # hidden: the imagefolder source ignores it
# kind: share of the ordinary (not large, not corrupt) files
KINDS = {"jpeg-rgb": 0.70, "jpeg-l": 0.06, "jpeg-exif6": 0.03, "jpeg-exif8": 0.03,
         "jpeg-cmyk": 0.02, "png-rgb": 0.07, "png-rgba": 0.03, "png-p": 0.03,
         "png-i16": 0.03}
# kinds of the large files, by (index // LARGE_EVERY) % 10
LARGE_KINDS = ["jpeg-rgb"] * 6 + ["jpeg-l", "jpeg-exif6", "jpeg-cmyk", "png-rgb"]
CORRUPT_KINDS = ["corrupt-truncated", "corrupt-empty", "corrupt-random"]
LARGE_EVERY, CORRUPT_EVERY = 200, 2000  # 0.5% and 0.05% of the files
UNLABELED = 0.10
BASE = 48  # long side of the drawn image, before it is scaled up
CHUNK = 250  # files per task handed to a process


@dataclass(frozen=True)
class Plan:
    """What file `index` is: everything but its pixels, fixed by (seed, index)."""

    index: int
    label: int
    loose: bool
    kind: str
    width: int
    height: int

    @property
    def relpath(self) -> str:
        ext = "png" if self.kind.startswith("png") else "jpg"
        name = f"{self.index:06d}.{ext}"
        return name if self.loose else f"{CLASSES[self.label]}/{name}"


def plan(seed: int, index: int) -> Plan:
    """The plan of file `index` (see the module docstring for the mix)."""
    rng = np.random.default_rng([seed, index])
    label, loose = int(rng.integers(10)), bool(rng.random() < UNLABELED)
    kind = str(rng.choice(list(KINDS), p=list(KINDS.values())))
    long_side = int(rng.integers(120, 401))
    if index % LARGE_EVERY == LARGE_EVERY // 2:
        kind = LARGE_KINDS[(index // LARGE_EVERY) % len(LARGE_KINDS)]
        long_side = int(rng.integers(1500, 2001 if kind == "png-rgb" else 4001))
    if index % CORRUPT_EVERY == 977:
        kind = CORRUPT_KINDS[(index // CORRUPT_EVERY) % len(CORRUPT_KINDS)]
    aspect = float(rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9]))
    short_side = max(1, round(long_side / aspect))
    width, height = (long_side, short_side) if rng.random() < 0.6 else (short_side, long_side)
    return Plan(index, label, loose, kind, width, height)


# ---------------------------------------------------------------- pixels

def _mask(label: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """[h, w] bool: class `label`'s shape at a random place and scale."""
    h, w = shape
    unit = min(h, w) / 2
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(-0.3, 0.3, 2)
    r = rng.uniform(0.45, 0.8)
    dx, dy = ((x - w / 2) / unit - cx) / r, ((y - h / 2) / unit - cy) / r
    box = (np.abs(dx) < 1) & (np.abs(dy) < 1)
    shapes = [
        lambda: dx**2 + dy**2 < 1,
        lambda: np.maximum(np.abs(dx), np.abs(dy)) < 0.8,
        lambda: (dy < 0.7) & (dy > 2 * np.abs(dx) - 0.9),
        lambda: (dx**2 + dy**2 < 1) & (dx**2 + dy**2 > 0.35),
        lambda: box & (np.floor((dy + 1) * 3) % 2 == 0),
        lambda: box & (np.floor((dx + 1) * 3) % 2 == 0),
        lambda: box & ((np.abs(dx) < 0.3) | (np.abs(dy) < 0.3)),
        lambda: box & ((np.floor((dx + 1) * 2) + np.floor((dy + 1) * 2)) % 2 == 0),
        lambda: np.abs(dx) + np.abs(dy) < 1,
        lambda: box & ((np.abs(dx - dy) < 0.35) | (np.abs(dx + dy) < 0.35)),
    ]
    return shapes[label]()


def _base(p: Plan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The small drawing: RGB [h, w, 3] uint8 and the shape's mask [h, w] bool."""
    scale = BASE / max(p.width, p.height)
    shape = (max(4, round(p.height * scale)), max(4, round(p.width * scale)))
    mask = _mask(p.label, shape, rng)
    hue = (p.label / 10 + rng.normal(0, 0.025)) % 1.0
    fg = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1), rng.uniform(0.55, 1))) * 255
    grey = rng.uniform(30, 225)
    bg = grey + rng.normal(0, 25, 3)
    pixels = np.where(mask[..., None], fg, bg) + rng.normal(0, 16, (*shape, 3))
    return pixels.clip(0, 255).astype(np.uint8), mask


def _picture(p: Plan, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """The full-size RGB picture and its mask as L (255 inside the shape)."""
    base, mask = _base(p, rng)
    size = (p.width, p.height)
    rgb = Image.fromarray(base).resize(size, Image.Resampling.BILINEAR)
    if max(size) <= 400:  # fine grain on the small ones (on the large ones: slow and big)
        grain = rng.integers(-6, 7, (p.height, p.width, 3), dtype=np.int16)
        rgb = Image.fromarray((np.asarray(rgb, np.int16) + grain).clip(0, 255).astype(np.uint8))
    alpha = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)
    return rgb, alpha


# ---------------------------------------------------------------- encoding

def _encode(p: Plan, rng: np.random.Generator) -> bytes:
    """The file's bytes for its kind."""
    if p.kind == "corrupt-empty":
        return b""
    if p.kind == "corrupt-random":
        return rng.bytes(int(rng.integers(200, 5000)))
    rgb, alpha = _picture(p, rng)
    out = io.BytesIO()
    if p.kind.startswith("png"):
        _png(p.kind, rgb, alpha, out)
    else:
        _jpeg(p.kind, rgb, out)
    data = out.getvalue()
    if p.kind == "corrupt-truncated":
        data = data[: len(data) * int(rng.integers(30, 70)) // 100]
    return data


def _jpeg(kind: str, rgb: Image.Image, out: io.BytesIO) -> None:
    if kind in ("jpeg-exif6", "jpeg-exif8"):
        # stored turned, so that applying the orientation shows it upright
        orientation = int(kind[-1])
        turn = Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270
        exif = Image.Exif()
        exif[0x0112] = orientation
        rgb.transpose(turn).save(out, "JPEG", quality=80, exif=exif.tobytes())
        return
    img = {"jpeg-l": lambda: rgb.convert("L"), "jpeg-cmyk": lambda: rgb.convert("CMYK")}.get(
        kind, lambda: rgb)()
    img.save(out, "JPEG", quality=80)


def _png(kind: str, rgb: Image.Image, alpha: Image.Image, out: io.BytesIO) -> None:
    if kind == "png-rgba":
        img = rgb.copy()
        img.putalpha(alpha)
    elif kind == "png-p":
        img = _palette(rgb, alpha)
    elif kind == "png-i16":
        img = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)  # I;16
    else:
        img = rgb
    options = {"transparency": 0} if kind == "png-p" else {}
    img.save(out, "PNG", compress_level=3, **options)


def _palette(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    """P with 16 colours; index 0 (outside the shape) is transparent."""
    small = rgb.quantize(15, method=Image.Quantize.FASTOCTREE)
    index = np.asarray(small, np.uint8) + 1
    index = np.where(np.asarray(alpha) >= 128, index, 0).astype(np.uint8)
    img = Image.fromarray(index)  # L; putpalette makes it P
    palette = [255, 0, 255] + list(small.getpalette() or [])[: 15 * 3]
    img.putpalette(palette + [0] * (768 - len(palette)))
    return img


# ---------------------------------------------------------------- files

def write_item(root: Path, seed: int, index: int, variant: int = 0) -> tuple[str, int]:
    """Write file `index` (variant 0 as generated, others as rewritten by mutate);
    returns its kind and size in bytes."""
    p = plan(seed, index)
    data = _encode(p, np.random.default_rng([seed, index, 1 + variant]))
    (root / p.relpath).write_bytes(data)
    return p.kind, len(data)


def _write_chunk(task: tuple[str, int, Sequence[int], int]) -> tuple[Counter, int]:
    root, seed, indices, variant = task
    kinds: Counter = Counter()
    written = 0
    for index in indices:
        kind, size = write_item(Path(root), seed, index, variant)
        kinds[kind] += 1
        written += size
    return kinds, written


def _run(root: Path, seed: int, indices: Sequence[int], variant: int) -> tuple[Counter, int]:
    tasks = [(str(root), seed, indices[i:i + CHUNK], variant)
             for i in range(0, len(indices), CHUNK)]
    kinds: Counter = Counter()
    written = 0
    with Pool(os.cpu_count()) as pool:
        for chunk_kinds, chunk_bytes in pool.imap_unordered(_write_chunk, tasks):
            kinds += chunk_kinds
            written += chunk_bytes
    return kinds, written


def generate(root: Path, count: int, seed: int = 0) -> dict:
    """Write `count` files under root (see the module docstring); returns the figures:
    count, seconds, files_per_s, bytes, kinds {kind: files}, unlabeled."""
    root.mkdir(parents=True, exist_ok=True)
    for name in CLASSES:
        (root / name).mkdir(exist_ok=True)
    start = time.perf_counter()
    kinds, written = _run(root, seed, range(count), 0)
    seconds = time.perf_counter() - start
    loose = sum(plan(seed, i).loose for i in range(count))
    manifest = {"count": count, "seed": seed, "mutations": 0}
    (root / MANIFEST).write_text(json.dumps(manifest))
    return {"root": str(root), "count": count, "seed": seed, "seconds": seconds,
            "files_per_s": count / seconds, "bytes": written, "kinds": dict(kinds),
            "unlabeled": loose}


def read_manifest(root: Path) -> dict | None:
    """The count, seed and mutations of a generated collection, or None."""
    path = root / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def mutate(root: Path, fraction: float, seed: int = 0) -> list[str]:
    """Rewrite `fraction` of the collection's files, chosen by `seed`, with new content (so
    their size and mtime change); returns their relative paths."""
    manifest = read_manifest(root)
    if manifest is None:
        raise FileNotFoundError(f"{root / MANIFEST}: not a generated collection")
    count = manifest["count"]
    chosen = np.random.default_rng([seed, 7]).choice(count, int(count * fraction), replace=False)
    manifest["mutations"] += 1
    _run(root, manifest["seed"], sorted(chosen.tolist()), manifest["mutations"])
    (root / MANIFEST).write_text(json.dumps(manifest))
    return [plan(manifest["seed"], int(i)).relpath for i in sorted(chosen)]


def list_files(root: Path) -> list[Path]:
    """The collection's image files, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix in (".jpg", ".png"))


# ---------------------------------------------------------------- decoding

def plain_pil_decode(paths: Sequence[Path | str], size: tuple[int, int]) -> float:
    """Images per second of a plain Pillow loop to RGB at size (h, w); what cannot be
    read is skipped (its time counted)."""
    h, w = size
    start = time.perf_counter()
    for path in paths:
        try:
            with Image.open(path) as im:
                if im.format == "JPEG":
                    im.draft("RGB", (w, h))
                im.convert("RGB").resize((w, h))
        except (OSError, ValueError, SyntaxError):
            pass
    return len(paths) / (time.perf_counter() - start)


def compare_decoders(paths: Sequence[Path], size: tuple[int, int]) -> dict:
    """images/s of plain Pillow and of decode_many (in this process, and in 2 workers),
    with the files already read once (page cache) and torch imported beforehand."""
    import torch.utils.data  # noqa: F401 - decode_many's workers need it; not timed

    from activelearn.data.images import decode_many

    for path in paths:
        Path(path).read_bytes()
    uris = [str(p) for p in paths]
    plain = plain_pil_decode(paths, size)
    figures = {"plain_pil": plain}
    for workers in (0, 2):
        start = time.perf_counter()
        _, reasons = decode_many(uris, size, 3, workers)
        figures[f"decode_many_w{workers}"] = len(uris) / (time.perf_counter() - start)
    figures["unusable"] = sum(r is not None for r in reasons)
    figures["ratio_plain_over_w0"] = plain / figures["decode_many_w0"]
    return figures


def check(root: Path) -> Counter:
    """Open every file with Pillow: counts of format/mode, EXIF orientations, large and
    unreadable files."""
    found: Counter = Counter()
    for path in list_files(root):
        try:
            with Image.open(path) as im:
                im.load()
                found[f"{im.format} {im.mode}"] += 1
                orientation = im.getexif().get(0x0112)
                if orientation:
                    found[f"EXIF orientation {orientation}"] += 1
                found["long side >= 1500"] += max(im.size) >= 1500
        except (OSError, ValueError, SyntaxError) as exc:
            found[f"unreadable ({type(exc).__name__})"] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--decode", type=int, default=0, metavar="N")
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    root = args.root or Path(f"/work/bench/photos_{args.count}")
    got = generate(root, args.count, args.seed)
    print(f"wrote {got['count']} files ({got['unlabeled']} unlabeled) to {root} in "
          f"{got['seconds']:.1f} s on {os.cpu_count()} processes: {got['files_per_s']:.0f}/s "
          f"(200,000 would take {200_000 / got['files_per_s'] / 60:.1f} min)")
    print(f"disk: {got['bytes'] / 2**20:.1f} MiB, {got['bytes'] / got['count'] * 1000 / 2**20:.1f}"
          f" MiB per 1,000 files; kinds: {dict(sorted(got['kinds'].items()))}")
    if args.check:
        for what, n in sorted(check(root).items()):
            print(f"  {what}: {n}")
    if args.decode:
        paths = list_files(root)[: args.decode]
        figures = compare_decoders(paths, (args.size, args.size))
        print("decode, images/s: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
