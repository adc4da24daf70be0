"""faiss, the optional accelerator (`pip install 'activelearn[scale]'`): the only module
that imports it, lazily, so importing the strategies never loads it.

Without faiss every caller has a numpy path that gives the same answers; `load` returns
None then, and `missing` logs the one line that says how to get the fast path.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys
from types import ModuleType

import numpy as np

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'activelearn[scale]'"
# Query rows per faiss search call: bounds faiss's [rows, ...] result and BLAS buffers.
_SEARCH_ROWS = 65536


def load() -> ModuleType | None:
    """The faiss module, or None when it is not installed.

    Its threads are capped at the machine's cores (it defaults to OpenMP's count,
    which OMP_NUM_THREADS may set higher).
    """
    try:
        faiss = _import_faiss()
    except ImportError:
        return None
    cores = os.cpu_count() or 1
    if faiss.omp_get_max_threads() > cores:
        faiss.omp_set_num_threads(cores)
    return faiss


def missing(consequence: str) -> None:
    """Log, in one line, what runs slower because faiss is not installed."""
    log.warning("faiss is not installed: %s; %s makes it fast", consequence, INSTALL_HINT)


def _import_faiss() -> ModuleType:
    """import faiss, with its bundled OpenBLAS told which kernels this CPU runs.

    faiss-cpu's wheels bundle OpenBLAS 0.3.15, which does not know CPUs newer than it
    (Sapphire Rapids here) and falls back to its SSE3 'Prescott' kernels: faiss's
    exact search ran at 30-39 GFLOP/s on 2 cores, numpy's matmul at 130-200. Naming the
    core type while the library loads (OPENBLAS_CORETYPE, read once at load; numpy's
    own OpenBLAS is loaded already) brought faiss to 185-194 GFLOP/s. A value the user
    set is kept; the variable is removed again afterwards.
    """
    if "faiss" in sys.modules:
        return sys.modules["faiss"]
    core = None if "OPENBLAS_CORETYPE" in os.environ else _openblas_core()
    if core is not None:
        os.environ["OPENBLAS_CORETYPE"] = core
    try:
        import faiss
    finally:
        if core is not None:
            del os.environ["OPENBLAS_CORETYPE"]
    return faiss


def _openblas_core() -> str | None:
    """The OpenBLAS 0.3.15 core type whose kernels this x86-64 CPU runs, from numpy's
    CPU feature detection; None elsewhere or when unsure (OpenBLAS then decides)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:  # numpy 2 moved numpy.core to numpy._core
        features = importlib.import_module("numpy._core._multiarray_umath").__cpu_features__
    except (ImportError, AttributeError):
        try:
            features = importlib.import_module("numpy.core._multiarray_umath").__cpu_features__
        except (ImportError, AttributeError):
            return None
    if features.get("AVX512_SKX"):
        return "SkylakeX"
    if features.get("AVX2") and features.get("FMA3"):
        return "Haswell"
    return None


def nearest_sq(faiss: ModuleType, points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Exact squared distance from each point to its nearest centre (IndexFlatL2).

    points: [points, dim], centres: [centres, dim], float32 -> [points] float32
    """
    index = faiss.IndexFlatL2(centres.shape[1])
    index.add(np.ascontiguousarray(centres, dtype=np.float32))
    out = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), _SEARCH_ROWS):
        block = np.ascontiguousarray(points[start:start + _SEARCH_ROWS], dtype=np.float32)
        out[start:start + len(block)] = index.search(block, 1)[0][:, 0]
    return np.maximum(out, 0.0, out=out)


def lloyd(faiss: ModuleType, points: np.ndarray, centroids: np.ndarray, iterations: int,
          seed: int) -> np.ndarray:
    """k-means (faiss.Kmeans) from the given initial centroids.

    points: [points, dim] float32, centroids: [k, dim] -> [k, dim] float32. The caller
    has sampled the points already, so faiss must not subsample again; seed drives only
    faiss's splitting of a cluster that went empty.
    """
    k, dim = centroids.shape
    kmeans = faiss.Kmeans(dim, k, niter=iterations, seed=seed, verbose=False,
                          max_points_per_centroid=max(1, -(-len(points) // k)),
                          min_points_per_centroid=1)
    kmeans.train(np.ascontiguousarray(points, dtype=np.float32),
                 init_centroids=np.ascontiguousarray(centroids, dtype=np.float32))
    return np.asarray(kmeans.centroids, dtype=np.float32)
