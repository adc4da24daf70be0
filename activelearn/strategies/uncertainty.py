"""Uncertainty sampling on the softmax output: least confidence, margin, entropy."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.base import register_strategy
from activelearn.strategies.scoring import ScoringStrategy


def entropy(probs: np.ndarray, axis: int = 1) -> np.ndarray:
    """Shannon entropy in nats along `axis`, taking 0 log 0 = 0.

    probs: [candidates, classes] (axis=1) or [candidates, classes, passes] (axis=1).
    Returns probs' shape without `axis`.
    """
    safe = np.where(probs > 0, probs, 1.0)
    return -(probs * np.log(safe)).sum(axis=axis)


@register_strategy
class LeastConfidence(ScoringStrategy):
    """Prefer items whose most likely class has the lowest probability: 1 - max p."""

    name = "least-confidence"

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        """predictions: [candidates, classes] -> [candidates]"""
        return 1.0 - predictions.max(axis=1)


@register_strategy
class Margin(ScoringStrategy):
    """Prefer items whose two most likely classes are closest: 1 - (p1 - p2)."""

    name = "margin"

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        """predictions: [candidates, classes >= 2] -> [candidates]"""
        if predictions.shape[1] < 2:
            raise ValueError(f"margin needs at least 2 classes, got {predictions.shape[1]}")
        top_two = np.partition(predictions, -2, axis=1)[:, -2:]
        return 1.0 - (top_two[:, 1] - top_two[:, 0])


@register_strategy
class Entropy(ScoringStrategy):
    """Prefer items whose predicted distribution is most spread: -sum p log p."""

    name = "entropy"

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        """predictions: [candidates, classes] -> [candidates]"""
        return entropy(predictions, axis=1)
