"""The job functions: train, score one shard, select. Plain functions of a JSON payload.

They run the same way inline in the controller or in an RQ worker (see executor.py), read
what they need from the project's work directory (config file, state, checkpoints,
position files) and write their artifacts there. A resident worker keeps the pool and the
latest model loaded between jobs (see the caches below).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from activelearn import loop
from activelearn.config import Config, load_config
from activelearn.errors import DataError
from activelearn.inference import Normalizer, Predictor
from activelearn.label_errors import assign_folds
from activelearn.models import build_model
from activelearn.sources import load_source
from activelearn.sources.base import UNKNOWN_LABEL, Pool
from activelearn.state import Split, Store
from activelearn.strategies import SelectionInput, get_strategy
from activelearn.training import load_checkpoint, resolve_device, save_checkpoint, train_model

Progress = Callable[[int], None]  # items (or steps) done so far in this job
SCORE_CHUNK = 4096  # items per progress report while scoring

DEVICE_ENV = "ACTIVELEARN_DEVICE"  # a worker's --device: overrides training.device

_pools: dict[tuple, Pool] = {}
_predictors: dict[tuple, Predictor] = {}


def load(payload: dict[str, Any]) -> tuple[Config, Pool]:
    """The project's config and pool; the pool stays cached for the next job.

    Relative paths in the config are relative to the controller's directory (payload
    cwd): a worker works there (one job at a time, so changing directory is safe)."""
    cwd = payload.get("cwd")
    if cwd and os.path.abspath(cwd) != os.getcwd():
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise DataError(f"the project's directory {cwd} is not here ({exc.strerror}): "
                            "run workers where the controller's paths resolve, or use "
                            "absolute paths in the config") from None
    cfg = load_config(payload["config"])
    key = (repr(cfg.data), tuple(cfg.classes))
    if key not in _pools:
        _pools.clear()  # one project per worker process at a time: keep memory flat
        _pools[key] = load_source(cfg.data, cfg.classes)
    return cfg, _pools[key]


def device_for(cfg: Config) -> torch.device:
    return resolve_device(os.environ.get(DEVICE_ENV) or cfg.training.device)


def checkpoint_path(cfg: Config, version: str) -> Path:
    return cfg.work_dir / "models" / f"{version}.pt"


def predictor_for(cfg: Config, pool: Pool, version: str) -> Predictor:
    """The model of a version, ready for inference; cached while the file is unchanged."""
    path = checkpoint_path(cfg, version)
    key = (str(path), path.stat().st_mtime_ns, str(device_for(cfg)))
    if key not in _predictors:
        _predictors.clear()
        model = build_model(cfg.model.name, loop.input_spec(pool), cfg.model.dropout)
        norm, _ = load_checkpoint(path, model)
        _predictors[key] = Predictor(model, norm, device_for(cfg), cfg.strategy.score_batch_size)
    return _predictors[key]


def _training_inputs(payload: dict[str, Any]):
    """What the train and out-of-fold jobs share: config, pool, item positions, the train
    and holdout labels and splits from state, and the normaliser fitted on the train and
    holdout images (never the test images)."""
    cfg, pool = load(payload)
    if cfg.training.threads > 0 and not os.environ.get(DEVICE_ENV):
        torch.set_num_threads(cfg.training.threads)
    position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
    store = Store(cfg.work_dir / "state.sqlite")
    try:
        labels = store.labels(Split.TRAIN.value)
        holdout = store.labels(Split.HOLDOUT.value)
        splits = store.splits()
    finally:
        store.close()
    fit_on = [position[i] for i, s in splits.items()
              if s in (Split.TRAIN.value, Split.HOLDOUT.value) and i in position]
    norm = Normalizer.fit(pool.images[torch.tensor(fit_on, dtype=torch.long)])
    return cfg, pool, position, labels, holdout, splits, norm


# -- train ------------------------------------------------------------------------------
def train(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, round, version. Trains on the train labels in state, saves the
    checkpoint and evaluates on the holdout (and the source's test labels when known).
    Returns (and writes next to the checkpoint) the metrics as JSON."""
    cfg, pool, position, labels, holdout, splits, norm = _training_inputs(payload)
    ids = sorted(i for i in labels if i in position)
    positions = torch.tensor([position[i] for i in ids], dtype=torch.long)
    seed = cfg.project.seed + int(payload["round"])
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, loop.input_spec(pool), cfg.model.dropout)
    device = device_for(cfg)
    result = train_model(model, pool.images[positions], np.array([labels[i] for i in ids]),
                         cfg.training, norm, seed, device, progress=False)
    progress(len(ids))
    version = payload["version"]
    path = checkpoint_path(cfg, version)
    save_checkpoint(path, model, norm, {"model_version": version, "round": payload["round"],
                                        "labels": len(ids), "model": cfg.model.name})
    test = {i: int(pool.labels[position[i]]) for i, s in splits.items()
            if s == Split.TEST.value and i in position
            and pool.labels[position[i]] != UNKNOWN_LABEL}
    predictor = Predictor(model, norm, device, cfg.strategy.score_batch_size)
    metrics = {name: _evaluate(predictor, pool, position, found)
               for name, found in (("holdout", holdout), ("test", test)) if found}
    out = {"version": version, "labels": len(ids), "seconds": round(result.seconds, 3),
           "epochs": result.epochs, "loss": result.final_loss, "device": str(device),
           "metrics": metrics}
    _write_json(path.with_suffix(".json"), out)
    return out


