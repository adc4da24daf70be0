"""The train job: train and evaluate one model version on the labels in state.

Controller side: `train(project, store, ...)` publishes the labelled snapshot and runs
one job. Worker side: `run` trains on the snapshot's train labels, publishes the
checkpoint and its metrics. On the gpu queue, jobs.train_timeout, never retried (a failed
training fails the round; the next cycle trains again).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from activelearn.data.sources.base import Pool
from activelearn.errors import JobError
from activelearn.jobs.affinity import TRAINER
from activelearn.jobs.inputs import open_job, training_inputs
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import training_payload
from activelearn.jobs.resident import WorkerCache
from activelearn.kinds import UNKNOWN_LABEL, Split
from activelearn.learn.backbones import provenance
from activelearn.learn.checkpoints import checkpoint_name, metrics_name, save_checkpoint
from activelearn.learn.inference import Predictor

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store


# -- controller side --------------------------------------------------------------------
def train(project: ProjectHandles, store: Store, round_: int, version: str,
          progress: bool) -> dict[str, Any]:
    """Train and evaluate one model version on the labels in store; returns the train
    job's result."""
    payload = {**training_payload(project, store), "round": round_, "version": version,
               "affinity": TRAINER}
    return project.executor.run(KIND, [payload], desc="train", progress=progress)[0]


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: config, artifacts, snapshot (the labels), round, version. Trains on the
    snapshot's train labels, publishes the checkpoint and evaluates on the holdout (and
    the source's test labels when known). Returns (and publishes next to the checkpoint)
    the metrics as JSON. Both are published put-if-absent: two processes never both
    write one model version."""
    job = open_job(payload)
    inp = training_inputs(job, payload, cache)
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
    if result.unlabeled_used is not None:  # semi-supervised: share that became targets
        out["unlabeled_used"] = round(result.unlabeled_used, 4)
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


def _evaluate(predictor: Predictor, pool: Pool, position: dict[str, int],
              labels: dict[str, int]) -> dict[str, Any]:
    ids = sorted(labels)
    idx = torch.tensor([position[i] for i in ids], dtype=torch.long)
    metrics = predictor.evaluate(pool.images[idx], np.array([labels[i] for i in ids]))
    return {**metrics.to_dict(), "items": len(ids)}


KIND = JobKind("train", queue="gpu", timeout="train_timeout", run=run, retry=False,
               describe=lambda payload: f"train {payload['version']}")
