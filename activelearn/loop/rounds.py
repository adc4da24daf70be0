"""One round's steps as plain functions; collaborators are passed in.

The same functions run in `simulate`, in the Label Studio cycle and in workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.metrics import Metrics
from activelearn.learn.models import InputSpec, SplitModel, build_model
from activelearn.learn.training import TrainResult, train_model
from activelearn.strategies import Selection, SelectionInput, Strategy


def input_spec(pool: Pool) -> InputSpec:
    _, channels, height, width = pool.images.shape
    return InputSpec(channels, height, width, len(pool.class_names))


@dataclass
class Trained:
    model: SplitModel
    predictor: Predictor
    result: TrainResult
    test: Metrics | None
    validation: Metrics | None
    eval_seconds: float


def train_and_evaluate(pool: Pool, train_idx: np.ndarray, labels: np.ndarray,
                       splits: np.ndarray, cfg: Config, norm: Normalizer, seed: int,
                       device: torch.device, progress: bool) -> Trained:
    """Train a fresh model on pool positions train_idx with labels ([n]), then evaluate it
    on the test and validation splits (splits: [items] split names)."""
    torch.manual_seed(seed)
    model = build_model(cfg.model.name, input_spec(pool), cfg.model.dropout)
    result = train_model(model, pool.images[torch.from_numpy(train_idx)], labels,
                         cfg.training, norm, seed, device, progress)
    start = time.perf_counter()
    predictor = Predictor(model, norm, device, cfg.strategy.score_batch_size)
    found = {}
    for name in ("test", "validation"):
        idx = np.flatnonzero(splits == name)
        if len(idx):
            found[name] = predictor.evaluate(pool.images[torch.from_numpy(idx)],
                                             pool.labels[idx])
    return Trained(model, predictor, result, found.get("test"), found.get("validation"),
                   time.perf_counter() - start)


def score_for(strategy: Strategy, predictor: Predictor, pool: Pool, candidates: np.ndarray,
              labeled: np.ndarray, mc_passes: int, progress: bool) -> SelectionInput:
    """Run the model over the candidate positions, computing only what the strategy needs."""
    scores = predictor(pool.images[torch.from_numpy(candidates)],
                       embeddings=strategy.needs_embeddings,
                       mc_passes=mc_passes if strategy.needs_mc_dropout else 0,
                       progress=progress)
    labeled_emb = None
    if strategy.needs_labeled_embeddings:
        labeled_emb = predictor(pool.images[torch.from_numpy(labeled)], embeddings=True,
                                desc="embed labeled").embeddings
    return SelectionInput(scores.probs, scores.embeddings, scores.mc_probs, labeled_emb)


def candidate_positions(unlabeled: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The unlabeled positions to score: all of them, or a seeded random subset of `limit`."""
    if limit <= 0 or limit >= len(unlabeled):
        return unlabeled
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(unlabeled, size=limit, replace=False))


def select(strategy: Strategy, inp: SelectionInput, candidates: np.ndarray, n: int,
           seed: int) -> tuple[np.ndarray, Selection]:
    """Pool positions of the selected batch (best first) and the strategy's selection."""
    sel = strategy.select(inp, n, seed)
    return candidates[sel.positions], sel
