"""The controller's side shared by the job kinds: the payload every job starts from, and
publishing what jobs read (the labelled and catalogue snapshots, position lists, a
weights file) into the project's artifact store under content-addressed names; and
current_artifacts, what the next round's jobs read (what retention keeps).

Every function takes the project (controller.ProjectHandles: its config, its artifact
store, built once, and its `published` memo) and, where it reads state, the store the
caller opened. Whatever the executor, the same payloads run the same job functions, so a
round through RQ workers selects exactly the batch it selects inline (same seed, same
shards).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from activelearn.config import Config, config_content
from activelearn.data.shards import read_manifest
from activelearn.data.snapshot import publish_catalogue
from activelearn.errors import StateError
from activelearn.jobs.inputs import labels_snapshot, public_url
from activelearn.kinds import Split
from activelearn.learn.backbones import file_sha256

if TYPE_CHECKING:  # the controller's objects, for type hints only: jobs import neither
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store

FEATURES_KEY = "features_artifact"  # state meta: the pool's embeddings' manifest (embed)
CATALOGUE_KEY = "catalogue_artifact"  # state meta: the catalogue snapshot's manifest


def base_payload(project: ProjectHandles, store: Store | None = None) -> dict[str, Any]:
    """What every job needs: the config as content (its paths made absolute), the
    artifact store, and for a file source the catalogue snapshot (published once per
    version of the catalogue) that gives the job the controller's pool. Without a store
    (the select job, which reads only the artifacts its payload names) no catalogue."""
    cfg = project.cfg
    payload: dict[str, Any] = {"config": without_secrets(config_content(absolute(cfg))),
                               "artifacts": public_url(project.artifacts.url)}
    if store is not None and store.catalogue.count():
        payload["catalogue"] = _catalogue(project, store)
    if cfg.jobs.remote_artifacts:
        if cfg.model.weights and not cfg.model.hub_weights:
            payload["weights"] = _published_weights(project)
        if store is not None and store.meta.get(FEATURES_KEY) and cfg.model.train == "head":
            payload["features"] = store.meta.get(FEATURES_KEY)
    return payload


def without_secrets(content: dict[str, Any]) -> dict[str, Any]:
    """The config content a payload carries, which RQ keeps in Redis for days: no
    jobs.redis_url (a worker talks to Redis through its own connection: its own config,
    $ACTIVELEARN_REDIS_URL, $ACTIVELEARN_REDIS_PASSWORD_FILE), and every URL-valued
    setting without credentials (inputs.public_url: a worker takes its store's and its
    images' credentials from its own --artifacts and environment). The Label Studio
    token and the webhook secret are never in the config (environment or files only)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return public_url(value) if isinstance(value, str) else value

    cleaned = clean(content)
    cleaned["jobs"] = {**cleaned["jobs"], "redis_url": ""}
    return cleaned


def training_payload(project: ProjectHandles, store: Store) -> dict[str, Any]:
    """base_payload and the labels a model trains on (train and holdout labels, splits),
    published as a content-addressed snapshot (the train and out-of-fold jobs)."""
    data = labels_snapshot(store.labels.current(Split.TRAIN.value),
                           store.labels.current(Split.HOLDOUT.value), store.items.splits(),
                           store.duplicates.evaluation_copies())
    return {**base_payload(project, store),
            "snapshot": project.artifacts.publish_content("snapshots", data, ".json")}


def publish_array(project: ProjectHandles, folder: str, positions: np.ndarray) -> str:
    """Publish pool positions (.npy) under their content-addressed name."""
    buffer = io.BytesIO()
    np.save(buffer, positions.astype(np.int64))
    return project.artifacts.publish_content(folder, buffer.getvalue(), ".npy")


def absolute(cfg: Config) -> Config:
    """cfg with its relative local paths (work dir, data root, a weights file) made
    absolute, as the controller resolves them: a job resolves nothing against its cwd."""
    def made_absolute(value: str) -> str:
        return value if not value or "://" in value or os.path.isabs(value) \
            else os.path.abspath(value)

    project = dataclasses.replace(cfg.project, work_dir=str(cfg.work_dir.resolve()))
    data = dataclasses.replace(cfg.data, root=made_absolute(cfg.data.root))
    weights = cfg.model.weights if cfg.model.hub_weights else made_absolute(cfg.model.weights)
    return dataclasses.replace(cfg, project=project, data=data,
                               model=dataclasses.replace(cfg.model, weights=weights))


def current_artifacts(project: ProjectHandles, store: Store) -> set[str]:
    """Every artifact the next round's jobs read that is not a model: the catalogue
    snapshot's and the pool embeddings' manifests (the last published, from state) with
    every part they reference, and the published model.weights file. A manifest that is
    gone or damaged adds its name alone (the next round publishes it again)."""
    names: set[str] = set()
    for key in (CATALOGUE_KEY, FEATURES_KEY):
        name = store.meta.get(key)
        if not name:
            continue
        names.add(name)
        if name.endswith(".json"):  # a manifest (an older features artifact is one .npy)
            with contextlib.suppress(StateError):  # gone: nothing of it to keep
                names.update(read_manifest(project.artifacts, name)["parts"])
    weights = _weights_name(project)
    if weights:
        names.add(weights)
    return names


def _weights_name(project: ProjectHandles) -> str | None:
    """The name model.weights is published under when jobs fetch it from the store
    (None when they do not: a local store, hub weights, none, or no such file)."""
    cfg = project.cfg
    if not (cfg.jobs.remote_artifacts and cfg.model.weights and not cfg.model.hub_weights):
        return None
    path = Path(cfg.model.weights).expanduser().resolve()
    try:
        info = path.stat()
    except OSError:
        return None
    key = ("weights-name", str(path), info.st_mtime_ns, info.st_size)
    if key not in project.published:
        project.published[key] = f"weights/{file_sha256(path)}{path.suffix}"
    return project.published[key]


def _published_weights(project: ProjectHandles) -> str:
    """Publish the model.weights file (a worker elsewhere has no such path) under its
    sha256, once per version of the file; returns its name."""
    path = Path(project.cfg.model.weights).expanduser().resolve()
    info = path.stat()
    key = ("weights", str(path), info.st_mtime_ns, info.st_size)
    if key not in project.published:
        name = _weights_name(project) or f"weights/{file_sha256(path)}{path.suffix}"
        if not project.artifacts.exists(name):
            project.artifacts.publish(name, lambda tmp: shutil.copyfile(path, tmp))
        project.published[key] = name
    return project.published[key]


def _catalogue(project: ProjectHandles, store: Store) -> str:
    """The catalogue snapshot's manifest, published once per catalogue generation as
    patches on the last one published (recorded in state: CATALOGUE_KEY)."""
    key = ("catalogue", store.catalogue.generation())
    if key not in project.published:
        previous = store.meta.get(CATALOGUE_KEY)
        name = publish_catalogue(project.artifacts, store.catalogue, previous).name
        if name != previous:
            store.meta.set(CATALOGUE_KEY, name)
        project.published[key] = name
    return project.published[key]
