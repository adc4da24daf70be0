"""Finding duplicate images: exact copies (a hash of the pixels) and near-duplicates (the
same picture shifted by a pixel or two, brightened, re-encoded as JPEG).

Near-duplicates are found in two steps, both vectorised with torch:

1. candidates: every image gets a coarse signature (grayscale, background removed,
   centred on its centre of mass, blurred, pooled to 8x8, zero mean, unit norm);
   blocked matrix products give each image its nearest neighbours, and those above a
   loose cosine similarity are kept as candidate pairs;
2. verification: each candidate pair is compared at full resolution (grayscale) as
   the best Pearson correlation over small shifts of one image against the other.
   Correlation ignores brightness and contrast; the shifts absorb small translations.
   A pair above the threshold must also match everywhere: at its best shift, after
   fitting brightness and contrast, no 3x3 patch may differ by more than RESIDUAL_MAX
   (in standard deviations of the image; saturated white pixels, which a brightened
   copy clips, are left out). Re-encoding and small shifts leave
   fine-grained noise that averages out over a patch; two different pictures of
   look-alike products (Fashion-MNIST has thousands of plain T-shirts correlating
   above 0.985) differ in one place, a strap or a logo, and are dropped.

The result is a list of pairs; `groups` joins them into connected components.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 32  # images larger than 2 * SIZE are compared as SIZE x SIZE grayscale
SHIFT = 2  # pixels by which a near-duplicate may be shifted
COARSE = 8  # the candidate signature is COARSE x COARSE
NEIGHBOURS = 16  # candidates per image
COARSE_MIN = 0.95  # a candidate pair's least coarse similarity
CHUNK = 4096  # images per block
RESIDUAL_MAX = 0.22  # the largest 3x3 mean difference of a near-duplicate, in std units
WHITE = 250 / 255  # pixels this bright may be clipped: left out of the residual


@dataclass(frozen=True)
class Pair:
    """Two duplicate images by pool position (first < second), how they were found
    ("exact" or "near") and their similarity (1.0 for exact)."""

    first: int
    second: int
    kind: str
    similarity: float


def content_hashes(images: torch.Tensor) -> list[str]:
    """A hash of each image's pixels and shape. images: [items, C, H, W] uint8."""
    shape = repr(tuple(images.shape[1:])).encode()
    data = images.contiguous().numpy().reshape(len(images), -1)
    return [hashlib.blake2b(row.tobytes() + shape, digest_size=16).hexdigest() for row in data]


def exact_pairs(hashes: list[str]) -> list[Pair]:
    """Each image with the first image of the same hash (a star per group)."""
    first: dict[str, int] = {}
    pairs = []
    for i, h in enumerate(hashes):
        j = first.setdefault(h, i)
        if j != i:
            pairs.append(Pair(j, i, "exact", 1.0))
    return pairs


def find_pairs(images: torch.Tensor, threshold: float) -> list[Pair]:
    """Exact and near-duplicate pairs of a pool. images: [items, C, H, W] uint8;
    threshold: the least shift-tolerant correlation of a near-duplicate (0..1)."""
    exact = exact_pairs(content_hashes(images))
    copies = {p.second for p in exact}
    unique = np.array([i for i in range(len(images)) if i not in copies], dtype=np.int64)
    if len(unique) < 2:
        return exact
    canon = canonical(images[torch.from_numpy(unique)])
    candidates = candidate_pairs(signatures(canon))
    sims = shifted_correlation(canon, candidates)
    keep = sims >= threshold
    keep[keep.clone()] = local_residual(canon, candidates[keep]) <= RESIDUAL_MAX
    near = [Pair(int(unique[a]), int(unique[b]), "near", float(s))
            for (a, b), s in zip(candidates[keep].tolist(), sims[keep].tolist())]
    return exact + near


def canonical(images: torch.Tensor) -> torch.Tensor:
    """[items, C, H, W] uint8 -> [items, h, w] float32 grayscale in 0..1: the native size
    for small images (so a pixel shift stays a whole pixel), SIZE x SIZE for larger ones."""
    native = max(images.shape[-2:]) <= 2 * SIZE
    h, w = images.shape[-2:] if native else (SIZE, SIZE)
    out = torch.empty(len(images), h, w)
    for start in range(0, len(images), CHUNK):
        x = images[start:start + CHUNK].float() / 255
        if x.shape[1] == 3:
            x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        elif x.shape[1] != 1:
            x = x.mean(dim=1, keepdim=True)
        if not native:
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                              antialias=True)
        out[start:start + CHUNK] = x[:, 0]
    return out


def signatures(canon: torch.Tensor) -> torch.Tensor:
    """[items, h, w] -> [items, COARSE**2]: background removed, moved so that its centre
    of mass is in the middle (undoing shifts), blurred, pooled, zero mean, unit norm (a
    blank image gets zeros and so no candidates)."""
    out = torch.empty(len(canon), COARSE * COARSE)
    for start in range(0, len(canon), CHUNK):
        x = _centred(canon[start:start + CHUNK])
        x = F.avg_pool2d(x[:, None], 3, stride=1, padding=1, count_include_pad=False)
        out[start:start + CHUNK] = F.adaptive_avg_pool2d(x, COARSE).flatten(1)
    return _standardise(out)


def _centred(x: torch.Tensor) -> torch.Tensor:
    """[n, h, w] minus the border's median, translated so its centre of mass is central."""
    n, h, w = x.shape
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)
    x = x - border.median(dim=1).values[:, None, None]
    mass = x.abs()
    total = mass.sum(dim=(1, 2)).clamp_min(1e-6)
    cy = (mass.sum(2) * torch.arange(h)).sum(1) / total
    cx = (mass.sum(1) * torch.arange(w)).sum(1) / total
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = (cx - (w - 1) / 2) * 2 / w
    theta[:, 1, 2] = (cy - (h - 1) / 2) * 2 / h
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    return F.grid_sample(x[:, None], grid, align_corners=False)[:, 0]


