"""What a job works with, loaded from its payload alone: the project's config (carried as
content), its artifact store, the pool (through the catalogue snapshot for file sources;
in head mode with a remote store, the pool's published embeddings),
the labelled snapshot a model trains on, and the model of a version. A job never opens
state.sqlite: the controller is the only reader and writer of state. What runs jobs (a
resident worker, the inline executor) keeps the pool and the latest model loaded between
them in its WorkerCache (resident.py), handed to each job.

Where a job runs decides what it may touch:
- inline, in the controller: the project's work dir and its artifact store;
- in a worker (SCRATCH_ENV set), with a local store (a disk shared with the controller):
  only projects whose work dir and store lie under its --work-dir folders;
- in a worker with a remote store (s3://...): only the stores it serves (--artifacts),
  and its own scratch folder, where the project's work dir (the caches a pool keeps)
  and the artifacts it fetched live. Nothing of the controller's disk is needed.
Artifact names are checked by the store (relative, inside it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import numpy as np
import torch

from activelearn.config import Config, config_from_dict
from activelearn.data.artifacts import ArtifactStore
from activelearn.data.shards import missing_input
from activelearn.data.snapshot import CatalogueSnapshot
from activelearn.data.sources import input_size, open_pool
from activelearn.data.sources.base import Pool
from activelearn.errors import CREDENTIAL_PARAM, JobError, StateError
from activelearn.jobs.resident import WorkerCache
from activelearn.kinds import Split
from activelearn.learn.checkpoints import checkpoint_name, load_checkpoint, resolve_device
from activelearn.learn.embedding import (
    pool_keys,
    project_embedder,
    published_features,
    with_features,
)
from activelearn.learn.fit import Fitted, build, fit, input_spec, normalizer
from activelearn.learn.inference import Normalizer, Predictor

DEVICE_ENV = "ACTIVELEARN_DEVICE"  # a worker's --device: overrides training.device
SCRATCH_ENV = "ACTIVELEARN_WORKER_SCRATCH"  # set in a worker: its own scratch folder
# a worker's --work-dir folders (os.pathsep-separated): the shared-disk projects it serves
WORK_DIRS_ENV = "ACTIVELEARN_WORKER_WORK_DIRS"
# a worker's --artifacts stores (one per line): the remote stores it serves
ARTIFACTS_ENV = "ACTIVELEARN_WORKER_ARTIFACTS"
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
USER_IS_CREDENTIAL = ("http", "https", "redis", "rediss", "unix")


@dataclass(frozen=True)
class Job:
    """A job's project: its config (work_dir: where its caches live), its artifact
    store, and whether it sees the controller's disk (shared: inline, or a worker with a
    local store)."""

    cfg: Config
    store: ArtifactStore
    shared: bool

    def read(self, name: str) -> bytes:
        """An artifact the controller published before the job (StateError if gone)."""
        return _fetched(self, name).read_bytes()


def public_url(url: str) -> str:
    """url without credentials, as a payload carries it (Redis keeps payloads for days):
    no password in its user info (no user info at all for http(s) and redis, where the
    user name can be the credential), no query parameter named like a credential
    (CREDENTIAL_PARAM: password, token, key, a signature). A URL without either is
    returned as it is."""
    if not URL.match(url) or ("@" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (an unclosed [): nothing to strip by parts
        return url.rpartition("@")[2] if "@" in url else url
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and (":" in userinfo or parts.scheme.lower() in USER_IS_CREDENTIAL):
        parts = parts._replace(netloc=host)
    if parts.query:  # the other parameters as written (a template's {path} stays)
        kept = [p for p in parts.query.split("&")
                if not CREDENTIAL_PARAM.search(unquote_plus(p.partition("=")[0]))]
        parts = parts._replace(query="&".join(kept))
    return urlunsplit(parts)


def open_job(payload: dict[str, Any]) -> Job:
    """The job's project, checked against what this process may touch (see the module)."""
    cfg = config_from_dict(payload["config"], source="the job's config")
    url = str(payload["artifacts"])
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:  # inline
        return Job(cfg, ArtifactStore.of_project(url, cfg.work_dir, cfg.jobs.store_timeout),
                   shared=True)
    store = ArtifactStore(url, Path(scratch), cfg.jobs.store_timeout)
    if store.local:
        served = [Path(d) for d in os.environ.get(WORK_DIRS_ENV, "").split(os.pathsep) if d]
        for what, path in (("work dir", cfg.work_dir.resolve()), ("artifact store",
                                                                  Path(store.url))):
            if not any(path.is_relative_to(d) for d in served):
                raise JobError(f"refused: the project's {what} {path} is not under a folder "
                               f"this worker serves ({', '.join(map(str, served)) or 'none'}); "
                               "start it with --work-dir")
        return Job(cfg, store, shared=True)
    # the payload names the store without credentials; the worker opens it with its own
    # --artifacts URL (and its own environment: AWS_*, ...)
    stores = {public_url(u.rstrip("/")): u.rstrip("/")
              for u in os.environ.get(ARTIFACTS_ENV, "").splitlines() if u}
    named = public_url(store.url)
    if named not in stores:
        raise JobError(f"refused: artifact store {named} is not one this worker serves "
                       f"({', '.join(stores) or 'none'}); start it with --artifacts {named}")
    store = ArtifactStore(stores[named], Path(scratch), cfg.jobs.store_timeout)
    own = Path(scratch) / "projects" / hashlib.sha256(named.encode()).hexdigest()[:12]
    project = dataclasses.replace(cfg.project, work_dir=str(own))
    job = Job(dataclasses.replace(cfg, project=project), store, shared=False)
    if payload.get("weights"):  # the controller's weights file, published by its digest
        model = dataclasses.replace(cfg.model, weights=str(_fetched(job, payload["weights"])))
        job = dataclasses.replace(job, cfg=dataclasses.replace(job.cfg, model=model))
    return job


