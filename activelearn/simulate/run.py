"""`activelearn simulate`: active learning against a simulated annotator.

Each (strategy, seed) run starts from the same random initial labels for a given
seed, so strategies are compared on paired runs. Results are written after every
round, so an interrupted experiment keeps its finished rounds.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from activelearn.annotation.oracle import Oracle
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.data.splits import assign_splits, imbalanced_subset
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.learn.backbones import provenance
from activelearn.learn.checkpoints import resolve_device, save_checkpoint
from activelearn.learn.embedding import (
    cold_start,
    pool_features,
    uses_embeddings,
    with_features,
)
from activelearn.learn.fit import normalizer
from activelearn.learn.inference import Predictor
from activelearn.project import state_path
from activelearn.simulate.cost import CostModel, LeadTimes, cost_lines
from activelearn.simulate.full_data import full_data
from activelearn.simulate.records import round_line, write_rounds
from activelearn.simulate.schedule import describe_schedule, next_batch
from activelearn.simulate.targets import Target, TargetSpec, write_targets
from activelearn.simulate.training import Trained, metric_fields, train_and_evaluate
from activelearn.state import Store
from activelearn.strategies import (
    SelectionInput,
    Strategy,
    candidate_positions,
    get_strategy,
    select_batch,
    strategies_of,
    strategy_for,
)

log = logging.getLogger("activelearn.simulate")

Record = dict


class Figures(Protocol):
    """Draws a run's figures in its folder (reporting.plots.SimulateFigures does)."""

    def clear(self, out_dir: Path) -> None:
        """Remove the figures an earlier run left in out_dir (they would not match)."""

    def draw(self, records: Sequence[Record], out_dir: Path, log_x: bool | None,
             targets: Mapping[str, Sequence[float]]) -> object:
        """The figures of the records; targets: metric -> values drawn as lines."""


def _open_store(run_dir: Path, pool: Pool, splits: np.ndarray) -> Store:
    store = Store.open(state_path(run_dir))
    if store.items.count() == 0:
        store.items.add((item_id, i, pool.paths[i] if pool.paths else None, str(splits[i]))
                        for i, item_id in enumerate(pool.item_ids))
    return store


