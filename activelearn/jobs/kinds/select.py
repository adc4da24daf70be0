"""The select job: the strategy picks a batch from the merged score shards.

Controller side: `score_and_select(project, store, ...)` names the round's strategy
(strategy.name, or what auto picks at the labels so far: strategies.strategy_for),
scores the candidates (score jobs, see score.py) and runs one select job on their
shards. Worker side: `run` merges the shards and calls strategies.select_batch. On the
cpu queue, jobs.select_timeout, retried jobs.retries times.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from activelearn.config import Config
from activelearn.jobs.inputs import joined, open_job
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.kinds import score
from activelearn.jobs.payloads import base_payload
from activelearn.jobs.resident import WorkerCache
from activelearn.quality.throughput import median_seconds_by_class
from activelearn.strategies import SelectionInput, get_strategy, select_batch, strategy_for

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store

log = logging.getLogger(__name__)


# -- controller side --------------------------------------------------------------------
def score_and_select(project: ProjectHandles, store: Store, version: str, candidates: np.ndarray,
                     labeled: np.ndarray, n: int, seed: int, progress: bool) -> dict[str, Any]:
    """Score the candidate pool positions in shards of jobs.shard_size, then select n.

    candidates, labeled: [items] pool positions (labeled: the training set's, whose
    count decides what auto picks). Returns the select job's result (positions best
    first, scores, suggestions, the strategy that picked).
    """
    cfg = project.cfg
    strategy = get_strategy(strategy_for(cfg.strategy, len(labeled)))
    mc = cfg.strategy.mc_passes if strategy.needs_mc_dropout else 0
    base = {**base_payload(project, store), "version": version, "seed": seed}
    shards = score.shards(project, version, candidates, cfg.jobs.shard_size,
                          {**base, "embeddings": strategy.needs_embeddings, "mc_passes": mc})
    labeled_shards = []
    if strategy.needs_labeled_embeddings:
        labeled_shards = score.shards(project, version, labeled, cfg.jobs.shard_size,
                                      {**base, "embeddings": True, "mc_passes": 0})
    project.executor.run(score.KIND, shards + labeled_shards,
                         total=len(candidates) + len(labeled_shards and labeled),
                         desc="score", progress=progress)
    payload = select_payload(project, store, n, seed, shards, labeled_shards, strategy.name)
    result = project.executor.run(KIND, [payload], desc="select", progress=progress)[0]
    return {**result, "strategy": strategy.name}


def select_payload(project: ProjectHandles, store: Store, n: int, seed: int,
                   shards: list[dict[str, Any]], labeled_shards: list[dict[str, Any]],
                   strategy: str = "") -> dict[str, Any]:
    """The select job's payload: the score shards (their candidates file and outputs,
    see score.shards), the batch size and seed, the strategy (a registered name: the
    round's, default strategy.name) and for strategy.cost_weighted the expected seconds
    per class from the lead times in store (class_seconds; none for a strategy without
    per-item scores, as auto_early's may be)."""
    cfg = project.cfg
    name = strategy or cfg.strategy.name
    scored = get_strategy(name).ranks_by_score
    return {**base_payload(project), "strategy": name, "n": n, "seed": seed,
            "candidates": shards[0]["positions"] if shards else "",
            "shards": [s["out"] for s in shards],
            "labeled_shards": [s["out"] for s in labeled_shards],
            "class_seconds": class_seconds(cfg, store) if scored else None}


def class_seconds(cfg: Config, store: Store) -> list[float] | None:
    """strategy.cost_weighted: the expected seconds to label an item of each class (in
    class order), the median lead time of the annotations that gave it, the median over
    all for a class without one. None when not cost weighted, or without any lead time
    (then the select job ranks by score alone, and says so)."""
    if not cfg.strategy.cost_weighted:
        return None
    classes = len(cfg.classes)
    medians = median_seconds_by_class(store.annotations.class_lead_times(), classes)
    if medians is None:
        log.warning("strategy.cost_weighted: no annotation has a lead time yet; "
                    "ranking by %s's score alone", cfg.strategy.name)
        return None
    log.info("strategy.cost_weighted: expected seconds per class %s",
             {name: round(medians[k], 1) for k, name in enumerate(cfg.classes)})
    return [medians[k] for k in range(classes)]


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
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


def _merge(loaded: list, labeled: list) -> SelectionInput:
    probs = joined("probs", loaded)
    assert probs is not None  # every score shard has probs
    return SelectionInput(probs, joined("embeddings", loaded), joined("mc_probs", loaded),
                          joined("embeddings", labeled))


KIND = JobKind("select", queue="cpu", timeout="select_timeout", run=run,
               describe=lambda payload: f"select {payload['n']} with {payload['strategy']}")