def load(job: Job, payload: dict[str, Any], cache: WorkerCache,
         features: bool = True) -> Pool:
    """The job's pool, kept in cache for the next job (one project at a time). A file
    source's pool is the catalogue snapshot the payload names: the same items at the same
    positions as the controller's. In head mode (features) the pool's images are the
    backbone's cached embeddings, which the controller computed before."""
    cfg = job.cfg
    head = features and cfg.model.train == "head"
    catalogue = str(payload.get("catalogue") or "")
    key = (repr(cfg.data), tuple(cfg.classes), input_size(cfg), repr(cfg.model), head,
           str(cfg.work_dir), job.store.url, catalogue, payload.get("features"))

    def opened() -> Pool:
        snapshot = CatalogueSnapshot.read(job.store, catalogue, shared_cache=job.shared) \
            if catalogue else None
        pool = open_pool(cfg, catalogue=snapshot)
        if head and payload.get("features"):  # published by the controller (remote store)
            return with_features(pool, published_features(job.store, str(payload["features"]),
                                                           pool))
        if head:  # the controller's embedding cache, on a shared disk
            return with_features(pool, project_embedder(cfg, pool).features(*pool_keys(pool)))
        return pool

    return cache.pool(key, opened)


def device_for(cfg: Config) -> torch.device:
    """The worker's --device when it has one, else training.device."""
    return resolve_device(os.environ.get(DEVICE_ENV) or cfg.training.device)


def _fetched(job: Job, name: str) -> Path:
    try:
        return job.store.fetch(name)
    except FileNotFoundError as exc:
        raise missing_input(str(exc.filename)) from None