class SimulatedRun:
    """One strategy with one seed against the oracle, round after round. With auto the
    strategy that picks is named anew each round (strategy_for, at the labels so far)."""

    def __init__(self, cfg: Config, pool: Pool, strategy_name: str, seed: int, run_dir: Path,
                 progress: bool = True, features: torch.Tensor | None = None,
                 splits: np.ndarray | None = None, cost: CostModel | None = None) -> None:
        """features: [items, dim] the backbone's embeddings of the pool (for the cold
        start), None without a backbone; in head mode the pool's images are these.
        splits: [items] Split values (default: drawn by assign_splits from project.seed).
        cost: the annotator's seconds per label (None: not modelled)."""
        self.cfg, self.pool, self.seed, self.run_dir = cfg, pool, seed, run_dir
        self.progress, self.features = progress, features
        self.name = strategy_name
        self.choice = dataclasses.replace(cfg.strategy, name=strategy_name)
        strategies_of(self.choice)  # a typo fails here, before any training
        self.device = resolve_device(cfg.training.device)
        self.splits = splits if splits is not None else \
            assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
        self.store = _open_store(run_dir, pool, self.splits)
        self.oracle = Oracle(pool.item_ids, pool.labels)
        self.norm = normalizer(cfg.model, pool.images)
        self.labeled = np.zeros(len(pool), dtype=bool)
        self.made_by = provenance(cfg.model)
        self.lead_times = LeadTimes(cost, pool.labels)

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
        self.lead_times.observe(chosen, round_)
        self.lead_times.write(self.run_dir / "lead_times.csv", self.pool.item_ids)

    def _round(self, round_: int) -> Record:
        cfg, store = self.cfg, self.store
        version = f"{cfg.project.name}-{self.name}-s{self.seed}-r{round_}"
        strategy = get_strategy(strategy_for(self.choice, int(self.labeled.sum())))
        # strategy.cost_weighted weights what ranks by a score (random runs as it is)
        cost_weighted = cfg.strategy.cost_weighted and strategy.ranks_by_score
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
        record = _record(self.name, self.seed, round_, int(self.labeled.sum()),
                         trained, version, self.pool.class_names)
        record.update(model=self.made_by["model"], mode=self.made_by["mode"],
                      weights_sha256=self.made_by["weights_sha256"])
        if self.lead_times.known:
            spent = self.lead_times.spent()
            record.update(annotator_seconds=round(spent, 1),
                          annotator_hours=round(spent / 3600, 4),
                          cost_weighted=cost_weighted)
        batch = next_batch(record["labels"], cfg.loop)
        unlabeled = np.flatnonzero(~self.labeled & (self.splits == Split.TRAIN.value))
        if batch > 0 and len(unlabeled):
            self._query(round_, unlabeled, batch, trained.fitted.predictor, version, record,
                        strategy, cost_weighted)
        store.rounds.finish(round_, version, record["labels"], RoundStatus.DONE)
        return record

    def _train(self, train_idx: np.ndarray, seed: int) -> Trained:
        """A model trained on the pool positions train_idx, evaluated on the test and
        validation splits (simtrain, as the full-data reference is)."""
        return train_and_evaluate(self.cfg, self.pool, self.splits, self.norm, train_idx,
                                  seed, self.device, self.progress)

    def _query(self, round_: int, unlabeled: np.ndarray, n: int, predictor: Predictor,
               version: str, record: Record, strategy: Strategy, cost_weighted: bool) -> None:
        """Score the candidates, select n with strategy (the round's: see strategy_for)
        and have the oracle label them."""
        self.store.rounds.record_phase(round_, "score", "started")
        start = time.perf_counter()
        candidates = candidate_positions(unlabeled, self.cfg.strategy.candidates,
                                         self.seed + round_)
        inp = score_for(strategy, predictor, self.pool, candidates,
                        np.flatnonzero(self.labeled), self.cfg.strategy.mc_passes,
                        self.progress)
        record["score_s"] = round(time.perf_counter() - start, 3)
        self.store.rounds.record_phase(round_, "select", "started")
        start = time.perf_counter()
        # as the real loop: expected seconds from the lead times of the labels so far
        seconds = self.lead_times.class_seconds(len(self.pool.class_names)) \
            if cost_weighted else None
        chosen, sel = select_batch(strategy, inp, candidates, min(n, len(candidates)),
                                   self.seed * 1000 + round_, self.cfg.strategy.class_balance,
                                   seconds)
        record["select_s"] = round(time.perf_counter() - start, 3)
        self._label(round_ + 1, chosen, BatchKind.QUERY, strategy.name, version,
                    sel.scores)
        record.update(selected=len(chosen), picked_by=strategy.name)
        self.store.rounds.record_phase(round_, "select", "done")


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
            version: str, class_names: list[str]) -> Record:
    return {
        "strategy": strategy, "seed": seed, "round": round_, "labels": labels,
        **metric_fields(trained, class_names),
        "loss": trained.fitted.result.final_loss, "epochs": trained.fitted.result.epochs,
        "steps": trained.fitted.result.steps,
        "train_s": round(trained.fitted.result.seconds, 3),
        "eval_s": round(trained.eval_seconds, 3),
        "score_s": 0.0, "select_s": 0.0, "selected": 0, "picked_by": "",
        "model_version": version,
    }


