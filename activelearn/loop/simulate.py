"""`activelearn simulate`: active learning against a simulated annotator.

Each (strategy, seed) run starts from the same random initial labels for a given
seed, so strategies are compared on paired runs. Results are written after every
round, so an interrupted experiment keeps its finished rounds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from activelearn.annotation.oracle import Oracle
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.data.splits import assign_splits
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.learn.backbones import provenance
from activelearn.learn.checkpoints import resolve_device, save_checkpoint
from activelearn.learn.embedding import (
    cold_start,
    pool_features,
    uses_embeddings,
    with_features,
)
from activelearn.learn.fit import Fitted, fit, normalizer
from activelearn.learn.inference import Predictor
from activelearn.learn.metrics import Metrics
from activelearn.reporting import plots, results
from activelearn.state import Store
from activelearn.strategies import (
    SelectionInput,
    Strategy,
    candidate_positions,
    get_strategy,
    select_batch,
)

log = logging.getLogger("activelearn.simulate")

Record = dict


def _open_store(run_dir: Path, pool: Pool, splits: np.ndarray) -> Store:
    store = Store.open(run_dir / "state.sqlite")
    if store.items.count() == 0:
        store.items.add((item_id, i, pool.paths[i] if pool.paths else None, str(splits[i]))
                        for i, item_id in enumerate(pool.item_ids))
    return store


class SimulatedRun:
    """One strategy with one seed against the oracle, round after round."""

    def __init__(self, cfg: Config, pool: Pool, strategy_name: str, seed: int, run_dir: Path,
                 progress: bool = True, features: torch.Tensor | None = None) -> None:
        """features: [items, dim] the backbone's embeddings of the pool (for the cold
        start), None without a backbone; in head mode the pool's images are these."""
        self.cfg, self.pool, self.seed, self.run_dir = cfg, pool, seed, run_dir
        self.progress, self.features = progress, features
        self.strategy = get_strategy(strategy_name)
        self.device = resolve_device(cfg.training.device)
        self.splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
        self.store = _open_store(run_dir, pool, self.splits)
        self.oracle = Oracle(pool.item_ids, pool.labels)
        self.norm = normalizer(cfg.model, pool.images)
        self.labeled = np.zeros(len(pool), dtype=bool)
        self.made_by = provenance(cfg.model)

    def run(self, on_round: Callable[[Record], None]) -> list[Record]:
        """Label the initial random batch, then train/score/select until the budget."""
        records: list[Record] = []
        try:
            self._label(0, self._initial(), BatchKind.INITIAL, self.cfg.loop.initial_strategy,
                        None, None)
            round_ = 0
            while True:
                record = self._round(round_)
                records.append(record)
                on_round(record)
                if record["labels"] >= self.cfg.loop.budget or not record["selected"]:
                    return records
                round_ += 1
        finally:
            self.store.close()

    def _initial(self) -> np.ndarray:
        """The seed's initial positions (the same for every strategy): random, or picked
        from the backbone's embeddings by loop.initial_strategy."""
        pool_idx = np.flatnonzero(self.splits == Split.TRAIN.value)
        size = min(self.cfg.loop.initial, len(pool_idx))
        if self.cfg.loop.initial_strategy != "random" and self.features is not None:
            return np.sort(cold_start(self.cfg.loop.initial_strategy, self.features, pool_idx,
                                      size, self.seed))
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(pool_idx, size=size, replace=False))

    def _label(self, round_: int, chosen: np.ndarray, kind: BatchKind, strategy: str,
               version: str | None, scores: np.ndarray | None) -> None:
        """Record the batch with its provenance, then the oracle's labels for it."""
        ids = [self.pool.item_ids[i] for i in chosen]
        score_list = scores.tolist() if scores is not None else [0.0] * len(ids)
        self.store.batches.add(round_, kind, strategy, self.seed, version,
                               list(zip(ids, score_list)))
        self.store.labels.set(self.oracle.annotate(ids), self.oracle.name, round_)
        self.labeled[chosen] = True

    def _round(self, round_: int) -> Record:
        cfg, store = self.cfg, self.store
        version = f"{cfg.project.name}-{self.strategy.name}-s{self.seed}-r{round_}"
        store.rounds.start(round_)
        store.rounds.record_phase(round_, "train", "started")
        train_idx = np.flatnonzero(self.labeled)
        trained = self._train(train_idx, self.seed + round_)
        save_checkpoint(self.run_dir / "model.pt", trained.fitted.model, self.norm,
                        {"model_version": version, "round": round_, **self.made_by,
                         "input_size": list(self.pool.images.shape[2:])})
        store.rounds.record_phase(round_, "train", "done")
        for split, metrics in (("test", trained.test), ("validation", trained.validation)):
            if metrics is not None:
                store.metrics.record(round_, split, version, metrics.to_dict())
        record = _record(self.strategy.name, self.seed, round_, int(self.labeled.sum()),
                         trained, version)
        record.update(model=self.made_by["model"], mode=self.made_by["mode"],
                      weights_sha256=self.made_by["weights_sha256"])
        room = cfg.loop.budget - record["labels"]
        unlabeled = np.flatnonzero(~self.labeled & (self.splits == Split.TRAIN.value))
        if room > 0 and len(unlabeled):
            self._query(round_, unlabeled, min(room, cfg.loop.batch), trained.fitted.predictor,
                        version, record)
        store.rounds.finish(round_, version, record["labels"], RoundStatus.DONE)
        return record

    def _train(self, train_idx: np.ndarray, seed: int) -> Trained:
        """A model trained on the pool positions train_idx (learn.fit, as the train job
        trains), evaluated on the test and validation splits."""
        cfg, pool = self.cfg, self.pool
        fitted = fit(pool.images[torch.from_numpy(train_idx)], pool.labels[train_idx],
                     len(pool.class_names), cfg.model, cfg.training, self.norm, seed,
                     self.device, cfg.strategy.score_batch_size, self.progress)
        start = time.perf_counter()
        found = {}
        for name in ("test", "validation"):
            idx = np.flatnonzero(self.splits == name)
            if len(idx):
                found[name] = fitted.predictor.evaluate(pool.images[torch.from_numpy(idx)],
                                                        pool.labels[idx])
        return Trained(fitted, found.get("test"), found.get("validation"),
                       time.perf_counter() - start)

    def _query(self, round_: int, unlabeled: np.ndarray, n: int, predictor: Predictor,
               version: str, record: Record) -> None:
        """Score the candidates, select n and have the oracle label them."""
        self.store.rounds.record_phase(round_, "score", "started")
        start = time.perf_counter()
        candidates = candidate_positions(unlabeled, self.cfg.strategy.candidates,
                                         self.seed + round_)
        inp = score_for(self.strategy, predictor, self.pool, candidates,
                        np.flatnonzero(self.labeled), self.cfg.strategy.mc_passes,
                        self.progress)
        record["score_s"] = round(time.perf_counter() - start, 3)
        self.store.rounds.record_phase(round_, "select", "started")
        start = time.perf_counter()
        chosen, sel = select_batch(self.strategy, inp, candidates, min(n, len(candidates)),
                                   self.seed * 1000 + round_)
        record["select_s"] = round(time.perf_counter() - start, 3)
        self._label(round_ + 1, chosen, BatchKind.QUERY, self.strategy.name, version,
                    sel.scores)
        record["selected"] = len(chosen)
        self.store.rounds.record_phase(round_, "select", "done")


