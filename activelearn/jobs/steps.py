"""The controller's side of a round's jobs: building payloads, publishing what they work
from (the labelled and catalogue snapshots, position lists), sharding, merging.

Whatever the executor, the same payloads run the same job functions, so a round through
RQ workers selects exactly the batch it selects inline (same seed, same shards).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from activelearn.config import Config, config_content
from activelearn.data.artifacts import project_artifacts
from activelearn.data.cache import missing
from activelearn.data.snapshot import catalogue_snapshot
from activelearn.data.sources import project_cache
from activelearn.data.sources.base import Pool
from activelearn.jobs.executor import Executor
from activelearn.jobs.inputs import labels_snapshot
from activelearn.kinds import Split
from activelearn.learn.backbones import file_sha256
from activelearn.learn.embedding import Embedder, pool_keys, project_embedder
from activelearn.quality.throughput import median_seconds_by_class
from activelearn.state import Store
from activelearn.strategies import get_strategy

T = TypeVar("T")
log = logging.getLogger(__name__)


def build_cache(executor: Executor, cfg: Config, state: Store, progress: bool) -> int:
    """Decode the catalogued files the decoded cache lacks (data.cache: memmap) as
    `cache` jobs of jobs.shard_size files, and record what they wrote (and the files that
    failed, as unusable). Returns the images written."""
    rows = list(state.catalogue.rows())
    todo = [r.item_id for r in missing(project_cache(cfg), state.catalogue, rows)]
    shard = cfg.jobs.shard_size
    base = base_payload(cfg, state)
    payloads = [{**base, "item_ids": todo[start:start + shard]}
                for start in range(0, len(todo), shard)]
    written = 0
    for result in executor.run("cache", payloads, total=len(todo), desc="cache",
                               progress=progress):
        state.catalogue.set_cached(result["written"])
        state.catalogue.mark_unusable(result["failed"])
        written += len(result["written"])
    return written


def embed(executor: Executor, cfg: Config, pool: Pool, progress: bool,
          state: Store | None = None) -> int:
    """Compute the backbone's embeddings the embedding cache lacks (model.weights set) as
    `embed` jobs of jobs.shard_size items; returns how many. Each job writes its rows
    chunk by chunk, so a rerun after a crash embeds only what is still missing. Workers
    without this disk (a remote artifact store) publish theirs, copied here; head-mode
    jobs then read the pool's embeddings from one published artifact (FEATURES_KEY)."""
    embedder = project_embedder(cfg, pool)
    rows, tags = pool_keys(pool)
    todo = embedder.cache.missing(rows, tags)
    if len(todo):
        embedder.cache.reserve(int(rows.max()) + 1)
        base = _with_state(cfg, state, base_payload)
        name = _publish_array(cfg, "embed", todo)
        shard = cfg.jobs.shard_size
        payloads = [{**base, "positions": name, "start": start,
                     "stop": min(start + shard, len(todo))}
                    for start in range(0, len(todo), shard)]
        artifacts = project_artifacts(cfg)
        for result in executor.run("embed", payloads, total=len(todo), desc="embed",
                                   progress=progress):
            if "out" in result:  # embedded on a worker elsewhere: copied into this cache
                with np.load(artifacts.fetch(result["out"])) as part:
                    embedder.cache.write(part["rows"], part["vectors"], part["tags"])
    if cfg.jobs.remote_artifacts and cfg.model.train == "head":
        _with_state(cfg, state, lambda c, s: _publish_features(c, s, embedder, rows, tags))
    return len(todo)


FEATURES_KEY = "features_artifact"  # state meta: the pool's embeddings, published


def _publish_features(cfg: Config, state: Store, embedder: Embedder, rows: np.ndarray,
                      tags: np.ndarray) -> None:
    """Publish the pool's embeddings ([items, dim] float16 .npy, in pool order) under a
    name that digests the backbone and the items, once; record the name in state."""
    digest = hashlib.sha256(rows.astype(np.int64).tobytes() + tags.astype(np.int64).tobytes())
    name = f"features/{embedder.cache.key}-{digest.hexdigest()[:20]}.npy"
    artifacts = project_artifacts(cfg)
    if not artifacts.exists(name):
        vectors = embedder.features(rows, tags).numpy()
        artifacts.publish(name, lambda tmp: np.save(tmp, vectors))
    state.meta.set(FEATURES_KEY, name)


