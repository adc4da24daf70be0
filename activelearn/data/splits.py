"""Train / validation / test splits (seed article 3.6), drawn once and stratified."""

from __future__ import annotations

import numpy as np

from activelearn.config import SplitsConfig
from activelearn.kinds import UNKNOWN_LABEL, Split


def stratified_sample(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of about `fraction` of the items of every class (labels: [items])."""
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        take = int(round(fraction * len(members)))
        chosen.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def assign_splits(labels: np.ndarray, is_test: np.ndarray, cfg: SplitsConfig,
                  seed: int) -> np.ndarray:
    """Split name per item (labels, is_test: [items]) -> [items] array of Split values.

    Evaluation data is the source's own test part when it has one (and
    cfg.source_test), else a stratified cfg.test_fraction of the labeled items.
    A stratified cfg.validation_fraction of the evaluation data becomes validation.
    Unlabeled items always stay in the train pool.
    """
    rng = np.random.default_rng(seed)
    split = np.full(len(labels), Split.TRAIN.value, dtype=object)
    known = labels != UNKNOWN_LABEL
    if cfg.source_test and is_test.any():
        evaluation = np.flatnonzero(is_test & known)
        split[is_test & ~known] = Split.TEST.value  # unlabeled test items: never candidates
    else:
        labeled = np.flatnonzero(known)
        evaluation = labeled[stratified_sample(labels[labeled], cfg.test_fraction, rng)]
    split[evaluation] = Split.TEST.value
    validation = evaluation[stratified_sample(labels[evaluation], cfg.validation_fraction, rng)]
    split[validation] = Split.VALIDATION.value
    return split
