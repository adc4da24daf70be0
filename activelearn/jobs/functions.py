"""The job functions: train, out-of-fold (the label-error review's fold models), score one
shard, select, decode a shard of the pool into the decoded cache, embed a shard of the
pool into the embedding cache. Plain functions of a
JSON payload, registered by kind (register_job); they parse the payload, call learn/ and
strategies/, and write their artifacts.

They run the same way inline in the controller or in an RQ worker (see executor.py), read
what they need from the payload and the project's artifact store (the config as content,
the labelled and catalogue snapshots, checkpoints, position files; see inputs.py) and
publish what they make there, atomically: a killed job leaves nothing half-written that
another would read. They never open the controller's state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from activelearn.config.registry import Registry
from activelearn.data.cache import write_rows
from activelearn.data.snapshot import CatalogueSnapshot
from activelearn.data.sources import project_cache
from activelearn.data.sources.base import Pool
from activelearn.errors import JobError
from activelearn.jobs.inputs import device_for, load, open_job, predictor_for, training_inputs
from activelearn.kinds import UNKNOWN_LABEL, Split
from activelearn.learn.backbones import provenance
from activelearn.learn.checkpoints import checkpoint_name, metrics_name, save_checkpoint
from activelearn.learn.embedding import pool_keys, project_embedder
from activelearn.learn.inference import Predictor
from activelearn.quality.label_errors import assign_folds
from activelearn.strategies import SelectionInput, get_strategy, select_batch

Progress = Callable[[int], None]  # items (or steps) done so far in this job
JobFunction = Callable[[dict[str, Any], Progress], dict[str, Any]]
SCORE_CHUNK = 4096  # items per progress report while scoring


# -- train ------------------------------------------------------------------------------
def train(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, artifacts, snapshot (the labels), round, version. Trains on the
    snapshot's train labels, publishes the checkpoint and evaluates on the holdout (and
    the source's test labels when known). Returns (and publishes next to the checkpoint)
    the metrics as JSON. Both are published put-if-absent: two processes never both
    write one model version."""
    job, inp = training_inputs(payload)
    cfg, pool, position = inp.cfg, inp.pool, inp.position
    fitted = inp.fit(np.ones(len(inp.ids), dtype=bool), cfg.project.seed + int(payload["round"]))
    result, predictor = fitted.result, fitted.predictor
    progress(len(inp.ids))
    version = payload["version"]
    test = {i: int(pool.labels[position[i]]) for i, s in inp.splits.items()
            if s == Split.TEST.value and i in position
            and pool.labels[position[i]] != UNKNOWN_LABEL}
    metrics = {name: _evaluate(predictor, pool, position, found)
               for name, found in (("holdout", inp.holdout), ("test", test)) if found}
    out = {"version": version, "labels": len(inp.ids), "seconds": round(result.seconds, 3),
           "epochs": result.epochs, "steps": result.steps, "loss": result.final_loss,
           "device": str(predictor.device), "metrics": metrics}
    # the weights as the project names them (a worker elsewhere reads a fetched copy)
    made_by = {**provenance(cfg.model), "weights": payload["config"]["model"]["weights"]}
    out.update(made_by)
    meta = {"model_version": version, "round": payload["round"], "labels": len(inp.ids),
            **made_by, "input_size": list(pool.images.shape[2:])}
    try:
        job.store.publish(checkpoint_name(version), lambda tmp: save_checkpoint(
            tmp, fitted.model, inp.norm, meta), exclusive=True)
        job.store.publish_bytes(metrics_name(version), json.dumps(out).encode(),
                                exclusive=True)
    except FileExistsError as exc:
        raise JobError(f"{exc.filename}: model {version} was written by another process "
                       "meanwhile (two cycles at once?); this run stops, the next one "
                       "uses that model") from None
    return out


