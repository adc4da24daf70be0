"""The pretrain job: self-supervised pretraining (learn.pretrain) of model.name on the
pool's train items, once per pool and recipe; its result is what model.weights: pool
names.

Controller side: `pretrain(project, store, pool, splits, ...)` reuses the result of the
same pool and recipe when the artifact store has it, else runs one job. Worker side:
`run` trains epoch by epoch on the items whose split is train (never holdout,
validation or test), publishes the Pretrainer's state after every epoch (a killed or
retried job goes on after the last finished epoch), then the result: a whole
activelearn checkpoint (the network, a fresh head, the normaliser) put-if-absent at
pretrained/<key>.pt, with its provenance and sha256 in pretrained/<key>.json. On the
gpu queue, jobs.pretrain_timeout, retried jobs.retries times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from activelearn.config import Config
from activelearn.data.artifacts import ArtifactStore
from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError, JobError
from activelearn.failpoints import failpoint
from activelearn.jobs.inputs import (
    SCRATCH_ENV,
    device_for,
    labels_snapshot,
    load,
    open_job,
    parse_labels,
)
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import base_payload
from activelearn.jobs.resident import WorkerCache
from activelearn.kinds import Split
from activelearn.learn.checkpoints import save_checkpoint
from activelearn.learn.fit import input_spec
from activelearn.learn.inference import Normalizer
from activelearn.learn.models import build_model
from activelearn.learn.pretrain import Pretrainer, PretrainRecipe
from activelearn.learn.views import ViewRecipe

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.jobs.executor import Executor
    from activelearn.state import Store

log = logging.getLogger("activelearn.jobs.pretrain")
_UNREADABLE = (OSError, RuntimeError, EOFError, ValueError, TypeError, KeyError,
               pickle.UnpicklingError, zipfile.BadZipFile)


@dataclass(frozen=True)
class Pretrained:
    """A pretraining's result: its checkpoint's artifact name, its key, its provenance
    (the JSON next to it) and whether this call trained it (False: reused)."""

    name: str
    key: str
    info: dict[str, Any]
    trained: bool


def recipe_of(cfg: Config) -> PretrainRecipe:
    """The config's `pretrain:` section as the Pretrainer's recipe (mirroring follows
    training.hflip)."""
    p = cfg.pretrain
    views = ViewRecipe(crop=(float(p.crop[0]), float(p.crop[1])), hflip=cfg.training.hflip,
                       brightness=p.brightness, contrast=p.contrast)
    return PretrainRecipe(method=p.method, epochs=p.epochs, batch_size=p.batch_size, lr=p.lr,
                          temperature=p.temperature, projection_dim=p.projection_dim,
                          views=views, items_per_epoch=p.items_per_epoch)


def train_positions(pool: Pool, splits: dict[str, str]) -> np.ndarray:
    """Pool positions of the items whose split is train, sorted [items] int64: the only
    items pretraining sees."""
    return np.array([i for i, item in enumerate(pool.item_ids)
                     if splits.get(item) == Split.TRAIN.value], dtype=np.int64)


def pretrain_key(cfg: Config, pool: Pool, positions: np.ndarray) -> str:
    """What names a pretraining (20 hex digits): the network, the input's shape, the
    items (their content hashes for file pools, else their ids), the recipe and the seed.
    The same pool and recipe give the same key, so the result is reused."""
    head = {"model": cfg.model.name, "shape": list(pool.images.shape[1:]),
            "recipe": dataclasses.asdict(recipe_of(cfg)), "seed": cfg.project.seed}
    items = sorted(pool.hashes.sha256[i] for i in positions) if pool.hashes is not None \
        else sorted(pool.item_ids[i] for i in positions)
    digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    digest.update("\n".join(items).encode())
    return digest.hexdigest()[:20]


def result_name(key: str) -> str:
    return f"pretrained/{key}.pt"


def info_name(key: str) -> str:
    return f"pretrained/{key}.json"


def epoch_name(key: str, epoch: int) -> str:
    """The Pretrainer's state after `epoch` (only the latest is kept)."""
    return f"pretrain/{key}/epoch-{epoch:05d}.pt"


def check_size(cfg: Config, items: int) -> None:
    if items < cfg.pretrain.min_items:
        raise ConfigError(f"pretrain: the pool has {items} train items, fewer than "
                          f"pretrain.min_items ({cfg.pretrain.min_items}); add images to "
                          "the pool, or lower pretrain.min_items")


