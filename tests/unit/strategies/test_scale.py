"""Selection at scale: faiss against numpy, the approximate core-set, the clustering
strategies (kmeans, typiclust, cluster_margin) on hand-built blobs, and the path without
faiss."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import activelearn.strategies
from activelearn.strategies import SelectionInput, _clustering, _faiss, coreset, get_strategy
from activelearn.strategies._nearest import exact_min_sq
from activelearn.strategies.typiclust import most_typical


@pytest.fixture
def faiss():
    """The faiss module; setup.sh installs it (the `scale` extra)."""
    module = _faiss.load()
    assert module is not None, f"faiss is missing: {_faiss.INSTALL_HINT}"
    return module


@pytest.fixture
def no_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every caller sees faiss as not installed."""
    monkeypatch.setattr(_faiss, "load", lambda: None)


def blobs(sizes: list[int], dim: int, seed: int = 0, spread: float = 30.0):
    """Well-separated gaussian blobs: points [sum(sizes), dim] float32, blob of each
    point [sum(sizes)], centres [blobs, dim]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim)) * spread
    blob = np.repeat(np.arange(len(sizes)), sizes)
    points = centres[blob] + rng.normal(size=(len(blob), dim))
    return points.astype(np.float32), blob, centres


def true_min_sq(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[points] squared distance to the nearest centre, in float64."""
    a, b = points.astype(np.float64), centres.astype(np.float64)
    sq = (a**2).sum(axis=1)[:, None] - 2 * a @ b.T + (b**2).sum(axis=1)
    return np.maximum(sq.min(axis=1), 0.0)


def covering_radius(points: np.ndarray, labeled: np.ndarray, picks: np.ndarray) -> float:
    """The largest distance from a point to its nearest labeled or picked point."""
    return float(np.sqrt(true_min_sq(points, np.concatenate([labeled, points[picks]])).max()))


# --- core-set's distances ---------------------------------------------------------


def test_faiss_exact_distances_match_numpy_and_the_truth(faiss) -> None:
    rng = np.random.default_rng(1)
    points = rng.normal(size=(700, 24)).astype(np.float32)
    centres = rng.normal(size=(45, 24)).astype(np.float32)
    truth = true_min_sq(points, centres)
    got = coreset.min_sq_distances(points, centres, rng, exact_work=np.inf)
    assert got == pytest.approx(truth, rel=1e-4)
    assert exact_min_sq(points, centres) == pytest.approx(got, rel=1e-4)


def test_the_approximate_core_set_stays_close_to_the_exact_one(
        faiss, monkeypatch: pytest.MonkeyPatch) -> None:
    points, blob, _ = blobs([150] * 24, dim=32, seed=2, spread=4.0)
    labeled_rows = np.arange(0, len(points), 2)  # half of every blob is labeled
    labeled, pool = points[labeled_rows], np.delete(points, labeled_rows, axis=0)
    rng = np.random.default_rng(0)
    approx = coreset.min_sq_distances(pool, labeled, rng, exact_work=0)  # 18 lists
    truth = true_min_sq(pool, labeled)
    assert (approx >= truth * (1 - 1e-4)).all()  # an upper bound, as the greedy needs
    assert np.median(approx / truth) == pytest.approx(1.0, abs=1e-4)
    inp = SelectionInput(probs=np.ones((len(pool), 1), np.float32), embeddings=pool,
                         labeled_embeddings=labeled)
    exact = get_strategy("coreset").select(inp, 60, seed=0).positions
    monkeypatch.setattr(coreset, "EXACT_WORK", 0)
    approximate = get_strategy("coreset").select(inp, 60, seed=0).positions
    assert covering_radius(pool, labeled, approximate) <= 1.03 * covering_radius(
        pool, labeled, exact)
    assert len(set(exact.tolist()) & set(approximate.tolist())) >= 40


def test_coreset_takes_float16_and_leaves_the_callers_array_alone() -> None:
    points, _, _ = blobs([40] * 5, dim=16, seed=3)
    as_float16 = points.astype(np.float16)
    as_float32 = as_float16.astype(np.float32)
    before = as_float32.copy()
    labeled = as_float32[:10].copy()

    def picks(emb: np.ndarray) -> list[int]:
        inp = SelectionInput(probs=np.ones((200, 1), np.float32), embeddings=emb,
                             labeled_embeddings=labeled)
        return get_strategy("coreset").select(inp, 15, seed=0).positions.tolist()

    assert picks(as_float16) == picks(as_float32)
    assert np.array_equal(as_float32, before)


# --- kmeans, typiclust --------------------------------------------------------------


BLOB_SIZES = [30, 120, 45, 90, 60, 150, 75, 105, 135, 15]


def cold_start(points: np.ndarray) -> SelectionInput:
    """What the first batch passes: probabilities of ones, no model behind them."""
    return SelectionInput(probs=np.ones((len(points), 1), np.float32), embeddings=points)


@pytest.mark.parametrize("name", ["kmeans", "typiclust"])
def test_one_pick_per_blob_larger_blobs_first(name: str) -> None:
    points, blob, _ = blobs(BLOB_SIZES, dim=16, seed=4)
    sel = get_strategy(name).select(cold_start(points), 10, seed=0)
    assert sorted(blob[sel.positions].tolist()) == list(range(10))
    assert sel.scores.tolist() == sorted(BLOB_SIZES, reverse=True)
    assert blob[sel.positions].tolist() == np.argsort(BLOB_SIZES)[::-1].tolist()


@pytest.mark.parametrize("name", ["kmeans", "typiclust"])
def test_clustering_picks_ignore_the_probabilities(name: str) -> None:
    points, _, _ = blobs(BLOB_SIZES, dim=16, seed=5)
    random_probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(points))
    with_probs = SelectionInput(probs=random_probs.astype(np.float32), embeddings=points)
    first = get_strategy(name).select(cold_start(points), 10, seed=3).positions
    assert first.tolist() == get_strategy(name).select(with_probs, 10, seed=3).positions.tolist()


