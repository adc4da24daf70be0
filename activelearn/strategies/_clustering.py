"""k-means for the clustering strategies and the core-set's coarse lists.

Centroids are trained on a seeded sample of at most `_POINTS_PER_CENTROID` points per
centroid: k-means++ seeding (the lazy D^2 sampler BADGE uses), then Lloyd iterations,
by faiss when it is installed and by numpy otherwise, from the same seeds. Then blocked
passes over every candidate, in any float dtype (a float16 memmap stays as it is), give
each candidate its nearest centroid and each centroid its nearest candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from activelearn.strategies import _faiss
from activelearn.strategies._nearest import D2Sampler, NearestCentres, expand_sq

# Training points per centroid, at most: faiss warns below 39; 64 x 1,000 centroids x
# 512 dims is a 128 MB sample, a Lloyd iteration on it 0.3-0.4 s with faiss and 0.6 s
# in numpy on 2 cores.
_POINTS_PER_CENTROID = 64
# Lloyd iterations (faiss's default is 25). From k-means++ seeds the objective settles
# fast: for 1,000 centroids on 64,000 x 512, 5 iterations came within 0.1% of 20 on
# random data and matched them on 200 gaussian blobs. 10 leave a margin: 3.7 s with
# faiss, 5.7 s in numpy.
ITERATIONS = 10
# Sample x centroids x dim above which numpy's k-means is slow enough to say so: 1e10 is
# 2 s for 10 iterations here.
_SLOW_WORK = 1e10
# Rows per block of an assignment pass: [16384, 1,000 centroids] float32 is 64 MiB.
_BLOCK_ROWS = 16384


def cluster(array: np.ndarray, k: int, rng: np.random.Generator,
            what: str) -> tuple[np.ndarray, Assignment]:
    """k-means on a seeded sample of array's rows, then every row assigned.

    array: [rows >= k, dim] any float dtype -> centroids [k, dim] float32 and the
    assignment of all rows. what: the caller, named in the warning when faiss is missing.
    """
    sample = np.asarray(array[training_rows(len(array), k, rng)], dtype=np.float32)
    faiss = _faiss.load()
    if faiss is None and sample.size * k > _SLOW_WORK:
        _faiss.missing(f"{what} runs its k-means in numpy, about 2x slower")
    centroids = fit(sample, k, rng, faiss)
    return centroids, assign(array, centroids)


def largest_first(array: np.ndarray, k: int, rng: np.random.Generator, what: str
                  ) -> tuple[np.ndarray, Assignment, np.ndarray, np.ndarray]:
    """cluster(), with each cluster's size ([k]) and the clusters largest first ([k]
    cluster numbers; ties in number order): what kmeans and typiclust pick from."""
    centroids, assignment = cluster(array, k, rng, what)
    sizes = assignment.sizes(k)
    return centroids, assignment, sizes, np.argsort(-sizes, kind="stable")


def members_of(labels: np.ndarray, k: int) -> list[np.ndarray]:
    """labels: [rows] cluster numbers -> for each of the k clusters, its rows in order."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(k)]


