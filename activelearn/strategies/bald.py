"""BALD (Houlsby et al. 2011; Gal et al. 2017) on MC-dropout passes."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.base import register_strategy
from activelearn.strategies.scoring import ScoringStrategy
from activelearn.strategies.uncertainty import entropy

# Candidates per block: bounds the [block, classes, passes] temporaries of the entropy.
_BLOCK = 8192


@register_strategy
class Bald(ScoringStrategy):
    """Prefer items the dropout passes disagree on: I(y; w) = H(mean p) - mean H(p).

    An item every pass finds ambiguous scores low (the noise is in the data, more
    labels of it teach little); one where passes are each confident but disagree
    scores high.
    """

    name = "bald"
    needs_mc_dropout = True

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        """predictions: [candidates, classes, passes] mc_probs -> [candidates] in nats"""
        scores = np.empty(len(predictions), dtype=np.float32)
        for start in range(0, len(predictions), _BLOCK):
            block = predictions[start:start + _BLOCK]
            mean_entropy = entropy(block, axis=1).mean(axis=1)
            scores[start:start + _BLOCK] = entropy(block.mean(axis=2), axis=1) - mean_entropy
        return scores
