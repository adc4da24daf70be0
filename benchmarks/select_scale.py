"""Selection at a million images: core-set, BADGE and k-means (cold start) each pick 1,000.

    .venv/bin/python benchmarks/select_scale.py [--sizes 100000:5000 1000000:50000]
        [--dim 512] [--n 1000] [--repeats 3] [--work /tmp/select_scale] [--out FILE.json]

Writes (or reuses) random float16 embeddings to --work as .npy files: a pool of P x dim
and L x dim labeled items per size P:L. Each measurement runs in a child process of its
own (this script with --child), which opens the pool as a read-only memmap (1 GB at
1,000,000 x 512), makes the rest of the input (random probabilities for 10 classes for
BADGE, probs of ones for the cold start), then selects --n. The child reports the input
time, the select time and its peak RSS (ru_maxrss: the memmap's pages it read count).

Measurements per size:
- coreset: the strategy as it runs (faiss when installed; the inverted file above
  coreset.EXACT_WORK candidates x labeled x dim);
- coreset-exact: the exact path, faiss hidden (the numpy product, as before issue 14),
  run whole when candidates x labeled x dim <= --exact-limit; above it only the exact
  distances of the first --exact-cap candidates are timed and scaled to the pool;
- badge: random probabilities, 10 classes;
- kmeans: the cold start (probs of ones, no labeled items);
- typiclust (cold start too) and cluster-margin (random probabilities), for reference.

For pools up to 200,000 the child also measures, after the timing, the exact covering
radius of the core-set's picks (the largest distance from a candidate to its nearest
labeled or picked item), so the approximate core-set can be compared with the exact one.

Prints best and median select seconds over --repeats, the largest peak RSS, the
covering radii, and the targets at 1,000,000 x 512 with 50,000 labeled: each <= 60 s and
<= 4,096 MB. Writes the figures as JSON to --out [default: WORK/results.json].
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TARGET_S = 60.0
TARGET_MB = 4096.0
CHUNK = 65536  # rows generated at a time: no full-size float32 temporary in the parent
RADIUS_ROWS = 200_000  # pools up to this size get the core-set's exact covering radius
MEASUREMENTS = ["coreset", "coreset-exact", "badge", "kmeans", "typiclust", "cluster-margin"]


# ---------------------------------------------------------------- inputs

def ensure_array(path: Path, rows: int, dim: int, seed: int) -> Path:
    """A [rows, dim] float16 .npy of standard normal values, written once."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(rows, dim))
    for start in range(0, rows, CHUNK):
        size = min(CHUNK, rows - start)
        out[start:start + size] = rng.standard_normal((size, dim), dtype=np.float32)
    out.flush()
    del out
    tmp.rename(path)
    return path


def input_paths(work: Path, pool: int, labeled: int, dim: int) -> tuple[Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    return (ensure_array(work / f"pool_{pool}x{dim}.npy", pool, dim, seed=1),
            ensure_array(work / f"labeled_{labeled}x{dim}.npy", labeled, dim, seed=2))


# ---------------------------------------------------------------- the child

def child(args: argparse.Namespace) -> dict:
    """One measurement in this process; returns its figures."""
    from activelearn.strategies import SelectionInput, _faiss, get_strategy

    start = time.perf_counter()
    emb = np.load(args.pool_path, mmap_mode="r")
    labeled = np.load(args.labeled_path, mmap_mode="r")
    if args.child == "coreset-exact":
        _faiss.load = lambda: None  # the exact numpy path, as before issue 14
        if args.exact_capped:
            return capped_exact(emb, np.asarray(labeled, dtype=np.float32), args.exact_cap)
    if args.child in ("badge", "cluster-margin"):
        rng = np.random.default_rng(3)
        probs = rng.dirichlet(np.ones(10), size=len(emb)).astype(np.float32)
    else:
        probs = np.ones((len(emb), 1), dtype=np.float32)
    inp = SelectionInput(probs=probs, embeddings=emb,
                         labeled_embeddings=labeled if args.child.startswith("coreset") else None)
    input_s = time.perf_counter() - start
    start = time.perf_counter()
    strategy = "coreset" if args.child.startswith("coreset") else args.child
    sel = get_strategy(strategy).select(inp, args.n, seed=0)
    figures = {"input_s": input_s, "select_s": time.perf_counter() - start,
               "last_score": float(sel.scores[-1]), "faiss": _faiss.load() is not None,
               "peak_rss_mb": peak_rss_mb()}
    if strategy == "coreset" and len(emb) <= RADIUS_ROWS:
        figures["radius"] = covering_radius(emb, labeled, sel.positions)
    return figures


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def covering_radius(emb: np.ndarray, labeled: np.ndarray, picks: np.ndarray) -> float:
    """The exact largest distance from a candidate to its nearest labeled or picked item
    (what the core-set minimises), measured after the timing."""
    from activelearn.strategies._nearest import exact_min_sq

    points = np.asarray(emb, dtype=np.float32)
    offset = points.mean(axis=0)
    points -= offset
    centres = np.concatenate([np.asarray(labeled, dtype=np.float32) - offset, points[picks]])
    return float(np.sqrt(exact_min_sq(points, centres).max()))


def capped_exact(emb: np.ndarray, labeled: np.ndarray, cap: int) -> dict:
    """The exact distances of the first cap candidates, timed and scaled to the pool."""
    from activelearn.strategies._nearest import exact_min_sq

    points = np.asarray(emb[:cap], dtype=np.float32)
    offset = points.mean(axis=0)
    start = time.perf_counter()
    exact_min_sq(points - offset, labeled - offset)
    seconds = time.perf_counter() - start
    return {"input_s": 0.0, "capped_rows": cap, "capped_s": seconds,
            "select_s": seconds * len(emb) / cap, "extrapolated": True,
            "peak_rss_mb": peak_rss_mb()}


def run_child(script_args: list[str]) -> dict:
    """This script as a child: its figures, and the load average before it started."""
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, *script_args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"child {script_args} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT "):]), "load_before": load}


