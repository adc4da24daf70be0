"""A model trained on some of a simulated pool's items and evaluated on its test and
validation splits: what each `simulate` round does, and the full-data reference run
(full_data.py) does once with every train item, so both use one recipe."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.kinds import Split
from activelearn.learn.fit import Fitted, fit
from activelearn.learn.inference import Normalizer
from activelearn.learn.metrics import Metrics


@dataclass
class Trained:
    """One round's model and its evaluation (test and validation: None when the split is
    empty), with the seconds the evaluation took."""

    fitted: Fitted
    test: Metrics | None
    validation: Metrics | None
    eval_seconds: float


def train_and_evaluate(cfg: Config, pool: Pool, splits: np.ndarray, norm: Normalizer,
                       train_idx: np.ndarray, seed: int, device: torch.device,
                       progress: bool) -> Trained:
    """A model trained on the pool positions train_idx (learn.fit, as the train job
    trains), evaluated on the test and validation splits. splits: [items] Split values.
    With training.semi_supervised the other train-split items are its unlabelled set."""
    unlabeled = None
    if cfg.training.semi_supervised.enabled:
        rest = np.setdiff1d(np.flatnonzero(splits == Split.TRAIN.value), train_idx)
        unlabeled = pool.images[torch.from_numpy(rest)]
    fitted = fit(pool.images[torch.from_numpy(train_idx)], pool.labels[train_idx],
                 len(pool.class_names), cfg.model, cfg.training, norm, seed,
                 device, cfg.strategy.score_batch_size, progress, unlabeled)
    start = time.perf_counter()
    found = {}
    for name in ("test", "validation"):
        idx = np.flatnonzero(splits == name)
        if len(idx):
            found[name] = fitted.predictor.evaluate(pool.images[torch.from_numpy(idx)],
                                                    pool.labels[idx])
    return Trained(fitted, found.get("test"), found.get("validation"),
                   time.perf_counter() - start)


def worst_class(metrics: Metrics, class_names: list[str]) -> tuple[float, str] | None:
    """(recall, class name) of the class with the lowest recall among the classes the
    split holds (support above 0); the first such class on a tie; None for no class."""
    present = [k for k, n in enumerate(metrics.support) if n > 0]
    if not present:
        return None
    k = min(present, key=lambda c: metrics.recall[c])
    name = class_names[k] if k < len(class_names) else f"class {k}"
    return float(metrics.recall[k]), name


def metric_fields(trained: Trained, class_names: list[str]) -> dict[str, Any]:
    """A round record's evaluation keys: test accuracy, macro-F1, worst-class recall and
    its class; validation accuracy and macro-F1 (None where a split is empty)."""
    test, val = trained.test, trained.validation
    worst = worst_class(test, class_names) if test else None
    return {
        "accuracy": test.accuracy if test else None,
        "macro_f1": test.macro_f1 if test else None,
        "worst_recall": worst[0] if worst else None,
        "worst_class": worst[1] if worst else None,
        "val_accuracy": val.accuracy if val else None,
        "val_macro_f1": val.macro_f1 if val else None,
    }
