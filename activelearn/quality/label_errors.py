"""Ranking likely label errors from out-of-fold predictions (issue 6, item 4).

Pure functions over arrays, shared by the out-of-fold job (jobs/kinds/oof.py), the cycle's
review phase (review.py) and the benchmark. A model never judges the labels it trained
on: the labelled items are split into K folds and each fold is predicted by a model
trained on the other K-1 (a model memorises its own training labels, wrong ones
included, so its in-sample predictions agree with them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def assign_folds(item_ids: list[str], folds: int, seed: int) -> np.ndarray:
    """[items] fold index (0..folds-1) of each item id, balanced and deterministic in
    (the set of ids, seed): a worker and the controller compute the same folds."""
    if folds < 2:
        raise ValueError(f"out-of-fold predictions need at least 2 folds, got {folds}")
    order = np.argsort(np.array(item_ids, dtype=object))  # independent of the given order
    rng = np.random.default_rng([seed, len(item_ids)])
    out = np.empty(len(item_ids), dtype=np.int64)
    out[order[rng.permutation(len(item_ids))]] = np.arange(len(item_ids)) % folds
    return out


@dataclass(frozen=True)
class Ranking:
    """Items whose label the model contradicts, most likely wrong first.

    index: [n] positions into the arrays ranked; score: [n] 1 - p(given label);
    suggestion: [n] the model's class; confidence: [n] p(the model's class)."""

    index: np.ndarray
    score: np.ndarray
    suggestion: np.ndarray
    confidence: np.ndarray


def rank_label_errors(probs: np.ndarray, labels: np.ndarray, min_confidence: float = 0.0
                      ) -> Ranking:
    """Rank the items whose out-of-fold prediction disagrees with their label.

    probs: [items, classes] out-of-fold probabilities; labels: [items] given labels.
    Score = 1 - p(given label): how much probability the model puts elsewhere. Only items
    whose predicted class differs from the label and has p >= min_confidence are kept;
    ties break by item position, so the order is deterministic.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"probs {list(probs.shape)} and labels [{len(labels)}] disagree")
    rows = np.arange(len(labels))
    suggestion = probs.argmax(axis=1)
    confidence = probs[rows, suggestion]
    score = 1.0 - probs[rows, labels]
    keep = np.flatnonzero((suggestion != labels) & (confidence >= min_confidence))
    order = keep[np.lexsort((keep, -score[keep]))]
    return Ranking(order, score[order], suggestion[order], confidence[order])


def share_wrong_in_top(ranking: Ranking, wrong: np.ndarray, top: int) -> float:
    """The share of the first `top` ranked items that are really wrong (wrong: [items]
    bool, by array position); a short ranking counts its missing places as misses."""
    if top <= 0:
        return 0.0
    return float(np.asarray(wrong, dtype=bool)[ranking.index[:top]].sum()) / top


def recall_in_top(ranking: Ranking, wrong: np.ndarray, top: int) -> float:
    """The share of all wrong labels (wrong: [items] bool, by array position) that the
    first `top` ranked items catch (1.0 when there are none)."""
    total = int(np.asarray(wrong, dtype=bool).sum())
    if total == 0:
        return 1.0
    return float(np.asarray(wrong, dtype=bool)[ranking.index[:max(top, 0)]].sum()) / total
