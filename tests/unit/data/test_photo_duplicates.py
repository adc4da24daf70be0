"""Duplicates in a file pool: candidate pairs by banded 64-bit hashes (checked against
every pair), and exact / near / distinct photos told apart on real files."""

from __future__ import annotations

import io
import shutil

import numpy as np
from PIL import Image

from activelearn.config import DataConfig
from activelearn.data.photo_duplicates import find_file_pairs, hash_candidates
from activelearn.data.sources import load_source


def brute_force(codes: np.ndarray, max_bits: int) -> set[tuple[int, int]]:
    u = codes.view(np.uint64)
    found = set()
    for i in range(len(u)):
        d = np.bitwise_count(u[i] ^ u[i + 1:])
        found |= {(i, i + 1 + j) for j in np.flatnonzero(d <= max_bits)}
    return found


def test_hash_candidates_are_exactly_the_close_pairs():
    rng = np.random.default_rng(0)
    base = rng.integers(-2**63, 2**63 - 1, 300, dtype=np.int64)
    # near copies: flip 1 to 6 random bits of some codes
    masks = np.array([sum(1 << int(b) for b in rng.choice(64, k, replace=False))
                      for k in rng.integers(1, 7, 100)], dtype=np.uint64).view(np.int64)
    flips = base[0:300:3] ^ masks
    codes = np.concatenate([base, flips, base[:5]])
    for bits in (0, 2, 4):
        got = {tuple(p) for p in hash_candidates(codes, bits).tolist()}
        assert got == brute_force(codes, bits)


def test_exact_near_and_distinct_photos(tmp_path):
    root = tmp_path / "photos" / "a"
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(6):
        blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((400, 300), Image.Resampling.BILINEAR).save(
            root / f"p{i}.jpg", quality=95)
    shutil.copy(root / "p0.jpg", root / "p0-copy.jpg")
    with Image.open(root / "p1.jpg") as img:  # re-encoded smaller: a near duplicate
        buffer = io.BytesIO()
        img.resize((200, 150)).save(buffer, format="JPEG", quality=70)
    (root / "p1-small.jpg").write_bytes(buffer.getvalue())
    pool = load_source(DataConfig("imagefolder", root=str(tmp_path / "photos")), ["a", "b"],
                       (32, 32))
    pairs = find_file_pairs(pool.images, pool.hashes, 0.985)
    found = {(pool.item_ids[p.first], pool.item_ids[p.second], p.kind) for p in pairs}
    assert found == {("a/p0-copy.jpg", "a/p0.jpg", "exact"),
                     ("a/p1-small.jpg", "a/p1.jpg", "near")}


def test_the_same_shape_in_other_colours_is_no_duplicate(tmp_path):
    """Brightness alone pairs a light pink square on grey with a light yellow square on
    green (the same gray picture); the colour check keeps them apart, and keeps a
    brightened copy paired."""
    root = tmp_path / "photos" / "a"
    root.mkdir(parents=True)
    rng = np.random.default_rng(2)

    def square(background, inside, path, noise=0.0):
        image = np.zeros((120, 120, 3)) + background
        image[35:85, 35:85] = inside
        image += rng.normal(0, noise, image.shape)
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(path, quality=95)

    square((128, 128, 128), (255, 200, 255), root / "grey.jpg")  # gray 128, square 220
    square((60, 170, 60), (255, 230, 120), root / "green.jpg")  # gray 124, square 225
    with Image.open(root / "grey.jpg") as img:  # the same photo, a little brighter
        Image.eval(img, lambda v: min(255, v + 12)).save(root / "grey-bright.jpg", quality=90)
    pool = load_source(DataConfig("imagefolder", root=str(tmp_path / "photos")), ["a", "b"],
                       (32, 32))
    pairs = find_file_pairs(pool.images, pool.hashes, 0.9)
    found = {(pool.item_ids[p.first], pool.item_ids[p.second]) for p in pairs}
    assert found == {("a/grey-bright.jpg", "a/grey.jpg")}