def base_payload(cfg: Config, state: Store | None = None) -> dict[str, Any]:
    """What every job needs: the config as content (its paths made absolute), the
    artifact store, and for a file source the catalogue snapshot (published once per
    version of the catalogue) that gives the job the controller's pool."""
    payload: dict[str, Any] = {"config": config_content(_absolute(cfg)),
                               "artifacts": project_artifacts(cfg).url}
    if state is not None and state.catalogue.count():
        payload["catalogue"] = _catalogue(cfg, state)
    if cfg.jobs.remote_artifacts:
        if cfg.model.weights and not cfg.model.hub_weights:
            payload["weights"] = _published_weights(cfg)
        if state is not None and state.meta.get(FEATURES_KEY) and cfg.model.train == "head":
            payload["features"] = state.meta.get(FEATURES_KEY)
    return payload


_weights: dict[tuple, str] = {}  # (store, file, mtime, size) -> the weights' artifact name


def _published_weights(cfg: Config) -> str:
    """Publish the model.weights file (a worker elsewhere has no such path) under its
    sha256, once; returns its name."""
    path = Path(cfg.model.weights).expanduser().resolve()
    artifacts = project_artifacts(cfg)
    info = path.stat()
    key = (artifacts.url, str(path), info.st_mtime_ns, info.st_size)
    if key not in _weights:
        name = f"weights/{file_sha256(path)}{path.suffix}"
        if not artifacts.exists(name):
            artifacts.publish(name, lambda tmp: shutil.copyfile(path, tmp))
        _weights[key] = name
    return _weights[key]


def _absolute(cfg: Config) -> Config:
    """cfg with its relative local paths (work dir, data root, a weights file) made
    absolute, as the controller resolves them: a job resolves nothing against its cwd."""
    def absolute(value: str) -> str:
        return value if not value or "://" in value or os.path.isabs(value) \
            else os.path.abspath(value)

    project = dataclasses.replace(cfg.project, work_dir=str(cfg.work_dir.resolve()))
    data = dataclasses.replace(cfg.data, root=absolute(cfg.data.root))
    weights = cfg.model.weights if cfg.model.hub_weights else absolute(cfg.model.weights)
    return dataclasses.replace(cfg, project=project, data=data,
                               model=dataclasses.replace(cfg.model, weights=weights))


_published: dict[tuple[str, int], str] = {}  # (store, catalogue generation) -> its name


def _catalogue(cfg: Config, state: Store) -> str:
    artifacts = project_artifacts(cfg)
    key = (artifacts.url, state.catalogue.generation())
    if key not in _published:
        _published[key] = artifacts.publish_content(
            "catalogues", catalogue_snapshot(state.catalogue), ".json")
    return _published[key]


def _training_payload(cfg: Config, state: Store) -> dict[str, Any]:
    """base_payload and the labels a model trains on (train and holdout labels, splits),
    published as a content-addressed snapshot."""
    data = labels_snapshot(state.labels.current(Split.TRAIN.value),
                           state.labels.current(Split.HOLDOUT.value), state.items.splits())
    return {**base_payload(cfg, state),
            "snapshot": project_artifacts(cfg).publish_content("snapshots", data, ".json")}


def _with_state(cfg: Config, state: Store | None, make: Callable[[Config, Store], T]) -> T:
    """make(cfg, state), with the project's state file opened when state is None."""
    if state is not None:
        return make(cfg, state)
    with Store.open(cfg.work_dir / "state.sqlite") as opened:
        return make(cfg, opened)


def _publish_array(cfg: Config, folder: str, positions: np.ndarray) -> str:
    """Publish pool positions (.npy) under their content-addressed name."""
    buffer = io.BytesIO()
    np.save(buffer, positions.astype(np.int64))
    return project_artifacts(cfg).publish_content(folder, buffer.getvalue(), ".npy")


def train(executor: Executor, cfg: Config, round_: int, version: str, progress: bool,
          state: Store | None = None) -> dict[str, Any]:
    """Train and evaluate one model version on the labels in state (the project's state
    file when not given); returns the train job's result."""
    payload = {**_with_state(cfg, state, _training_payload), "round": round_,
               "version": version}
    return executor.run("train", [payload], desc="train", progress=progress)[0]