def predictor_for(job: Job, pool: Pool, version: str, cache: WorkerCache) -> Predictor:
    """The model of a version, ready for inference; kept in cache while the file is
    unchanged."""
    try:
        path = job.store.fetch(checkpoint_name(version))
    except FileNotFoundError as exc:
        raise StateError(f"{exc.filename}: the checkpoint of model {version} is "
                         "missing") from None
    cfg = job.cfg
    key = (job.store.url, str(path), path.stat().st_mtime_ns, str(device_for(cfg)))

    def loaded() -> Predictor:
        model = build(cfg.model, input_spec(pool.images, len(pool.class_names)))
        norm, _ = load_checkpoint(path, model)
        return Predictor(model, norm, device_for(cfg), cfg.strategy.score_batch_size)

    return cache.predictor(key, loaded)


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
    copies: set[str] = field(default_factory=set)

    def unlabeled_rows(self) -> torch.Tensor:
        """Pool positions of the unlabelled train items (never holdout, validation, test
        or a copy of an evaluation item): training.semi_supervised's unlabelled set."""
        labelled = set(self.ids)
        return torch.tensor(sorted(p for i, p in self.position.items()
                                   if self.splits.get(i) == Split.TRAIN.value
                                   and i not in labelled and i not in self.copies),
                            dtype=torch.long)

    def fit(self, chosen: np.ndarray, seed: int) -> Fitted:
        """The configured model trained on the labelled items where `chosen`
        ([len(ids)] bool) is true (learn.fit, as simulate trains)."""
        cfg = self.cfg
        rows = torch.tensor([self.position[i] for i, k in zip(self.ids, chosen) if k],
                            dtype=torch.long)
        unlabeled = self.pool.images[self.unlabeled_rows()] \
            if cfg.training.semi_supervised.enabled else None
        return fit(self.pool.images[rows], self.labels[chosen], len(self.pool.class_names),
                   cfg.model, cfg.training, self.norm, seed, device_for(cfg),
                   cfg.strategy.score_batch_size, unlabeled=unlabeled)


def training_inputs(job: Job, payload: dict[str, Any], cache: WorkerCache) -> TrainingInputs:
    """The TrainingInputs of a train or out-of-fold job: the labels and splits from the
    snapshot the payload names (published by the controller from its state)."""
    pool = load(job, payload, cache)
    cfg = job.cfg
    if cfg.training.threads > 0 and not os.environ.get(DEVICE_ENV):
        torch.set_num_threads(cfg.training.threads)
    position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
    snapshot = parse_labels(job.read(payload["snapshot"]))
    labels, holdout, splits, copies = (snapshot[k] for k in ("train", "holdout", "splits",
                                                               "copies"))
    fit_on = [position[i] for i, s in splits.items()
              if s in (Split.TRAIN.value, Split.HOLDOUT.value) and i in position]
    norm = normalizer(cfg.model, pool.images[torch.tensor(fit_on, dtype=torch.long)])
    ids = sorted(i for i in labels if i in position)
    return TrainingInputs(cfg, pool, position, ids,
                          np.array([labels[i] for i in ids], dtype=np.int64), holdout, splits,
                          norm, copies)


def labels_snapshot(train: dict[str, int], holdout: dict[str, int],
                    splits: dict[str, str], copies: set[str] | None = None) -> bytes:
    """The labelled snapshot a train job works from, as JSON bytes (equal snapshots,
    equal bytes: its name is its digest). copies: train items that duplicate an
    evaluation item (never trained on, not even unlabelled)."""
    document: dict[str, Any] = {"train": train, "holdout": holdout, "splits": splits}
    if copies:
        document["evaluation_copies"] = sorted(copies)
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def parse_labels(data: bytes) -> dict[str, Any]:
    """labels_snapshot's bytes read back: train and holdout labels, splits, evaluation
    copies (empty in snapshots written before they were recorded)."""
    document = json.loads(data)
    return {"train": {str(k): int(v) for k, v in document["train"].items()},
            "holdout": {str(k): int(v) for k, v in document["holdout"].items()},
            "splits": {str(k): str(v) for k, v in document["splits"].items()},
            "copies": {str(k) for k in document.get("evaluation_copies", [])}}


def joined(name: str, files: list) -> np.ndarray | None:
    """The array `name` of loaded .npz files, concatenated (None when they lack it)."""
    return np.concatenate([f[name] for f in files]) if files and name in files[0] else None