def simulate(cfg: Config, pool: Pool, strategies: list[str], seeds: list[int], out_dir: Path,
             echo: Callable[[str], None], progress: bool = True, imbalance: float = 1.0,
             goals: TargetSpec | None = None, cost: CostModel | None = None,
             figures: Figures | None = None) -> list[Record]:
    """Run every strategy with every seed; writes rounds.csv/json after each round and
    has `figures` draw the plots at the end (also when interrupted). Returns all records.

    imbalance: above 1, the train split keeps class counts falling geometrically from
    the largest class's to largest / imbalance (class 0 keeps the most; the test and
    validation splits are drawn before and stay as they are). goals: the targets to
    reach, written to targets.json (a fraction's full-data value measured or cached first).
    cost: the annotator's seconds per label by class: records gain annotator_seconds and
    annotator_hours, and strategy.cost_weighted learns from the observed lead times.
    """
    if cfg.training.threads > 0:
        torch.set_num_threads(cfg.training.threads)
    for name in strategies:  # fail on a typo before any training
        strategies_of(dataclasses.replace(cfg.strategy, name=name))
    out_dir.mkdir(parents=True, exist_ok=True)
    if figures is not None:
        figures.clear(out_dir)
    records: list[Record] = []

    def on_round(record: Record) -> None:
        records.append(record)
        write_rounds(records, out_dir)
        echo(round_line(record))

    features = None
    if uses_embeddings(cfg):
        features = pool_features(cfg, pool, resolve_device(cfg.training.device), progress)
        echo(f"backbone {cfg.model.name} ({cfg.model.train}), weights "
             f"{provenance(cfg.model)['weights_sha256']}: {tuple(features.shape)} embeddings")
        if cfg.model.train == "head":
            pool = with_features(pool, features)
    splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
    if imbalance > 1:
        kept = imbalanced_subset(np.flatnonzero(splits == Split.TRAIN.value), pool.labels,
                                 len(pool.class_names), imbalance, cfg.project.seed)
        kept = np.sort(np.concatenate([kept, np.flatnonzero(splits != Split.TRAIN.value)]))
        pool, splits = pool.subset(kept), splits[kept]
        features = None if features is None else features[torch.from_numpy(kept)]
        echo(_imbalance_line(pool, splits, imbalance))
    if cfg.loop.batch_growth > 1:
        echo(f"label schedule (loop.batch_growth {cfg.loop.batch_growth:g}): "
             f"{describe_schedule(cfg.loop)}")
    for line in cost_lines(cfg.strategy, strategies, cost, pool.class_names):
        echo(line)
    found, notes = _resolve(cfg, pool, splits, imbalance, goals, echo, progress)
    write_targets(out_dir, found, notes)
    try:
        for seed in seeds:
            for name in strategies:
                run_dir = out_dir / "runs" / f"{name}-seed{seed}"
                _fresh(run_dir)
                SimulatedRun(cfg, pool, name, seed, run_dir, progress, features,
                             splits, cost).run(on_round)
    finally:
        if records and figures is not None:
            lines: dict[str, list[float]] = {}
            for t in found:
                lines.setdefault(t.metric, []).append(t.value)
            figures.draw(records, out_dir, cfg.loop.batch_growth > 1 or None, lines)
    return records


def _resolve(cfg: Config, pool: Pool, splits: np.ndarray, imbalance: float,
             goals: TargetSpec | None, echo: Callable[[str], None],
             progress: bool) -> tuple[list[Target], list[str]]:
    """The targets of goals, measuring (or reading the cache of) the full-data value when
    a fraction needs it, and the lines saying where that value came from (echoed, with
    one line per target)."""
    if goals is None:
        return [], []
    notes = []
    if not goals.needs_full_data:
        if goals.full_data is not None:
            notes.append(f"full-data {goals.metric} {goals.full_data:.3f} (given)")
        found = goals.resolve(source="given")
    else:
        echo("full-data reference: training on every train item once (cached for reuse)")
        reference = full_data(cfg, pool, splits, imbalance, progress)
        notes.append(reference.describe())
        found = goals.resolve(reference.value(goals.metric),
                              "cached" if reference.cached else "measured")
    for line in notes:
        echo(line)
    for t in found:
        echo(f"target: {t.name}{f' ({t.note})' if t.note else ''}")
    return found, notes


def _imbalance_line(pool: Pool, splits: np.ndarray, ratio: float) -> str:
    train = pool.labels[splits == Split.TRAIN.value]
    counts = ", ".join(f"{name} {int((train == k).sum())}"
                       for k, name in enumerate(pool.class_names))
    return (f"imbalance {ratio:g}: train items per class {counts} ({len(train)} in all; "
            "test and validation unchanged)")


def _fresh(run_dir: Path) -> None:
    """A new run replaces an earlier one of the same strategy and seed."""
    state = state_path(run_dir)  # with SQLite's write-ahead log and shared memory
    for path in (state, state.with_name(f"{state.name}-wal"),
                 state.with_name(f"{state.name}-shm"), run_dir / "model.pt",
                 run_dir / "lead_times.csv"):
        path.unlink(missing_ok=True)