def test_typiclust_picks_points_near_the_blob_centres() -> None:
    """Each pick's rank among its blob by distance to the blob's centre: a random pick
    averages 0.5, an outlier nears 1. (The 20-neighbour density is noisy at 15-150
    points a blob: over 10 seeds the worst pick ranked 0.25-0.40, the mean 0.10-0.19.)"""
    points, blob, centres = blobs(BLOB_SIZES, dim=2, seed=6, spread=40.0)
    sel = get_strategy("typiclust").select(cold_start(points), 10, seed=0)
    ranks = []
    for position in sel.positions:
        to_centre = np.linalg.norm(points[blob == blob[position]] - centres[blob[position]],
                                   axis=1)
        ranks.append(np.mean(to_centre < np.linalg.norm(points[position]
                                                         - centres[blob[position]])))
    assert np.mean(ranks) <= 0.25 and max(ranks) <= 0.5


def test_typicality_prefers_the_dense_spot_to_the_middle() -> None:
    """A tight group at one end, scattered points around: the mean lies among the
    scattered ones, the most typical point in the tight group."""
    rng = np.random.default_rng(7)
    tight = rng.normal(0, 0.05, size=(25, 2))
    scattered = rng.uniform(-3, 9, size=(25, 2))
    points = np.concatenate([tight, scattered]).astype(np.float32)
    assert most_typical(points) < 25
    centre = points.mean(axis=0)
    assert np.argmin(np.linalg.norm(points - centre, axis=1)) >= 25


# --- cluster_margin -----------------------------------------------------------------


def margin_pool() -> tuple[SelectionInput, np.ndarray, np.ndarray]:
    """300 candidates in 5 blobs. The 20 smallest margins all sit in blob 0, the next 40
    in blobs 1-4 (10 each, interleaved), the rest are large. Returns the input, each
    candidate's blob and its margin."""
    points, blob, _ = blobs([60] * 5, dim=8, seed=8)
    margin = np.full(300, 0.8)
    margin[:20] = np.linspace(0.0, 0.05, 20)
    for b in range(1, 5):
        margin[60 * b:60 * b + 10] = 0.06 + np.arange(10) * 0.004 + b * 0.001
    top = (1 + margin) / 2  # two classes: p1 - p2 = margin
    probs = np.stack([top, 1 - top], axis=1).astype(np.float32)
    return SelectionInput(probs=probs, embeddings=points), blob, margin


def test_cluster_margin_spreads_the_lowest_margins_over_clusters() -> None:
    inp, blob, margin = margin_pool()
    n = 5
    lowest = set(np.argsort(margin)[:10 * n].tolist())
    sel = get_strategy("cluster-margin").select(inp, n, seed=0)
    assert set(sel.positions.tolist()) <= lowest
    assert len(set(blob[sel.positions].tolist())) >= 4
    assert len(set(blob[get_strategy("margin").select(inp, n, seed=0).positions])) == 1
    # Smallest clusters first: blob 0 holds 20 of the 50 kept, the others 7 or 8.
    assert blob[sel.positions[0]] != 0
    for position in sel.positions:  # each cluster gives its smallest margin first
        kept_in_blob = [p for p in lowest if blob[p] == blob[position]]
        assert margin[position] == min(margin[kept_in_blob])
    assert sel.scores == pytest.approx(1 - margin[sel.positions], abs=1e-6)


# --- without faiss ------------------------------------------------------------------


def test_without_faiss_the_answers_are_faiss_exact_ones(faiss) -> None:
    points, _, _ = blobs([50] * 8, dim=12, seed=9, spread=6.0)
    labeled = points[::7]
    core = SelectionInput(probs=np.ones((400, 1), np.float32), embeddings=points,
                          labeled_embeddings=labeled)
    with_faiss = {name: get_strategy(name).select(core, 8, seed=1).positions.tolist()
                  for name in ("coreset", "kmeans", "typiclust")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_faiss, "load", lambda: None)
        without = {name: get_strategy(name).select(core, 8, seed=1).positions.tolist()
                   for name in ("coreset", "kmeans", "typiclust")}
    assert without == with_faiss


def test_a_large_input_without_faiss_runs_exactly_and_says_how_to_speed_up(
        no_faiss, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(10)
    points = rng.normal(size=(300, 8)).astype(np.float32)
    centres = rng.normal(size=(40, 8)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        got = coreset.min_sq_distances(points, centres, rng, exact_work=0)
    assert got == pytest.approx(true_min_sq(points, centres), rel=1e-4)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "pip install 'activelearn[scale]'" in warnings[0]


def test_kmeans_without_faiss_says_once_that_numpy_is_slower(
        no_faiss, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(_clustering, "_SLOW_WORK", 0)  # as if the pool were large
    points, blob, _ = blobs(BLOB_SIZES, dim=16, seed=4)
    with caplog.at_level(logging.WARNING):
        sel = get_strategy("kmeans").select(cold_start(points), 10, seed=0)
    assert sorted(blob[sel.positions].tolist()) == list(range(10))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "pip install 'activelearn[scale]'" in warnings[0]


# --- faiss stays at the edge --------------------------------------------------------


def test_only_the_faiss_module_imports_faiss() -> None:
    package = Path(activelearn.strategies.__file__).resolve().parents[1]
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "faiss" or n.startswith("faiss.") for n in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"strategies/_faiss.py"}


def test_importing_the_strategies_does_not_load_faiss() -> None:
    code = "import sys, activelearn.strategies; print('faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
