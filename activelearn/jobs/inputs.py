"""What a job works with, loaded from its payload: the project's config and pool, the
model of a version, and the labelled snapshot a model trains on. A resident worker keeps
the pool and the latest model loaded between jobs (the caches below)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from activelearn.config import Config, load_config
from activelearn.data.sources import input_size, open_pool
from activelearn.data.sources.base import Pool
from activelearn.errors import DataError, JobError, StateError
from activelearn.kinds import Split
from activelearn.learn.checkpoints import checkpoint_path, load_checkpoint, resolve_device
from activelearn.learn.embedding import pool_keys, project_embedder, with_features
from activelearn.learn.fit import Fitted, build, fit, input_spec, normalizer
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.state import Store

DEVICE_ENV = "ACTIVELEARN_DEVICE"  # a worker's --device: overrides training.device
# a worker's --work-dir folders (os.pathsep-separated): the projects whose jobs it runs
WORK_DIRS_ENV = "ACTIVELEARN_WORKER_WORK_DIRS"
# payload keys that name files: each must lie inside the project's work dir
PATH_KEYS = ("out", "positions", "candidates", "shards", "labeled_shards")

_pools: dict[tuple, Pool] = {}
_predictors: dict[tuple, Predictor] = {}


def project_config(payload: dict[str, Any]) -> Config:
    """The project's config of a job, checked: in a worker (see WORK_DIRS_ENV) the
    project's work dir must be one the worker serves, and every path the payload names
    must lie inside that work dir: a job never writes, or reads, anywhere else.

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
    work_dir = cfg.work_dir.resolve()
    served = [Path(d) for d in os.environ.get(WORK_DIRS_ENV, "").split(os.pathsep) if d]
    if served and not any(work_dir.is_relative_to(d) for d in served):
        raise JobError(f"refused: project work dir {work_dir} is not one this worker "
                       f"serves ({', '.join(map(str, served))}); start it with --work-dir")
    for key in PATH_KEYS:
        for value in _listed(payload.get(key)):
            if not Path(value).resolve().is_relative_to(work_dir):
                raise JobError(f"refused: payload {key} {value} is outside the project's "
                               f"work dir {work_dir}")
    return cfg


def _listed(value: Any) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def load(payload: dict[str, Any], features: bool = True) -> tuple[Config, Pool]:
    """The project's checked config (project_config) and pool; the pool stays cached for
    the next job. In head mode (features) the pool's images are the backbone's cached
    embeddings, which the controller computed before the round's jobs."""
    cfg = project_config(payload)
    head = features and cfg.model.train == "head"
    # the catalogue as the controller left it: the same items at the same positions, and
    # a new pool once the controller changed it
    with Store.open(cfg.work_dir / "state.sqlite", readonly=True) as store:
        key = (repr(cfg.data), tuple(cfg.classes), input_size(cfg), repr(cfg.model), head,
               str(cfg.work_dir), store.catalogue.generation())
        if key not in _pools:
            _pools.clear()  # one project per worker process at a time: keep memory flat
            pool = open_pool(cfg, store, refresh=False)
            if head:
                pool = with_features(pool, project_embedder(cfg, pool).features(
                    *pool_keys(pool)))
            _pools[key] = pool
    return cfg, _pools[key]


def device_for(cfg: Config) -> torch.device:
    """The worker's --device when it has one, else training.device."""
    return resolve_device(os.environ.get(DEVICE_ENV) or cfg.training.device)


def predictor_for(cfg: Config, pool: Pool, version: str) -> Predictor:
    """The model of a version, ready for inference; cached while the file is unchanged."""
    path = checkpoint_path(cfg.work_dir, version)
    try:
        key = (str(path), path.stat().st_mtime_ns, str(device_for(cfg)))
    except FileNotFoundError:
        raise StateError(f"{path}: the checkpoint of model {version} is missing") from None
    if key not in _predictors:
        _predictors.clear()
        model = build(cfg.model, input_spec(pool.images, len(pool.class_names)))
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

    def fit(self, chosen: np.ndarray, seed: int) -> Fitted:
        """The configured model trained on the labelled items where `chosen`
        ([len(ids)] bool) is true (learn.fit, as simulate trains)."""
        cfg = self.cfg
        rows = torch.tensor([self.position[i] for i, k in zip(self.ids, chosen) if k],
                            dtype=torch.long)
        return fit(self.pool.images[rows], self.labels[chosen], len(self.pool.class_names),
                   cfg.model, cfg.training, self.norm, seed, device_for(cfg),
                   cfg.strategy.score_batch_size)


def training_inputs(payload: dict[str, Any]) -> TrainingInputs:
    """The TrainingInputs of a train or out-of-fold job (labels read from state)."""
    cfg, pool = load(payload)
    if cfg.training.threads > 0 and not os.environ.get(DEVICE_ENV):
        torch.set_num_threads(cfg.training.threads)
    position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        labels = store.labels.current(Split.TRAIN.value)
        holdout = store.labels.current(Split.HOLDOUT.value)
        splits = store.items.splits()
    fit_on = [position[i] for i, s in splits.items()
              if s in (Split.TRAIN.value, Split.HOLDOUT.value) and i in position]
    norm = normalizer(cfg.model, pool.images[torch.tensor(fit_on, dtype=torch.long)])
    ids = sorted(i for i in labels if i in position)
    return TrainingInputs(cfg, pool, position, ids,
                          np.array([labels[i] for i in ids], dtype=np.int64), holdout,
                          splits, norm)
