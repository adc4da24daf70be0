"""The embed job: the backbone's embeddings (model.weights) of a shard of the pool, into
the embedding cache.

Controller side: `embed(project, store, pool, ...)` shards what the cache lacks, copies in
what workers elsewhere published, and for head mode on a remote store publishes the
pool's embeddings in shards (FEATURES_KEY). Worker side: `run` embeds its shard. On the gpu
queue, jobs.score_timeout, retried jobs.retries times.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from activelearn.data.sources.base import Pool
from activelearn.jobs.inputs import device_for, load, open_job
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import FEATURES_KEY, base_payload, publish_array
from activelearn.jobs.resident import WorkerCache
from activelearn.learn.embedding import Embedder, pool_keys, project_embedder, publish_features

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store


# -- controller side --------------------------------------------------------------------
def embed(project: ProjectHandles, store: Store, pool: Pool, progress: bool) -> int:
    """Compute the backbone's embeddings the embedding cache lacks as `embed` jobs of
    jobs.shard_size items; returns how many. Each job writes its rows chunk by chunk, so
    a rerun after a crash embeds only what is still missing. Workers without this disk
    (a remote artifact store) publish theirs, copied here; head-mode jobs then read the
    pool's embeddings from their published shards (FEATURES_KEY: the manifest)."""
    cfg = project.cfg
    embedder = project_embedder(cfg, pool)
    rows, tags = pool_keys(pool)
    todo = embedder.cache.missing(rows, tags)
    if len(todo):
        embedder.cache.reserve(int(rows.max()) + 1)
        base = base_payload(project, store)
        name = publish_array(project, "embed", todo)
        shard = cfg.jobs.shard_size
        payloads = [{**base, "positions": name, "start": start,
                     "stop": min(start + shard, len(todo))}
                    for start in range(0, len(todo), shard)]
        for result in project.executor.run(KIND, payloads, total=len(todo), desc="embed",
                                           progress=progress):
            if "out" in result:  # embedded on a worker elsewhere: copied into this cache
                with np.load(project.artifacts.fetch(result["out"])) as part:
                    embedder.cache.write(part["rows"], part["vectors"], part["tags"])
    if cfg.jobs.remote_artifacts and cfg.model.train == "head":
        _publish_features(project, store, embedder, rows, tags)
    return len(todo)


def _publish_features(project: ProjectHandles, store: Store, embedder: Embedder, rows: np.ndarray,
                      tags: np.ndarray) -> None:
    """Publish the pool's embeddings in shards by embedding-cache row (publish_features:
    patches on the last publication, whose manifest state records) and record the new
    manifest's name in state."""
    previous = store.meta.get(FEATURES_KEY)
    name = publish_features(project.artifacts, embedder.cache, rows, tags, previous).name
    if name != previous:
        store.meta.set(FEATURES_KEY, name)


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, positions (an .npy artifact of pool
    positions), start, stop. Writes the backbone's embeddings of positions[start:stop]
    into the project's embedding cache, skipping those already there. That cache is
    the controller's on a shared disk; elsewhere it is this worker's own, and the
    embeddings are also published as `out` (.npz: rows, tags, vectors) for the
    controller to copy into its cache."""
    job = open_job(payload)
    pool = load(job, payload, cache, features=False)
    cfg = job.cfg
    start, stop = int(payload["start"]), int(payload["stop"])
    positions = np.load(job.store.fetch(payload["positions"]))[start:stop]
    embedder = project_embedder(cfg, pool)
    rows, tags = (keys[positions] for keys in pool_keys(pool))
    done = embedder.embed_missing(pool.images[torch.from_numpy(positions)], rows, tags,
                                  device_for(cfg), cfg.strategy.score_batch_size)
    progress(len(positions))
    result: dict[str, Any] = {"items": len(positions), "embedded": done}
    if not job.shared:
        todo = Path(payload["positions"]).stem
        result["out"] = f"embeddings/{embedder.cache.key}/{todo}-{start}.npz"
        job.store.publish(result["out"], lambda tmp: np.savez(
            tmp, rows=rows, tags=tags, vectors=embedder.cache.read(rows)))
    return result


KIND = JobKind("embed", queue="gpu", timeout="score_timeout", run=run,
               describe=lambda payload: f"embed items {payload['start']}-{payload['stop']}")
