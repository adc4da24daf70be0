"""The controller's side of a round's jobs: building payloads, sharding, merging.

Whatever the executor, the same payloads run the same job functions, so a round through
RQ workers selects exactly the batch it selects inline (same seed, same shards).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from activelearn.config import Config
from activelearn.data.cache import missing
from activelearn.data.sources import project_cache
from activelearn.data.sources.base import Pool
from activelearn.files import write_atomically
from activelearn.jobs.executor import Executor
from activelearn.learn.embedding import pool_keys, project_embedder
from activelearn.state import Store
from activelearn.strategies import get_strategy


def build_cache(executor: Executor, cfg: Config, store: Store, progress: bool) -> int:
    """Decode the catalogued files the decoded cache lacks (data.cache: memmap) as
    `cache` jobs of jobs.shard_size files, and record what they wrote (and the files that
    failed, as unusable). Returns the images written."""
    rows = list(store.catalogue.rows())
    todo = [r.item_id for r in missing(project_cache(cfg), store.catalogue, rows)]
    shard = cfg.jobs.shard_size
    payloads = [{**base_payload(cfg), "item_ids": todo[start:start + shard]}
                for start in range(0, len(todo), shard)]
    written = 0
    for result in executor.run("cache", payloads, total=len(todo), desc="cache",
                               progress=progress):
        store.catalogue.set_cached(result["written"])
        store.catalogue.mark_unusable(result["failed"])
        written += len(result["written"])
    return written


def embed(executor: Executor, cfg: Config, pool: Pool, progress: bool) -> int:
    """Compute the backbone's embeddings the embedding cache lacks (model.weights set) as
    `embed` jobs of jobs.shard_size items; returns how many. Each job writes its rows
    chunk by chunk, so a rerun after a crash embeds only what is still missing."""
    embedder = project_embedder(cfg, pool)
    rows, tags = pool_keys(pool)
    todo = embedder.cache.missing(rows, tags)
    if not len(todo):
        return 0
    embedder.cache.reserve(int(rows.max()) + 1)
    folder = cfg.work_dir / "embed"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"todo-{embedder.cache.key}.npy"
    write_atomically(path, lambda tmp: np.save(tmp, todo.astype(np.int64)))
    shard = cfg.jobs.shard_size
    payloads = [{**base_payload(cfg), "positions": str(path), "start": start,
                 "stop": min(start + shard, len(todo))} for start in range(0, len(todo), shard)]
    executor.run("embed", payloads, total=len(todo), desc="embed", progress=progress)
    return len(todo)


def base_payload(cfg: Config) -> dict[str, Any]:
    """What every job needs to find the project: the config file, and the directory its
    relative paths (data.root, project.work_dir) are relative to."""
    return {"config": str(Path(cfg.path).resolve()), "cwd": os.getcwd()}


def train(executor: Executor, cfg: Config, round_: int, version: str,
          progress: bool) -> dict[str, Any]:
    """Train and evaluate one model version; returns the train job's result."""
    payload = {**base_payload(cfg), "round": round_, "version": version}
    return executor.run("train", [payload], desc="train", progress=progress)[0]


def out_of_fold(executor: Executor, cfg: Config, round_: int, version: str, folds: int,
                progress: bool) -> list[str]:
    """Out-of-fold predictions of the labelled train items, one job per fold (on the
    training queue); returns the fold files (.npz: item_ids, labels, probs). A fold file
    already written is reused, so a rerun after a crash trains only the missing folds."""
    folder = cfg.work_dir / "review" / version
    payloads = [{**base_payload(cfg), "round": round_, "version": version, "fold": k,
                 "folds": folds, "out": str(folder / f"fold-{k}-of-{folds}.npz")}
                for k in range(folds)]
    results = executor.run("oof", payloads, total=folds, desc="out-of-fold", progress=progress)
    return [r["out"] for r in results]


def score_and_select(executor: Executor, cfg: Config, version: str, candidates: np.ndarray,
                     labeled: np.ndarray, n: int, seed: int, progress: bool) -> dict[str, Any]:
    """Score the candidate pool positions in shards of jobs.shard_size, then select n.

    candidates, labeled: [items] pool positions. Shards are files named by a digest of
    what they score, so a rerun after a crash reuses the shards already written.
    Returns the select job's result (positions best first, scores, suggestions).
    """
    strategy = get_strategy(cfg.strategy.name)
    mc = cfg.strategy.mc_passes if strategy.needs_mc_dropout else 0
    folder = cfg.work_dir / "scores" / version
    base = {**base_payload(cfg), "version": version, "seed": seed}
    shards = _shards(folder, candidates, cfg.jobs.shard_size,
                     {**base, "embeddings": strategy.needs_embeddings, "mc_passes": mc})
    labeled_shards = []
    if strategy.needs_labeled_embeddings:
        labeled_shards = _shards(folder, labeled, cfg.jobs.shard_size,
                                 {**base, "embeddings": True, "mc_passes": 0})
    jobs = shards + labeled_shards
    executor.run("score", jobs, total=len(candidates) + len(labeled_shards and labeled),
                 desc="score", progress=progress)
    payload = {**base_payload(cfg), "strategy": strategy.name, "n": n, "seed": seed,
               "candidates": shards[0]["positions"] if shards else "",
               "shards": [s["out"] for s in shards],
               "labeled_shards": [s["out"] for s in labeled_shards]}
    return executor.run("select", [payload], desc="select", progress=progress)[0]


def _shards(folder: Path, positions: np.ndarray, size: int, base: dict[str, Any]
            ) -> list[dict[str, Any]]:
    """Score payloads over positions (saved once as .npy) in ranges of `size`."""
    digest = hashlib.sha1(positions.astype(np.int64).tobytes())
    digest.update(f"{base['embeddings']}/{base['mc_passes']}/{base['seed']}".encode())
    key = digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"positions-{key}.npy"
    if not path.exists():
        write_atomically(path, lambda tmp: np.save(tmp, positions.astype(np.int64)))
    return [{**base, "positions": str(path), "start": start,
             "stop": min(start + size, len(positions)),
             "out": str(folder / f"shard-{key}-{start}.npz")}
            for start in range(0, len(positions), size)]