# -- out-of-fold predictions (label-error review) -------------------------------------------
def out_of_fold(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, round, version, fold, folds, out. Trains a model with the train
    job's recipe on the labelled train items outside `fold` (see
    label_errors.assign_folds) and writes their labels and its probs [items, classes]
    for the items inside it to `out` (.npz with item_ids, labels, probs). A fold already
    written is not trained again."""
    out = Path(payload["out"])
    if out.exists():
        progress(1)
        return {"out": str(out), "cached": True}
    cfg, pool, position, labels, _, splits, norm = _training_inputs(payload)
    ids = sorted(i for i in labels if i in position)
    folds = assign_folds(ids, int(payload["folds"]), cfg.project.seed + int(payload["round"]))
    inside = folds == int(payload["fold"])
    seed = cfg.project.seed + int(payload["round"]) * 100 + int(payload["fold"]) + 1
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, loop.input_spec(pool), cfg.model.dropout)
    device = device_for(cfg)
    given = np.array([labels[i] for i in ids], dtype=np.int64)
    train_on = torch.tensor([position[i] for i, k in zip(ids, inside) if not k],
                            dtype=torch.long)
    train_model(model, pool.images[train_on], given[~inside], cfg.training, norm, seed,
                device, progress=False)
    judged = torch.tensor([position[i] for i, k in zip(ids, inside) if k], dtype=torch.long)
    probs = Predictor(model, norm, device, cfg.strategy.score_batch_size)(
        pool.images[judged]).probs
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, item_ids=np.array([i for i, k in zip(ids, inside) if k], dtype=str),
             labels=given[inside], probs=probs)
    tmp.replace(out)  # a fold file is complete or absent
    progress(1)
    return {"out": str(out), "cached": False, "items": int(inside.sum())}


def _evaluate(predictor: Predictor, pool: Pool, position: dict[str, int],
              labels: dict[str, int]) -> dict[str, Any]:
    ids = sorted(labels)
    idx = torch.tensor([position[i] for i in ids], dtype=torch.long)
    metrics = predictor.evaluate(pool.images[idx], np.array([labels[i] for i in ids]))
    return {**metrics.to_dict(), "items": len(ids)}


# -- score ------------------------------------------------------------------------------
def score(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, version, positions (an .npy of pool positions), start, stop,
    embeddings, mc_passes, seed, out. Scores positions[start:stop] with the model and
    writes probs [items, classes] (and embeddings [items, dim], mc_probs [items, classes,
    passes] when asked) to `out` (.npz). A shard already written is not scored again."""
    out = Path(payload["out"])
    start, stop = int(payload["start"]), int(payload["stop"])
    if out.exists():
        progress(stop - start)
        return {"out": str(out), "items": stop - start, "cached": True}
    cfg, pool = load(payload)
    positions = np.load(payload["positions"])[start:stop]
    predictor = predictor_for(cfg, pool, payload["version"])
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)  # a shard file is complete or absent
    return {"out": str(out), "items": len(positions), "cached": False}


# -- select -----------------------------------------------------------------------------
def select(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, strategy, n, seed, candidates (.npy of pool positions), shards
    (score outputs in candidate order), labeled_shards (embeddings of the labeled items,
    for strategies that need them). Returns the chosen pool positions best first, with
    the strategy's scores and the model's suggested class and confidence."""
    candidates = np.load(payload["candidates"])
    inp = _merge(payload["shards"], payload.get("labeled_shards") or [])
    strategy = get_strategy(payload["strategy"])
    sel = strategy.select(inp, int(payload["n"]), int(payload["seed"]))
    probs = inp.probs[sel.positions]
    progress(len(sel.positions))
    return {"positions": candidates[sel.positions].tolist(), "scores": sel.scores.tolist(),
            "labels": probs.argmax(axis=1).tolist(), "confidence": probs.max(axis=1).tolist()}


def _merge(shards: list[str], labeled_shards: list[str]) -> SelectionInput:
    loaded = [np.load(path) for path in shards]

    def joined(name: str, files: list) -> np.ndarray | None:
        return np.concatenate([f[name] for f in files]) if files and name in files[0] else None

    probs = joined("probs", loaded)
    assert probs is not None  # every score shard has probs
    labeled = [np.load(path) for path in labeled_shards]
    return SelectionInput(probs, joined("embeddings", loaded), joined("mc_probs", loaded),
                          joined("embeddings", labeled))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


JOBS: dict[str, Callable[[dict[str, Any], Progress], dict[str, Any]]] = {
    "train": train, "score": score, "select": select, "oof": out_of_fold}