def training_rows(count: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """[m] sorted positions of the sample to train k centroids on: all of count when
    small enough, else a seeded sample of k * _POINTS_PER_CENTROID."""
    limit = k * _POINTS_PER_CENTROID
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def fit(points: np.ndarray, k: int, rng: np.random.Generator,
        faiss: ModuleType | None) -> np.ndarray:
    """k centroids of points: [m >= k, dim] float32 -> [k, dim] float32.

    faiss: the module (from `_faiss.load()`) to run the Lloyd iterations, or None for numpy.
    """
    centroids = plus_plus(points, k, rng)
    if faiss is not None:
        return _faiss.lloyd(faiss, points, centroids, ITERATIONS,
                            seed=int(rng.integers(2**31 - 1)))
    return lloyd(points, centroids, ITERATIONS)


def plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: a seeded random first centre, then each next one drawn with
    probability proportional to its squared distance to the nearest chosen one.

    points: [m >= k, dim] float32 -> [k, dim] float32 (copies of k distinct points).
    """
    sq_norms = np.einsum("ij,ij->i", points, points)

    def sq_dist(rows: slice | np.ndarray, centres: np.ndarray) -> np.ndarray:
        return expand_sq(points[rows] @ points[centres].T, sq_norms[rows], sq_norms[centres])

    nearest = NearestCentres(sq_dist, np.full(len(points), np.inf, np.float32),
                             taken_value=0.0)
    sampler = D2Sampler(nearest, rng)
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(len(points))
    nearest.add(int(chosen[0]))
    for i in range(1, k):
        chosen[i] = sampler.draw(taken=chosen[:i])[0]
        nearest.add(int(chosen[i]))
    return points[chosen].copy()


def lloyd(points: np.ndarray, centroids: np.ndarray, iterations: int) -> np.ndarray:
    """Lloyd's k-means in numpy from the given centroids; an empty cluster keeps its centroid.

    points: [m, dim] float32, centroids: [k, dim] -> [k, dim] float32 (a new array).
    """
    centroids = centroids.copy()
    k = len(centroids)
    for _ in range(iterations):
        labels = assign(points, centroids, nearest_rows=False).labels
        counts = np.bincount(labels, minlength=k)
        filled = counts > 0
        order = np.argsort(labels, kind="stable")
        starts = (np.cumsum(counts) - counts)[filled]
        sums = np.add.reduceat(points[order], starts, axis=0)
        centroids[filled] = sums / counts[filled, None]
    return centroids


@dataclass
class Assignment:
    """labels: [rows] each row's nearest centroid; nearest: [k] each centroid's nearest row."""

    labels: np.ndarray
    nearest: np.ndarray

    def sizes(self, k: int) -> np.ndarray:
        """[k] rows per centroid."""
        return np.bincount(self.labels, minlength=k)


def assign(array: np.ndarray, centroids: np.ndarray, nearest_rows: bool = True) -> Assignment:
    """Nearest centroid of every row and (unless not nearest_rows) nearest row of every
    centroid, in blocks of rows.

    array: [rows, dim] any float dtype (converted a block at a time),
    centroids: [k, dim] float32.
    """
    centre_sq = np.einsum("ij,ij->i", centroids, centroids)
    labels = np.empty(len(array), dtype=np.int64)
    nearest = np.zeros(len(centroids), dtype=np.int64)
    nearest_sq = np.full(len(centroids), np.inf, dtype=np.float32)
    for start in range(0, len(array), _BLOCK_ROWS):
        block = np.asarray(array[start:start + _BLOCK_ROWS], dtype=np.float32)
        sq = expand_sq(block @ centroids.T, np.einsum("ij,ij->i", block, block), centre_sq)
        labels[start:start + len(block)] = sq.argmin(axis=1)
        if nearest_rows:
            # argmin down the columns is 20x slower than min (0.12 s against 6 ms for
            # [16384, 1000]): only the columns this block improves need it.
            closer = np.flatnonzero(sq.min(axis=0) < nearest_sq)
            rows = sq[:, closer].argmin(axis=0)
            nearest[closer] = rows + start
            nearest_sq[closer] = sq[rows, closer]
    return Assignment(labels, nearest)


def nearest_unpicked(array: np.ndarray, centroids: np.ndarray, order: np.ndarray,
                     nearest: np.ndarray, taken: set[int] | None = None) -> np.ndarray:
    """For each centroid in order, its nearest row that neither a centroid before it nor
    `taken` took.

    array: [rows, dim] any float dtype, centroids: [k, dim] float32, order: [c] centroid
    indices, nearest: [k] each centroid's nearest row (`Assignment.nearest`) -> [c] rows.
    A centroid whose nearest row is taken (two centroids in one tight spot, or
    duplicate rows) gets its nearest free one from one more pass over the rows.
    """
    picks = np.empty(len(order), dtype=np.int64)
    taken = set() if taken is None else set(taken)
    clashes = []
    for i, centroid in enumerate(order):
        row = int(nearest[centroid])
        if row in taken:
            clashes.append(i)
        else:
            picks[i] = row
            taken.add(row)
    if clashes:
        # len(clashes) free rows per clashing centroid suffice: the others take one each.
        count = min(len(clashes), len(array) - len(taken))
        options = _nearest_rows(array, centroids[order[clashes]], taken, count)
        for i, rows in zip(clashes, options):
            picks[i] = next(int(r) for r in rows if int(r) not in taken)
            taken.add(int(picks[i]))
    return picks


def _nearest_rows(array: np.ndarray, queries: np.ndarray, exclude: set[int],
                  count: int) -> np.ndarray:
    """[q, count] the count rows nearest each query, nearest first, none in exclude.

    array: [rows, dim] any float dtype, queries: [q, dim] float32.
    """
    excluded = np.fromiter(exclude, dtype=np.int64, count=len(exclude))
    query_sq = np.einsum("ij,ij->i", queries, queries)
    best_sq: np.ndarray = np.full((0, len(queries)), np.inf, dtype=np.float32)
    best: np.ndarray = np.zeros((0, len(queries)), dtype=np.int64)
    for start in range(0, len(array), _BLOCK_ROWS):
        block = np.asarray(array[start:start + _BLOCK_ROWS], dtype=np.float32)
        sq = expand_sq(block @ queries.T, np.einsum("ij,ij->i", block, block), query_sq)
        inside = excluded[(excluded >= start) & (excluded < start + len(block))]
        sq[inside - start] = np.inf
        rows = np.broadcast_to(np.arange(start, start + len(block))[:, None], sq.shape)
        best_sq, best = np.concatenate([best_sq, sq]), np.concatenate([best, rows])
        if len(best) > count:
            keep = np.argpartition(best_sq, count - 1, axis=0)[:count]
            best_sq = np.take_along_axis(best_sq, keep, axis=0)
            best = np.take_along_axis(best, keep, axis=0)
    order = np.argsort(best_sq, axis=0, kind="stable")
    return np.take_along_axis(best, order, axis=0).T
