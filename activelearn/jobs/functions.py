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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from activelearn.config import Config, load_config
from activelearn.data.sources import load_source
from activelearn.data.sources.base import UNKNOWN_LABEL, Pool
from activelearn.errors import DataError
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.models import SplitModel, build_model
from activelearn.learn.training import (
    TrainResult,
    load_checkpoint,
    resolve_device,
    save_checkpoint,
    train_model,
)
from activelearn.loop import rounds as loop
from activelearn.quality.label_errors import assign_folds
from activelearn.state import Split, Store
from activelearn.strategies import SelectionInput, get_strategy

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


@dataclass
class TrainingInputs:
    """What the train and out-of-fold jobs share: the config and pool, the labelled train
    items (ids sorted, their pool positions and labels), the holdout labels and the
    splits from state, and the normaliser fitted on the train and holdout images (never
    the test images)."""

    cfg: Config
    pool: Pool
    position: dict[str, int]  # item id -> pool position
    ids: list[str]
    labels: np.ndarray  # [len(ids)] int64
    holdout: dict[str, int]
    splits: dict[str, str]
    norm: Normalizer

    def fit(self, chosen: np.ndarray, seed: int) -> tuple[SplitModel, TrainResult, Predictor]:
        """A model of the configured recipe trained on the labelled items where `chosen`
        ([len(ids)] bool) is true: (model, training result, predictor)."""
        cfg = self.cfg
        torch.manual_seed(seed)
        model = build_model(cfg.model.name, loop.input_spec(self.pool), cfg.model.dropout)
        device = device_for(cfg)
        rows = torch.tensor([self.position[i] for i, k in zip(self.ids, chosen) if k],
                            dtype=torch.long)
        result = train_model(model, self.pool.images[rows], self.labels[chosen], cfg.training,
                             self.norm, seed, device, progress=False)
        return model, result, Predictor(model, self.norm, device, cfg.strategy.score_batch_size)


def _training_inputs(payload: dict[str, Any]) -> TrainingInputs:
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
    ids = sorted(i for i in labels if i in position)
    return TrainingInputs(cfg, pool, position, ids,
                          np.array([labels[i] for i in ids], dtype=np.int64), holdout,
                          splits, norm)


# -- train ------------------------------------------------------------------------------
def train(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, round, version. Trains on the train labels in state, saves the
    checkpoint and evaluates on the holdout (and the source's test labels when known).
    Returns (and writes next to the checkpoint) the metrics as JSON."""
    inp = _training_inputs(payload)
    cfg, pool, position = inp.cfg, inp.pool, inp.position
    model, result, predictor = inp.fit(np.ones(len(inp.ids), dtype=bool),
                                       cfg.project.seed + int(payload["round"]))
    progress(len(inp.ids))
    version = payload["version"]
    path = checkpoint_path(cfg, version)
    save_checkpoint(path, model, inp.norm, {"model_version": version,
                                            "round": payload["round"],
                                            "labels": len(inp.ids), "model": cfg.model.name})
    test = {i: int(pool.labels[position[i]]) for i, s in inp.splits.items()
            if s == Split.TEST.value and i in position
            and pool.labels[position[i]] != UNKNOWN_LABEL}
    metrics = {name: _evaluate(predictor, pool, position, found)
               for name, found in (("holdout", inp.holdout), ("test", test)) if found}
    out = {"version": version, "labels": len(inp.ids), "seconds": round(result.seconds, 3),
           "epochs": result.epochs, "loss": result.final_loss,
           "device": str(predictor.device), "metrics": metrics}
    write_atomically(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(out)))
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
    inp = _training_inputs(payload)
    round_ = int(payload["round"])
    folds = assign_folds(inp.ids, int(payload["folds"]), inp.cfg.project.seed + round_)
    inside = folds == int(payload["fold"])
    _, _, predictor = inp.fit(~inside, inp.cfg.project.seed + round_ * 100
                              + int(payload["fold"]) + 1)
    judged = torch.tensor([inp.position[i] for i, k in zip(inp.ids, inside) if k],
                          dtype=torch.long)
    probs = predictor(inp.pool.images[judged]).probs
    write_atomically(out, lambda tmp: np.savez(
        tmp, item_ids=np.array([i for i, k in zip(inp.ids, inside) if k], dtype=str),
        labels=inp.labels[inside], probs=probs))
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
    write_atomically(out, lambda tmp: np.savez(tmp, **arrays))
    return {"out": str(out), "items": len(positions), "cached": False}


# -- select -----------------------------------------------------------------------------
def select(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: config, strategy, n, seed, candidates (.npy of pool positions), shards
    (score outputs in candidate order), labeled_shards (embeddings of the labeled items,
    for strategies that need them). Returns the chosen pool positions best first, with
    the strategy's scores and the model's suggested class and confidence."""
    candidates = np.load(payload["candidates"])
    inp = _merge(payload["shards"], payload.get("labeled_shards") or [])
    chosen, sel = loop.select(get_strategy(payload["strategy"]), inp, candidates,
                              int(payload["n"]), int(payload["seed"]))
    probs = inp.probs[sel.positions]
    progress(len(sel.positions))
    return {"positions": chosen.tolist(), "scores": sel.scores.tolist(),
            "labels": probs.argmax(axis=1).tolist(), "confidence": probs.max(axis=1).tolist()}


def joined(name: str, files: list) -> np.ndarray | None:
    """The array `name` of loaded .npz files, concatenated (None when they lack it)."""
    return np.concatenate([f[name] for f in files]) if files and name in files[0] else None


def _merge(shards: list[str], labeled_shards: list[str]) -> SelectionInput:
    loaded = [np.load(path) for path in shards]
    probs = joined("probs", loaded)
    assert probs is not None  # every score shard has probs
    labeled = [np.load(path) for path in labeled_shards]
    return SelectionInput(probs, joined("embeddings", loaded), joined("mc_probs", loaded),
                          joined("embeddings", labeled))


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through a temporary one in the same folder, renamed into place, so
    that a crash or a second writer never leaves a partial `path` (a job whose output
    exists is done)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    tmp.replace(path)


JOBS: dict[str, Callable[[dict[str, Any], Progress], dict[str, Any]]] = {
    "train": train, "score": score, "select": select, "oof": out_of_fold}