# -- out-of-fold predictions (label-error review) -------------------------------------------
def out_of_fold(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, artifacts, snapshot, round, version, fold, folds, out. Trains a
    model with the train job's recipe on the labelled train items outside `fold` (see
    label_errors.assign_folds) and publishes their labels and its probs [items, classes]
    for the items inside it as `out` (.npz with item_ids, labels, probs). A fold already
    published is not trained again."""
    job = open_job(payload)
    out = str(payload["out"])
    if job.store.exists(out):
        progress(1)
        return {"out": out, "cached": True}
    job, inp = training_inputs(payload)
    round_ = int(payload["round"])
    folds = assign_folds(inp.ids, int(payload["folds"]), inp.cfg.project.seed + round_)
    inside = folds == int(payload["fold"])
    predictor = inp.fit(~inside, inp.cfg.project.seed + round_ * 100
                        + int(payload["fold"]) + 1).predictor
    judged = torch.tensor([inp.position[i] for i, k in zip(inp.ids, inside) if k],
                          dtype=torch.long)
    probs = predictor(inp.pool.images[judged]).probs
    job.store.publish(out, lambda tmp: np.savez(
        tmp, item_ids=np.array([i for i, k in zip(inp.ids, inside) if k], dtype=str),
        labels=inp.labels[inside], probs=probs))
    progress(1)
    return {"out": out, "cached": False, "items": int(inside.sum())}


def _evaluate(predictor: Predictor, pool: Pool, position: dict[str, int],
              labels: dict[str, int]) -> dict[str, Any]:
    ids = sorted(labels)
    idx = torch.tensor([position[i] for i in ids], dtype=torch.long)
    metrics = predictor.evaluate(pool.images[idx], np.array([labels[i] for i in ids]))
    return {**metrics.to_dict(), "items": len(ids)}


# -- score ------------------------------------------------------------------------------
def score(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
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
    job, pool = load(payload)
    positions = np.load(job.store.fetch(payload["positions"]))[start:stop]
    predictor = predictor_for(job, pool, payload["version"])
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


# -- select -----------------------------------------------------------------------------
def select(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, artifacts, strategy, n, seed, candidates (.npy artifact of pool
    positions), shards (score outputs in candidate order), labeled_shards (embeddings of
    the labeled items, for strategies that need them), class_seconds (strategy.cost_weighted:
    [classes] expected seconds per class, or null for no weighting). Returns the chosen
    pool positions best first, with the strategy's scores (per expected second when
    weighted), the model's suggested class and confidence, and cost_weighted."""
    job = open_job(payload)
    store = job.store
    candidates = np.load(store.fetch(payload["candidates"]))
    inp = _merge([np.load(store.fetch(n)) for n in payload["shards"]],
                 [np.load(store.fetch(n)) for n in payload.get("labeled_shards") or []])
    seconds = payload.get("class_seconds")
    chosen, sel = select_batch(get_strategy(payload["strategy"]), inp, candidates,
                               int(payload["n"]), int(payload["seed"]),
                               job.cfg.strategy.class_balance, seconds)
    probs = inp.probs[sel.positions]
    progress(len(sel.positions))
    return {"positions": chosen.tolist(), "scores": sel.scores.tolist(),
            "labels": probs.argmax(axis=1).tolist(), "confidence": probs.max(axis=1).tolist(),
            "cost_weighted": seconds is not None}


def joined(name: str, files: list) -> np.ndarray | None:
    """The array `name` of loaded .npz files, concatenated (None when they lack it)."""
    return np.concatenate([f[name] for f in files]) if files and name in files[0] else None


def _merge(loaded: list, labeled: list) -> SelectionInput:
    probs = joined("probs", loaded)
    assert probs is not None  # every score shard has probs
    return SelectionInput(probs, joined("embeddings", loaded), joined("mc_probs", loaded),
                          joined("embeddings", labeled))


# -- cache ------------------------------------------------------------------------------
def cache(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, item_ids. Decodes those catalogued files
    into their rows of the project's decoded cache (data.cache: memmap; the controller
    sized the file, on a disk this job shares). The files are the catalogue snapshot's
    (never paths from the payload). Returns the ids written and, per id, why a file
    failed; the controller records both."""
    job = open_job(payload)
    if not job.shared:
        raise JobError("refused: a cache job writes the controller's decoded cache, which "
                       "this worker does not share (a remote artifact store)")
    snapshot = CatalogueSnapshot.parse(job.read(payload["catalogue"]), shared_cache=True)
    rows = snapshot.rows_of([str(i) for i in payload["item_ids"]])
    written, failed = write_rows(project_cache(job.cfg), rows, workers=0,
                                 done=lambda ok, bad: progress(len(ok) + len(bad)))
    return {"written": written, "failed": failed}


# -- embed ------------------------------------------------------------------------------
def embed(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, positions (an .npy artifact of pool
    positions), start, stop. Writes the backbone's embeddings of positions[start:stop]
    into the project's embedding cache, skipping those already there. That cache is
    the controller's on a shared disk; elsewhere it is this worker's own, and the
    embeddings are also published as `out` (.npz: rows, tags, vectors) for the
    controller to copy into its cache."""
    job, pool = load(payload, features=False)
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


_JOBS: Registry[JobFunction] = Registry("job")


def register_job(name: str, function: JobFunction) -> JobFunction:
    """Make function runnable as a job of this kind (inline or by RQ workers)."""
    return _JOBS.register(name, function)


def get_job(name: str) -> JobFunction:
    """The job function of a kind; an unknown kind lists the registered ones."""
    return _JOBS.get(name)


def available_jobs() -> list[str]:
    """The registered job kinds, sorted."""
    return _JOBS.available()


for _kind, _function in (("train", train), ("score", score), ("select", select),
                         ("oof", out_of_fold), ("cache", cache), ("embed", embed)):
    register_job(_kind, _function)