def candidate_pairs(sig: torch.Tensor) -> torch.Tensor:
    """[items, D] unit signatures -> [pairs, 2] positions (a < b) of each image's nearest
    neighbours with similarity >= COARSE_MIN."""
    k = min(NEIGHBOURS + 1, len(sig))
    found = []
    for start in range(0, len(sig), CHUNK):
        sims = sig[start:start + CHUNK] @ sig.T
        rows = torch.arange(start, start + len(sims))
        sims[torch.arange(len(sims)), rows] = -1  # not with itself
        values, cols = sims.topk(k, dim=1)
        hit = values >= COARSE_MIN
        a = rows[:, None].expand_as(cols)[hit]
        b = cols[hit]
        found.append(torch.stack([torch.minimum(a, b), torch.maximum(a, b)], dim=1))
    pairs = torch.cat(found) if found else torch.empty(0, 2, dtype=torch.int64)
    return torch.unique(pairs, dim=0)


def shifted_correlation(canon: torch.Tensor, pairs: torch.Tensor, batch: int = 4096
                        ) -> torch.Tensor:
    """[pairs] the best Pearson correlation of the centre of the first image with the
    second shifted by up to SHIFT pixels. canon: [items, h, w]; pairs: [pairs, 2]."""
    _, h, w = canon.shape
    ih, iw = h - 2 * SHIFT, w - 2 * SHIFT
    cells = ih * iw
    best = torch.full((len(pairs),), -1.0)
    for start in range(0, len(pairs), batch):
        p = pairs[start:start + batch]
        n = len(p)
        a = _standardise(canon[p[:, 0], SHIFT:SHIFT + ih, SHIFT:SHIFT + iw].flatten(1))
        b = canon[p[:, 1]][None]  # [1, n, h, w]: one channel per pair
        # a sums to 0, so sum(a * window) = sum(a * (window - its mean)): a grouped
        # convolution gives every shift's covariance, box sums give each window's norm
        cov = F.conv2d(b, a.view(n, 1, ih, iw), groups=n)[0]  # [n, shifts, shifts]
        s1 = F.avg_pool2d(b, (ih, iw), stride=1)[0] * cells
        s2 = F.avg_pool2d(b * b, (ih, iw), stride=1)[0] * cells
        norm = (s2 - s1 * s1 / cells).clamp_min(0).sqrt()
        corr = torch.where(norm > 1e-6, cov / norm.clamp_min(1e-6), torch.zeros_like(cov))
        best[start:start + n] = corr.flatten(1).max(dim=1).values
    return best


def local_residual(canon: torch.Tensor, pairs: torch.Tensor, batch: int = 4096
                   ) -> torch.Tensor:
    """[pairs] the largest mean difference (in absolute value) over a 3x3 patch between
    the centre of the first image and the second at the shift where they correlate
    best, after a least-squares fit of brightness and contrast, in standard deviations
    of the second: noise cancels within a patch, a real difference does not.
    canon: [items, h, w]; pairs: [pairs, 2]."""
    _, h, w = canon.shape
    ih, iw = h - 2 * SHIFT, w - 2 * SHIFT
    side = 2 * SHIFT + 1
    out = torch.zeros(len(pairs))
    for start in range(0, len(pairs), batch):
        p = pairs[start:start + batch]
        first, second = canon[p[:, 0], SHIFT:SHIFT + ih, SHIFT:SHIFT + iw], canon[p[:, 1]]
        a = first - first.mean(dim=(1, 2), keepdim=True)
        corr = torch.empty(len(p), side * side)
        for k in range(side * side):
            b = second[:, k // side:k // side + ih, k % side:k % side + iw]
            b = b - b.mean(dim=(1, 2), keepdim=True)
            corr[:, k] = (a * b).sum(dim=(1, 2)) / (a.norm(dim=(1, 2))
                                                     * b.norm(dim=(1, 2))).clamp_min(1e-6)
        best = corr.argmax(dim=1)
        rows = torch.arange(ih)[None, :, None] + (best // side)[:, None, None]
        cols = torch.arange(iw)[None, None, :] + (best % side)[:, None, None]
        window = second[torch.arange(len(p))[:, None, None], rows, cols]
        # a brightened copy saturates: its white pixels say nothing about the fit
        clipped = (first >= WHITE) | (window >= WHITE)
        b = window - window.mean(dim=(1, 2), keepdim=True)
        scale = (a * b).sum(dim=(1, 2)) / (a * a).sum(dim=(1, 2)).clamp_min(1e-6)
        rest = (b - scale[:, None, None] * a) / b.std(dim=(1, 2)).clamp_min(1e-6)[:, None, None]
        rest = rest.masked_fill(clipped, 0)
        patch = F.avg_pool2d(rest[:, None], 3, stride=1).abs().flatten(1)
        out[start:start + len(p)] = patch.max(dim=1).values
    return out


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Zero mean and unit norm over the last dimension (zeros where it is constant)."""
    x = x - x.mean(dim=-1, keepdim=True)
    norm = x.norm(dim=-1, keepdim=True)
    return torch.where(norm > 1e-6, x / norm.clamp_min(1e-6), torch.zeros_like(x))


def groups(n: int, pairs: list[Pair]) -> list[list[int]]:
    """Connected components (of two or more) of the pairs over n positions, each sorted,
    ordered by their smallest position."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p in pairs:
        a, b = root(p.first), root(p.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in sorted({i for p in pairs for i in (p.first, p.second)}):
        members.setdefault(root(i), []).append(i)
    return sorted(members.values(), key=lambda g: g[0])