def out_of_fold(executor: Executor, cfg: Config, round_: int, version: str, folds: int,
                progress: bool, state: Store | None = None) -> list[str]:
    """Out-of-fold predictions of the labelled train items, one job per fold (on the
    training queue); returns the fold artifacts (.npz: item_ids, labels, probs). A fold
    already published is reused, so a rerun after a crash trains only the missing
    folds."""
    base = {**_with_state(cfg, state, _training_payload), "round": round_,
            "version": version, "folds": folds}
    payloads = [{**base, "fold": k, "out": f"review/{version}/fold-{k}-of-{folds}.npz"}
                for k in range(folds)]
    results = executor.run("oof", payloads, total=folds, desc="out-of-fold", progress=progress)
    return [r["out"] for r in results]


def score_and_select(executor: Executor, cfg: Config, version: str, candidates: np.ndarray,
                     labeled: np.ndarray, n: int, seed: int, progress: bool,
                     state: Store | None = None) -> dict[str, Any]:
    """Score the candidate pool positions in shards of jobs.shard_size, then select n.

    candidates, labeled: [items] pool positions. Shards are artifacts named by a digest
    of what they score, so a rerun after a crash reuses the shards already published.
    Returns the select job's result (positions best first, scores, suggestions).
    """
    strategy = get_strategy(cfg.strategy.name)
    mc = cfg.strategy.mc_passes if strategy.needs_mc_dropout else 0
    base = {**_with_state(cfg, state, base_payload), "version": version, "seed": seed}
    shards = _shards(cfg, version, candidates, cfg.jobs.shard_size,
                     {**base, "embeddings": strategy.needs_embeddings, "mc_passes": mc})
    labeled_shards = []
    if strategy.needs_labeled_embeddings:
        labeled_shards = _shards(cfg, version, labeled, cfg.jobs.shard_size,
                                 {**base, "embeddings": True, "mc_passes": 0})
    jobs = shards + labeled_shards
    executor.run("score", jobs, total=len(candidates) + len(labeled_shards and labeled),
                 desc="score", progress=progress)
    payload = select_payload(cfg, n, seed, shards, labeled_shards, state)
    return executor.run("select", [payload], desc="select", progress=progress)[0]


def select_payload(cfg: Config, n: int, seed: int, shards: list[dict[str, Any]],
                   labeled_shards: list[dict[str, Any]],
                   state: Store | None = None) -> dict[str, Any]:
    """The select job's payload: the score shards (their candidates file and outputs,
    see _shards), the batch size and seed, and for strategy.cost_weighted the expected
    seconds per class from the lead times in state (class_seconds)."""
    return {**base_payload(cfg), "strategy": cfg.strategy.name, "n": n, "seed": seed,
            "candidates": shards[0]["positions"] if shards else "",
            "shards": [s["out"] for s in shards],
            "labeled_shards": [s["out"] for s in labeled_shards],
            "class_seconds": _with_state(cfg, state, class_seconds)
            if cfg.strategy.cost_weighted else None}


def class_seconds(cfg: Config, state: Store) -> list[float] | None:
    """strategy.cost_weighted: the expected seconds to label an item of each class (in
    class order), the median lead time of the annotations that gave it, the median over
    all for a class without one. None when not cost weighted, or without any lead time
    (then the select job ranks by score alone, and says so)."""
    if not cfg.strategy.cost_weighted:
        return None
    classes = len(cfg.classes)
    medians = median_seconds_by_class(state.annotations.class_lead_times(), classes)
    if medians is None:
        log.warning("strategy.cost_weighted: no annotation has a lead time yet; "
                    "ranking by %s's score alone", cfg.strategy.name)
        return None
    log.info("strategy.cost_weighted: expected seconds per class %s",
             {name: round(medians[k], 1) for k, name in enumerate(cfg.classes)})
    return [medians[k] for k in range(classes)]


def _shards(cfg: Config, version: str, positions: np.ndarray, size: int,
            base: dict[str, Any]) -> list[dict[str, Any]]:
    """Score payloads over positions (published once as .npy) in ranges of `size`."""
    digest = hashlib.sha1(positions.astype(np.int64).tobytes())
    digest.update(f"{base['embeddings']}/{base['mc_passes']}/{base['seed']}".encode())
    key = digest.hexdigest()[:16]
    name = _publish_array(cfg, f"scores/{version}", positions)
    return [{**base, "positions": name, "start": start,
             "stop": min(start + size, len(positions)),
             "out": f"scores/{version}/shard-{key}-{start}.npz"}
            for start in range(0, len(positions), size)]