def job_config(cfg: Config) -> Config:
    """The config a pretrain job runs with: the network from random weights (whatever
    model.weights says: pretraining makes the weights)."""
    model = dataclasses.replace(cfg.model, weights="", weights_sha256="", train="scratch")
    loop = dataclasses.replace(cfg.loop, initial_strategy="random")
    return dataclasses.replace(cfg, model=model, loop=loop)


# -- controller side --------------------------------------------------------------------
@dataclass
class _Handles:
    """The project as the job sees it: its config for pretraining (job_config)."""

    cfg: Config
    artifacts: ArtifactStore
    executor: Executor
    published: dict[tuple, str]


def pretrain(project: ProjectHandles, store: Store | None, pool: Pool,
             splits: dict[str, str], progress: bool, restart: bool = False,
             executor: Executor | None = None) -> Pretrained:
    """The pretrained checkpoint of the pool's train items (splits: item id -> split):
    the one published for this key, else made by one pretrain job (on executor, default
    the project's). restart: drop the epoch checkpoint and a published result first."""
    cfg = job_config(project.cfg)
    positions = train_positions(pool, splits)
    check_size(cfg, len(positions))
    key, arts = pretrain_key(cfg, pool, positions), project.artifacts
    if restart:
        for name in (result_name(key), info_name(key)):
            arts.remove(name)
    elif arts.exists(result_name(key)) and arts.exists(info_name(key)):
        return Pretrained(result_name(key), key, arts.read_json(info_name(key)), False)
    handles = _Handles(cfg, arts, executor or project.executor, project.published)
    snapshot = arts.publish_content("snapshots", labels_snapshot({}, {}, splits), ".json")
    payload = {**base_payload(handles, store), "splits": snapshot, "restart": restart}
    recipe = recipe_of(cfg)
    per_epoch = recipe.steps_per_epoch(len(positions)) * recipe.batch_size
    info = handles.executor.run(KIND, [payload], total=per_epoch * recipe.epochs,
                                desc="pretrain", progress=progress)[0]
    return Pretrained(info["name"], info["key"], info, True)


# -- worker side ------------------------------------------------------------------------
class _Bar:
    """What Pretrainer.run_epoch updates: the job's progress (images so far, the epochs
    resumed counted as done), a tqdm bar in a worker's log, and the pause/crash point at
    the first step of each epoch (`pretrain:epoch-N`, for the kill tests)."""

    def __init__(self, progress: Progress, done: int, total: int, epoch: int) -> None:
        self.progress, self.done, self.epoch, self.fresh = progress, done, epoch, True
        self.bar = tqdm(total=total, initial=done, unit="img", desc="pretrain",
                        file=sys.stderr, disable=not os.environ.get(SCRATCH_ENV))

    def start(self, epoch: int) -> None:
        self.epoch, self.fresh = epoch, True

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        self.progress(self.done)
        if self.fresh:
            self.fresh = False
            failpoint(f"pretrain:epoch-{self.epoch}")

    def set_postfix(self, **values: Any) -> None:
        self.bar.set_postfix(**values)