# ---------------------------------------------------------------- the parent

def measure(args: argparse.Namespace, pool: int, labeled: int) -> dict:
    pool_path, labeled_path = input_paths(args.work, pool, labeled, args.dim)
    common = ["--pool-path", str(pool_path), "--labeled-path", str(labeled_path),
              "--n", str(args.n), "--exact-cap", str(args.exact_cap)]
    capped = pool * labeled * args.dim > args.exact_limit
    figures = {}
    for name in args.measure:
        extra = ["--exact-capped"] if name == "coreset-exact" and capped else []
        runs = []
        for _ in range(1 if extra else args.repeats):
            runs.append(run_child(["--child", name, *common, *extra]))
            print(f"   {pool}:{labeled} {name}: {runs[-1]}", flush=True)
        seconds = [r["select_s"] for r in runs]
        figures[name] = {"best_s": min(seconds), "median_s": statistics.median(seconds),
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": runs}
    return figures


def report(results: dict) -> None:
    print(f"\n{'size':>15} {'measurement':<14} {'best s':>8} {'median s':>9} "
          f"{'input s':>8} {'peak MB':>8}  note")
    for size, figures in results.items():
        for name, fig in figures.items():
            first = fig["runs"][0]
            note = ""
            if first.get("extrapolated"):
                note = (f"exact distances only: {first['capped_rows']} rows in "
                        f"{first['capped_s']:.1f} s, scaled to the pool")
            elif "radius" in first:
                note = f"covering radius {first['radius']:.3f} (exact, after the selection)"
            print(f"{size:>15} {name:<14} {fig['best_s']:>8.1f} {fig['median_s']:>9.1f} "
                  f"{first['input_s']:>8.1f} {fig['peak_rss_mb']:>8.0f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100000:5000", "1000000:50000"],
                        help="POOL:LABELED pairs")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", nargs="+", default=MEASUREMENTS, choices=MEASUREMENTS)
    parser.add_argument("--exact-limit", type=float, default=3e11,
                        help="pool x labeled x dim above which coreset-exact is capped")
    parser.add_argument("--exact-cap", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/select_scale"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--pool-path", help=argparse.SUPPRESS)
    parser.add_argument("--labeled-path", help=argparse.SUPPRESS)
    parser.add_argument("--exact-capped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    results = {}
    for size in args.sizes:
        pool, labeled = (int(x) for x in size.split(":"))
        results[size] = measure(args, pool, labeled)
    report(results)
    big = results.get("1000000:50000", {})
    for name in ("coreset", "badge", "kmeans"):
        if name in big:
            fig = big[name]
            verdict = ("met" if fig["median_s"] <= TARGET_S and fig["peak_rss_mb"] <= TARGET_MB
                       else "NOT met")
            print(f"target at 1M ({name}): <= {TARGET_S:.0f} s and <= {TARGET_MB:.0f} MB: "
                  f"{verdict} (median {fig['median_s']:.1f} s, {fig['peak_rss_mb']:.0f} MB)")
    out = args.out or args.work / "results.json"
    out.write_text(json.dumps({"cpus": os.cpu_count(), "dim": args.dim, "n": args.n,
                               "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
