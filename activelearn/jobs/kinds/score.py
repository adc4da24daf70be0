"""The score job: one shard of pool positions through a model version.

Controller side: `shards` publishes the positions and builds the shards' payloads
(select.score_and_select runs them, then the select job). Worker side: `run` publishes
the shard's probabilities (and embeddings, MC-dropout passes when the strategy needs
them). On the gpu queue, jobs.score_timeout, retried jobs.retries times.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from activelearn.jobs.inputs import load, open_job, predictor_for
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import publish_array
from activelearn.jobs.resident import WorkerCache

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles

SCORE_CHUNK = 4096  # items per progress report while scoring


# -- controller side --------------------------------------------------------------------
def shards(project: ProjectHandles, version: str, positions: np.ndarray, size: int,
           base: dict[str, Any]) -> list[dict[str, Any]]:
    """Score payloads over positions ([items] pool positions, published once as .npy),
    each at most `size` of them. base: the payload they share (base_payload, version,
    seed, embeddings, mc_passes). Shards are artifacts named by a digest of what they
    score, so a rerun after a crash reuses the shards already published.

    Sorted positions are cut where they cross a multiple of `size`, so a shard scores
    the same part of the pool round after round (fewer items as they get labelled), and
    its `affinity` (the part's number) sends it to the worker that scored that part
    last round, whose decoded cache holds its images (jobs/affinity.py)."""
    digest = hashlib.sha1(positions.astype(np.int64).tobytes())
    digest.update(f"{base['embeddings']}/{base['mc_passes']}/{base['seed']}".encode())
    key = digest.hexdigest()[:16]
    name = publish_array(project, f"scores/{version}", positions)
    return [{**base, "positions": name, "start": start, "stop": stop, "affinity": part,
             "out": f"scores/{version}/shard-{key}-{start}.npz"}
            for start, stop, part in _cuts(positions, size)]


def _cuts(positions: np.ndarray, size: int) -> list[tuple[int, int, int | None]]:
    """(start, stop, part) index ranges of at most size positions: sorted positions cut
    at the multiples of size (part: the multiple), others every size items (no part)."""
    count = len(positions)
    if count == 0:
        return []
    if np.any(np.diff(positions) < 0):
        return [(lo, min(lo + size, count), None) for lo in range(0, count, size)]
    parts = np.asarray(positions, dtype=np.int64) // size
    edges = np.flatnonzero(np.diff(parts)) + 1
    bounds = [0, *edges.tolist(), count]
    return [(lo, hi, int(parts[lo])) for lo, hi in zip(bounds, bounds[1:])]


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, version, positions (an .npy artifact of
    pool positions), start, stop, embeddings, mc_passes, seed, out. Scores
    positions[start:stop] with the model and publishes probs [items, classes] (and
    embeddings [items, dim], mc_probs [items, classes, passes] when asked) as `out`
    (.npz). A shard already published is not scored again."""
    job = open_job(payload)
    out = str(payload["out"])
    start, stop = int(payload["start"]), int(payload["stop"])
    if job.store.exists(out):
        progress(stop - start)
        return {"out": out, "items": stop - start, "cached": True}
    pool = load(job, payload, cache)
    positions = np.load(job.store.fetch(payload["positions"]))[start:stop]
    predictor = predictor_for(job, pool, payload["version"], cache)
    # MC dropout draws from torch's generator: seeded per shard, so a shard gives the same
    # numbers wherever and however often it runs
    torch.manual_seed(int(payload["seed"]) + start)
    parts = []
    for lo in range(0, len(positions), SCORE_CHUNK):
        chunk = torch.from_numpy(positions[lo:lo + SCORE_CHUNK])
        parts.append(predictor(pool.images[chunk], embeddings=bool(payload["embeddings"]),
                               mc_passes=int(payload["mc_passes"])))
        progress(min(lo + SCORE_CHUNK, len(positions)))
    arrays = {"probs": np.concatenate([p.probs for p in parts])}
    if payload["embeddings"]:
        arrays["embeddings"] = np.concatenate([p.embeddings for p in parts])
    if payload["mc_passes"]:
        arrays["mc_probs"] = np.concatenate([p.mc_probs for p in parts])
    job.store.publish(out, lambda tmp: np.savez(tmp, **arrays))
    return {"out": out, "items": len(positions), "cached": False}


KIND = JobKind("score", queue="gpu", timeout="score_timeout", run=run,
               describe=lambda payload: f"score {payload['version']} items "
                                        f"{payload['start']}-{payload['stop']}")
