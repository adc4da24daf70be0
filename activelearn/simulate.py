"""`activelearn simulate`: active learning against a simulated annotator.

Each (strategy, seed) run starts from the same random initial labels for a given
seed, so strategies are compared on paired runs. Results are written after every
round, so an interrupted experiment keeps its finished rounds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from activelearn import loop, results
from activelearn.annotation.oracle import Oracle
from activelearn.config import Config
from activelearn.inference import Normalizer
from activelearn.sources.base import Pool
from activelearn.splits import assign_splits
from activelearn.state import BatchKind, RoundStatus, Split, Store
from activelearn.strategies import get_strategy
from activelearn.training import resolve_device, save_checkpoint

log = logging.getLogger("activelearn.simulate")

Record = dict


def _open_store(run_dir: Path, pool: Pool, splits: np.ndarray) -> Store:
    store = Store(run_dir / "state.sqlite")
    if store.item_count() == 0:
        store.add_items((item_id, i, pool.paths[i] if pool.paths else None, str(splits[i]))
                        for i, item_id in enumerate(pool.item_ids))
    return store


def run_one(cfg: Config, pool: Pool, strategy_name: str, seed: int, run_dir: Path,
            on_round: Callable[[Record], None], progress: bool = True) -> list[Record]:
    """Run one strategy with one seed until the label budget; returns per-round records."""
    strategy = get_strategy(strategy_name)
    device = resolve_device(cfg.training.device)
    splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
    store = _open_store(run_dir, pool, splits)
    oracle = Oracle(pool.item_ids, pool.labels)
    norm = Normalizer.fit(pool.images)
    pool_idx = np.flatnonzero(splits == Split.TRAIN.value)
    rng = np.random.default_rng(seed)
    initial = np.sort(rng.choice(pool_idx, size=min(cfg.loop.initial, len(pool_idx)),
                                 replace=False))
    store.add_batch(0, BatchKind.INITIAL, "random", seed, None,
                    [(pool.item_ids[i], 0.0) for i in initial])
    store.set_labels(oracle.annotate([pool.item_ids[i] for i in initial]), oracle.name, 0)
    labeled = np.zeros(len(pool), dtype=bool)
    labeled[initial] = True
    records: list[Record] = []
    round_ = 0
    try:
        while True:
            record = _round(cfg, pool, strategy, seed, round_, labeled, splits, norm, device,
                            store, oracle, run_dir, progress)
            records.append(record)
            on_round(record)
            if record["labels"] >= cfg.loop.budget or not record.get("selected"):
                break
            round_ += 1
    finally:
        store.close()
    return records


def _round(cfg, pool, strategy, seed, round_, labeled, splits, norm, device, store, oracle,
           run_dir, progress) -> Record:
    version = f"{cfg.project.name}-{strategy.name}-s{seed}-r{round_}"
    store.start_round(round_)
    train_idx = np.flatnonzero(labeled)
    store.record_phase(round_, "train", "started")
    trained = loop.train_and_evaluate(pool, train_idx, pool.labels[train_idx], splits, cfg,
                                      norm, seed + round_, device, progress)
    save_checkpoint(run_dir / "model.pt", trained.model, norm,
                    {"model_version": version, "round": round_, "model": cfg.model.name})
    store.record_phase(round_, "train", "done")
    for split, metrics in (("test", trained.test), ("validation", trained.validation)):
        if metrics is not None:
            store.record_metrics(round_, split, version, metrics.to_dict())
    record: Record = {
        "strategy": strategy.name, "seed": seed, "round": round_, "labels": int(labeled.sum()),
        "accuracy": trained.test.accuracy if trained.test else None,
        "macro_f1": trained.test.macro_f1 if trained.test else None,
        "val_accuracy": trained.validation.accuracy if trained.validation else None,
        "loss": trained.result.final_loss, "epochs": trained.result.epochs,
        "train_s": round(trained.result.seconds, 3), "eval_s": round(trained.eval_seconds, 3),
        "score_s": 0.0, "select_s": 0.0, "selected": 0, "model_version": version,
    }
    room = cfg.loop.budget - record["labels"]
    unlabeled = np.flatnonzero(~labeled & (splits == Split.TRAIN.value))
    if room > 0 and len(unlabeled):
        _query(cfg, pool, strategy, seed, round_, labeled, unlabeled, min(room, cfg.loop.batch),
               trained.predictor, store, oracle, version, record, progress)
    store.finish_round(round_, version, record["labels"], RoundStatus.DONE)
    return record


def _query(cfg, pool, strategy, seed, round_, labeled, unlabeled, n, predictor, store, oracle,
           version, record, progress) -> None:
    """Score the candidates, select n, let the oracle label them (mutates labeled, record)."""
    store.record_phase(round_, "score", "started")
    start = time.perf_counter()
    candidates = loop.candidate_positions(unlabeled, cfg.strategy.candidates, seed + round_)
    inp = loop.score_for(strategy, predictor, pool, candidates, np.flatnonzero(labeled),
                         cfg.strategy.mc_passes, progress)
    record["score_s"] = round(time.perf_counter() - start, 3)
    store.record_phase(round_, "select", "started")
    start = time.perf_counter()
    chosen, sel = loop.select(strategy, inp, candidates, min(n, len(candidates)),
                              seed * 1000 + round_)
    record["select_s"] = round(time.perf_counter() - start, 3)
    ids = [pool.item_ids[i] for i in chosen]
    store.add_batch(round_ + 1, BatchKind.QUERY, strategy.name, seed, version,
                    list(zip(ids, sel.scores.tolist())))
    store.set_labels(oracle.annotate(ids), oracle.name, round_ + 1)
    labeled[chosen] = True
    record["selected"] = len(ids)
    store.record_phase(round_, "select", "done")


def simulate(cfg: Config, pool: Pool, strategies: list[str], seeds: list[int], out_dir: Path,
             echo: Callable[[str], None], progress: bool = True) -> list[Record]:
    """Run every strategy with every seed; writes rounds.csv/json after each round and the
    plot at the end (also when interrupted). Returns all records."""
    if cfg.training.threads > 0:
        torch.set_num_threads(cfg.training.threads)
    for name in strategies:
        get_strategy(name)  # fail on a typo before any training
    out_dir.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []

    def on_round(record: Record) -> None:
        records.append(record)
        results.write_rounds(records, out_dir)
        echo(_round_line(record))

    try:
        for seed in seeds:
            for name in strategies:
                run_dir = out_dir / "runs" / f"{name}-seed{seed}"
                _fresh(run_dir)
                run_one(cfg, pool, name, seed, run_dir, on_round, progress)
    finally:
        if records:
            results.plot_curves(records, out_dir / "accuracy.png")
    return records


def _fresh(run_dir: Path) -> None:
    """A new run replaces an earlier one of the same strategy and seed."""
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "model.pt"):
        (run_dir / name).unlink(missing_ok=True)


def _round_line(r: Record) -> str:
    acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
    return (f"{r['strategy']:<16} seed {r['seed']} round {r['round']:>2}  labels {r['labels']:>6}"
            f"  test acc {acc}  train {r['train_s']:.1f}s  score {r['score_s']:.1f}s"
            f"  select {r['select_s']:.1f}s")
