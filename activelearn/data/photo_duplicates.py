"""Duplicates in a file pool (photos of any size): exact copies by the SHA-256 of the
file's bytes, near-duplicates by the 64-bit difference hash the catalogue keeps
(images.dhash), confirmed on the decoded images by the pixel test of duplicates.py.

    pairs = find_file_pairs(pool.images, pool.hashes, threshold=0.985)

Candidates are pairs whose hashes differ in at most HASH_BITS bits. They are found
without comparing every pair: split the 64 bits into HASH_BITS + 1 bands; two hashes
within HASH_BITS bits agree exactly on at least one band (pigeonhole), so only hashes
sharing a band value are compared. Only the candidates' images are decoded (or read from
the cache), so a clean reads no file twice and not the whole pool.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from activelearn.data.duplicates import (
    RESIDUAL_MAX,
    Pair,
    canonical,
    exact_pairs,
    local_residual,
    shifted_correlation,
)
from activelearn.data.imageset import as_tensor
from activelearn.data.sources.base import ContentHashes

HASH_BITS = 4  # a near-duplicate candidate's hash differs in at most this many bits
# The pixel test compares brightness; photos also keep their colours when re-encoded or
# resized: the colour differences (R-G, B-G, 0..1) of two near-duplicates, pooled to
# COLOUR_GRID x COLOUR_GRID, differ by at most COLOUR_MAX on average. Measured: a copy
# brightened 0.001, halved and re-encoded at JPEG quality 70 0.002, shrunk to 120 px at
# quality 50 0.012; look-alike renderings of one shape on other backgrounds (the
# benchmark's synthetic photos, which the pixel test alone pairs) 0.013 to 0.05, median
# 0.028.
COLOUR_GRID = 8
COLOUR_MAX = 0.02
_BLOCK = 2048  # hashes of one band bucket compared against each other at a time
_VERIFY = 4096  # candidate pairs verified at a time


def find_file_pairs(images, hashes: ContentHashes, threshold: float) -> list[Pair]:
    """Exact and near-duplicate pairs (pool positions) of a file pool; images: its image
    set, hashes: its content hashes; threshold as in duplicates.find_pairs."""
    exact = exact_pairs(hashes.sha256)
    copies = {p.second for p in exact}
    unique = np.array([i for i in range(len(hashes.sha256)) if i not in copies],
                      dtype=np.int64)
    candidates = hash_candidates(hashes.dhash[unique])
    if len(candidates) == 0:
        return exact
    near: list[Pair] = []
    for start in range(0, len(candidates), _VERIFY):
        part = candidates[start:start + _VERIFY]
        involved, local = np.unique(part, return_inverse=True)
        pixels = as_tensor(images[unique[involved]])
        canon = canonical(pixels)
        pairs = torch.from_numpy(local.reshape(-1, 2))
        sims = shifted_correlation(canon, pairs)
        keep = sims >= threshold
        keep[keep.clone()] = local_residual(canon, pairs[keep]) <= RESIDUAL_MAX
        if pixels.shape[1] == 3:
            keep[keep.clone()] = colour_difference(pixels, pairs[keep]) <= COLOUR_MAX
        for (a, b), s in zip(part[keep.numpy()].tolist(), sims[keep].tolist()):
            near.append(Pair(int(unique[a]), int(unique[b]), "near", float(s)))
    return exact + near


def colour_difference(images: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Per pair, the mean absolute difference of the two images' colour differences
    (R-G and B-G, in 0..1 units, pooled to COLOUR_GRID squares: brightness cancels out).
    images: [items, 3, h, w] uint8; pairs: [pairs, 2] positions in images."""
    x = images.float() / 255
    chroma = torch.stack([x[:, 0] - x[:, 1], x[:, 2] - x[:, 1]], dim=1)
    pooled = torch.nn.functional.adaptive_avg_pool2d(chroma, COLOUR_GRID)
    return (pooled[pairs[:, 0]] - pooled[pairs[:, 1]]).abs().mean(dim=(1, 2, 3))


def hash_candidates(codes: np.ndarray, max_bits: int = HASH_BITS) -> np.ndarray:
    """Pairs (i, j), i < j, of positions whose 64-bit codes differ in at most max_bits
    bits: [pairs, 2] int64, sorted, each pair once."""
    codes = np.asarray(codes, dtype=np.int64).view(np.uint64)
    found = [np.zeros((0, 2), np.int64)]
    for band in _bands(max_bits + 1):
        keys = (codes >> np.uint64(band[0])) & np.uint64((1 << (band[1] - band[0])) - 1)
        order = np.argsort(keys, kind="stable")
        bounds = np.flatnonzero(np.diff(keys[order])) + 1
        for members in np.split(order, bounds):
            if len(members) > 1:
                found += list(_close_pairs(codes, np.sort(members), max_bits))
    pairs = np.concatenate(found)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def _bands(count: int) -> list[tuple[int, int]]:
    """count bit ranges [low, high) covering 64 bits, as even as can be."""
    edges = np.linspace(0, 64, count + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def _close_pairs(codes: np.ndarray, members: np.ndarray, max_bits: int
                 ) -> Iterator[np.ndarray]:
    """The pairs within max_bits among members (sorted positions), block by block so
    that a large bucket never needs members x members memory at once."""
    for lo in range(0, len(members), _BLOCK):
        rows = members[lo:lo + _BLOCK]
        for col_lo in range(lo, len(members), _BLOCK):
            cols = members[col_lo:col_lo + _BLOCK]
            distance = np.bitwise_count(codes[rows][:, None] ^ codes[cols][None, :])
            r, c = np.nonzero(distance <= max_bits)
            keep = rows[r] < cols[c]
            if keep.any():
                yield np.stack([rows[r[keep]], cols[c[keep]]], axis=1)