def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, splits (a snapshot: item id -> split),
    restart. Pretrains on the train items (resuming from the epoch checkpoint), publishes
    the result and returns its provenance (the JSON published next to it)."""
    job = open_job(payload)
    cfg, store = job.cfg, job.store
    pool = load(job, payload, cache, features=False)
    positions = train_positions(pool, parse_labels(job.read(payload["splits"]))["splits"])
    check_size(cfg, len(positions))
    key = pretrain_key(cfg, pool, positions)
    if store.exists(result_name(key)) and store.exists(info_name(key)):
        return {**store.read_json(info_name(key)), "reused": True}
    if cfg.training.threads > 0 and not os.environ.get("ACTIVELEARN_DEVICE"):
        torch.set_num_threads(cfg.training.threads)
    trainer = _trainer(cfg, pool, positions)
    if payload.get("restart"):
        _drop_epochs(store, key, trainer.recipe.epochs)
    resumed = _resume(store, key, trainer)
    per_epoch = trainer.steps_per_epoch * trainer.recipe.batch_size
    bar = _Bar(progress, resumed * per_epoch, per_epoch * trainer.recipe.epochs, resumed + 1)
    while trainer.epoch < trainer.recipe.epochs:
        bar.start(trainer.epoch + 1)
        report = trainer.run_epoch(bar)
        _publish_epoch(store, key, trainer)
        log.info("pretrain %s: epoch %d/%d, loss %.4f, %.0f images/s", key, report.epoch,
                 trainer.recipe.epochs, report.loss, report.images_per_second)
    bar.bar.close()
    info = _publish_result(store, cfg, pool, trainer, key, resumed)
    store.remove(epoch_name(key, trainer.epoch))
    return info


def _trainer(cfg: Config, pool: Pool, positions: np.ndarray) -> Pretrainer:
    """model.name with random weights and a head for the classes, the normaliser fitted
    on the train items, ready to pretrain on them."""
    images = pool.images[torch.from_numpy(positions)]
    torch.manual_seed(cfg.project.seed)
    model = build_model(cfg.model.name, input_spec(pool.images, len(pool.class_names)),
                        cfg.model.dropout)
    return Pretrainer(model, images, Normalizer.fit(images), recipe_of(cfg),
                      cfg.project.seed, device_for(cfg))


def _latest_epoch(store: ArtifactStore, key: str, epochs: int) -> int:
    return next((e for e in range(epochs, 0, -1) if store.exists(epoch_name(key, e))), 0)


def _drop_epochs(store: ArtifactStore, key: str, epochs: int) -> None:
    for epoch in range(1, epochs + 1):
        if store.exists(epoch_name(key, epoch)):
            store.remove(epoch_name(key, epoch))


def _resume(store: ArtifactStore, key: str, trainer: Pretrainer) -> int:
    """Go on from the latest epoch checkpoint, if any; returns its epoch (0: none).
    JobError (one line naming it and the fix) when it is unreadable or does not fit."""
    epoch = _latest_epoch(store, key, trainer.recipe.epochs)
    if not epoch:
        return 0
    name = epoch_name(key, epoch)
    where = store.path(name) if store.local else f"{store.url}/{name}"
    try:
        state = torch.load(store.fetch(name), map_location="cpu", weights_only=True)
        trainer.resume(state)
    except _UNREADABLE as exc:
        why = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise JobError(f"{where}: the pretraining's epoch checkpoint is unreadable or does "
                       f"not fit ({why}); delete it to start over, or rerun with "
                       "`activelearn pretrain --restart`") from None
    log.info("pretrain %s: resumed after epoch %d", key, epoch)
    return epoch


def _publish_epoch(store: ArtifactStore, key: str, trainer: Pretrainer) -> None:
    """The trainer's state after this epoch, replacing the previous epoch's."""
    state = trainer.state()
    store.publish(epoch_name(key, trainer.epoch), lambda tmp: torch.save(state, tmp))
    if trainer.epoch > 1:
        store.remove(epoch_name(key, trainer.epoch - 1))


def _publish_result(store: ArtifactStore, cfg: Config, pool: Pool, trainer: Pretrainer,
                    key: str, resumed: int) -> dict[str, Any]:
    """The whole checkpoint put-if-absent at result_name(key), then its provenance."""
    history = trainer.history
    seconds = sum(r.seconds for r in history)
    images = sum(r.images_per_second * r.seconds for r in history)
    recipe = dataclasses.asdict(trainer.recipe)
    size = [int(s) for s in pool.images.shape[2:]]
    pretrain = {"method": trainer.recipe.method, "epochs": trainer.epoch, "recipe": recipe,
                "pool_digest": key, "items": len(trainer.images),
                "seconds": round(seconds, 3),
                "images_per_second": round(images / seconds, 1) if seconds else 0.0}
    meta = {"pretrain": pretrain, "input_size": size, "model": cfg.model.name}
    trainer.model.cpu().to(memory_format=torch.contiguous_format)
    digest: list[str] = []

    def write(tmp: Any) -> None:
        save_checkpoint(tmp, trainer.model, trainer.norm, meta)
        digest.append(hashlib.sha256(Path(tmp).read_bytes()).hexdigest())

    info = {"name": result_name(key), "key": key, "model": cfg.model.name,
            "input_size": size, "channels": int(pool.images.shape[1]),
            "seed": cfg.project.seed, "resumed_from": resumed,
            "losses": [round(r.loss, 5) for r in history],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **pretrain}
    try:
        store.publish(result_name(key), write, exclusive=True)
    except FileExistsError:  # another job made it meanwhile: that one stands
        return {**store.read_json(info_name(key)), "reused": True}
    info["sha256"] = digest[0]
    store.publish_bytes(info_name(key), json.dumps(info, indent=1).encode())
    return info


KIND = JobKind("pretrain", queue="gpu", timeout="pretrain_timeout", run=run,
               describe=lambda payload: "pretrain on the pool")