@dataclass
class Trained:
    """One round's model and its evaluation (test and validation: None when the split is
    empty), with the seconds the evaluation took."""

    fitted: Fitted
    test: Metrics | None
    validation: Metrics | None
    eval_seconds: float


def score_for(strategy: Strategy, predictor: Predictor, pool: Pool, candidates: np.ndarray,
              labeled: np.ndarray, mc_passes: int, progress: bool) -> SelectionInput:
    """Run the model over the candidate positions, computing only what the strategy needs.
    candidates, labeled: [items] pool positions."""
    scores = predictor(pool.images[torch.from_numpy(candidates)],
                       embeddings=strategy.needs_embeddings,
                       mc_passes=mc_passes if strategy.needs_mc_dropout else 0,
                       progress=progress)
    labeled_emb = None
    if strategy.needs_labeled_embeddings:
        labeled_emb = predictor(pool.images[torch.from_numpy(labeled)], embeddings=True,
                                desc="embed labeled").embeddings
    return SelectionInput(scores.probs, scores.embeddings, scores.mc_probs, labeled_emb)


def _record(strategy: str, seed: int, round_: int, labels: int, trained: Trained,
            version: str) -> Record:
    test, val = trained.test, trained.validation
    return {
        "strategy": strategy, "seed": seed, "round": round_, "labels": labels,
        "accuracy": test.accuracy if test else None,
        "macro_f1": test.macro_f1 if test else None,
        "val_accuracy": val.accuracy if val else None,
        "loss": trained.fitted.result.final_loss, "epochs": trained.fitted.result.epochs,
        "train_s": round(trained.fitted.result.seconds, 3),
        "eval_s": round(trained.eval_seconds, 3),
        "score_s": 0.0, "select_s": 0.0, "selected": 0, "model_version": version,
    }


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

    features = None
    if uses_embeddings(cfg):
        features = pool_features(cfg, pool, resolve_device(cfg.training.device), progress)
        echo(f"backbone {cfg.model.name} ({cfg.model.train}), weights "
             f"{provenance(cfg.model)['weights_sha256']}: {tuple(features.shape)} embeddings")
        if cfg.model.train == "head":
            pool = with_features(pool, features)
    try:
        for seed in seeds:
            for name in strategies:
                run_dir = out_dir / "runs" / f"{name}-seed{seed}"
                _fresh(run_dir)
                SimulatedRun(cfg, pool, name, seed, run_dir, progress, features).run(on_round)
    finally:
        if records:
            plots.simulate_curves(records, out_dir / "accuracy.png")
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
