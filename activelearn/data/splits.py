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


def imbalanced_counts(counts: np.ndarray, ratio: float) -> np.ndarray:
    """How many items of each class an imbalanced train split keeps (counts: [classes]
    the items of each class, in class-index order): class k aims at
    largest / ratio^(k / (classes - 1)), from the largest class count down to
    largest / ratio for the last class, never more than the class has nor fewer than 1
    (a class with no items keeps none). ratio 1 keeps every item."""
    counts = np.asarray(counts, dtype=np.int64)
    if ratio <= 1 or len(counts) < 2:
        return counts.copy()
    largest = counts.max()
    steps = np.arange(len(counts)) / (len(counts) - 1)
    aims = np.maximum(1, np.round(largest / ratio ** steps)).astype(np.int64)
    return np.minimum(counts, aims)


def imbalanced_subset(positions: np.ndarray, labels: np.ndarray, classes: int, ratio: float,
                      seed: int) -> np.ndarray:
    """A class-imbalanced sample of the given pool positions (the train split's):
    [kept] positions, ascending, with imbalanced_counts of each class drawn at random
    (seeded). positions: [items]; labels: [pool items] class indices out of `classes`;
    positions whose label is not a class index (unlabeled) are all kept."""
    positions = np.asarray(positions, dtype=np.int64)
    own = labels[positions]
    rng = np.random.default_rng(seed)
    counts = np.array([(own == k).sum() for k in range(classes)], dtype=np.int64)
    keep = imbalanced_counts(counts, ratio)
    kept = [positions[(own < 0) | (own >= classes)]]
    for k in range(classes):
        members = positions[own == k]
        kept.append(rng.permutation(members)[:keep[k]])
    return np.sort(np.concatenate(kept))
