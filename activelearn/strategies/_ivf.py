"""Approximate nearest-centre distances for many points against many centres: an
inverted file (IVF) over the centres, searched list by list.

The core-set needs, for each of 1,000,000 candidates, the squared distance to the
nearest of 50,000 labeled items: 5e13 flops exactly, ~10 minutes on 2 cores. The centres
are split into lists by k-means (the coarse centroids); each point looks only into the
`_PROBES` lists whose coarse centroids are nearest. A point's answer is the distance to
a real centre, so it never underestimates: it is an upper bound, which is what the
core-set's lazy nearest-centre bounds need.

faiss has this index (IndexIVFFlat), but it scans the lists one query at a time, a
vector at a time: 37-90 s per million queries at 512 lists and 2 probes here, against
20 s (coarse pass included) for the same lists searched list by list, each list's points
against its centres in one matrix product. faiss trains the lists (k-means) when
installed.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from activelearn.strategies import _clustering
from activelearn.strategies._nearest import exact_min_sq, expand_sq

# Centres per list, on average. With 50,000 labeled x 512 dims and 1,000,000 points on 2
# cores: 100 per list (500 lists, 2 probes) took 20 s, 195 per list 32 s (the lists'
# products grow), 49 per list with 4 probes 34 s (the coarse pass grows).
_PER_LIST = 100
# Lists each point looks into. Random 512-d points (the worst case: nothing is
# clustered) got distances 4.9% above the exact ones on average with 2 probes, 3.8%
# with 4, at 2.4x the time; on 24 gaussian blobs the median is exact (test_scale.py).
_PROBES = 2
# Points per matrix product against one list: bounds the gathered [rows, dim] copy.
_ROWS = 8192


def approx_min_sq(points: np.ndarray, centres: np.ndarray, rng: np.random.Generator,
                  faiss: ModuleType | None) -> np.ndarray:
    """Squared distance from each point to a near centre, at least the nearest one's.

    points: [points, dim] float32, centres: [centres, dim] float32 -> [points] float32.
    faiss: the module to train the coarse k-means with, or None for numpy.
    """
    lists = max(1, len(centres) // _PER_LIST)
    sample = centres[_clustering.training_rows(len(centres), lists, rng)]
    coarse = _clustering.fit(sample, lists, rng, faiss)
    labels = _clustering.assign(centres, coarse, nearest_rows=False).labels
    members = _clustering.members_of(labels, lists)
    probes = _probes(points, coarse, min(_PROBES, lists))
    visitors = _clustering.members_of(probes.ravel(), lists)
    centre_sq = np.einsum("ij,ij->i", centres, centres)
    best = np.full(len(points), np.inf, dtype=np.float32)
    for group, visiting in zip(members, visitors):
        if not len(group) or not len(visiting):
            continue
        inside, inside_sq = centres[group], centre_sq[group]
        visiting = visiting // probes.shape[1]  # [pairs] flat (point, probe) -> point
        for start in range(0, len(visiting), _ROWS):
            rows = visiting[start:start + _ROWS]
            block = points[rows]
            sq = expand_sq(block @ inside.T, np.einsum("ij,ij->i", block, block), inside_sq)
            best[rows] = np.minimum(best[rows], sq.min(axis=1))
    return _fill_empty(points, centres, best)


def _probes(points: np.ndarray, coarse: np.ndarray, probes: int) -> np.ndarray:
    """[points, probes] the coarse centroids nearest each point, in blocks of points."""
    coarse_sq = np.einsum("ij,ij->i", coarse, coarse)
    out = np.empty((len(points), probes), dtype=np.int64)
    for start in range(0, len(points), _ROWS):
        block = points[start:start + _ROWS]
        sq = expand_sq(block @ coarse.T, np.einsum("ij,ij->i", block, block), coarse_sq)
        out[start:start + len(block)] = np.argpartition(sq, probes - 1, axis=1)[:, :probes]
    return out


def _fill_empty(points: np.ndarray, centres: np.ndarray, best: np.ndarray) -> np.ndarray:
    """best with the points that met no centre (every probed list was empty: k-means can
    leave a coarse centroid without centres) measured exactly against all centres."""
    lost = np.flatnonzero(~np.isfinite(best))
    if len(lost):
        best[lost] = exact_min_sq(points[lost], centres)
    return best
