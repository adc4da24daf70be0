"""The out-of-fold job: the label-error review's fold models (quality.review_folds).

Controller side: `out_of_fold(project, store, ...)` publishes the labelled snapshot and
runs one job per fold. Worker side: `run` trains a model with the train job's recipe on
the labelled train items outside its fold and publishes its predictions for the items
inside. On the gpu queue (the training queue), jobs.train_timeout, retried jobs.retries
times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from activelearn.jobs.inputs import open_job, training_inputs
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import training_payload
from activelearn.jobs.resident import WorkerCache
from activelearn.quality.label_errors import assign_folds

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store


# -- controller side --------------------------------------------------------------------
def out_of_fold(project: ProjectHandles, store: Store, round_: int, version: str, folds: int,
                progress: bool) -> list[str]:
    """Out-of-fold predictions of the labelled train items, one job per fold; returns the
    fold artifacts (.npz: item_ids, labels, probs). A fold already published is reused,
    so a rerun after a crash trains only the missing folds."""
    base = {**training_payload(project, store), "round": round_, "version": version,
            "folds": folds}
    payloads = [{**base, "fold": k, "out": f"review/{version}/fold-{k}-of-{folds}.npz"}
                for k in range(folds)]
    results = project.executor.run(KIND, payloads, total=folds, desc="out-of-fold",
                                   progress=progress)
    return [r["out"] for r in results]


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
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
    inp = training_inputs(job, payload, cache)
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


KIND = JobKind("oof", queue="gpu", timeout="train_timeout", run=run,
               describe=lambda payload: f"out-of-fold {payload['version']} fold "
                                        f"{payload['fold']}/{payload['folds']}")
