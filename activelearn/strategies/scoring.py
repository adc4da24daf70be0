"""Score-and-rank strategies: a subclass writes only `compute_score`.

The base class feeds it the predictions its needs declare, ranks the scores
(higher is more informative), puts non-finite scores last and breaks ties in a
seeded random order, so equal scores do not always favour the earliest candidates.
With strategy.cost_weighted it ranks by score per expected second (cost.per_second).
"""

from __future__ import annotations

import logging

import numpy as np

from activelearn.strategies._inputs import require
from activelearn.strategies.base import Selection, SelectionInput, Strategy
from activelearn.strategies.cost import per_second

log = logging.getLogger(__name__)


class ScoringStrategy(Strategy):
    """Pick the n candidates with the highest `compute_score`.

    A strategy that declares needs_mc_dropout is scored on mc_probs, any other on probs.
    When the input carries expected seconds, the ranking score (and the Selection's
    scores) is the score per expected second.
    """

    ranks_by_score = True

    def compute_score(self, predictions: np.ndarray) -> np.ndarray:
        """Informativeness per candidate; higher is picked first.

        predictions: [candidates, classes] probs, or [candidates, classes, passes]
        mc_probs when the strategy declares needs_mc_dropout.
        Returns [candidates].
        """
        raise NotImplementedError

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        field = "mc_probs" if self.needs_mc_dropout else "probs"
        scores = np.asarray(self.compute_score(require(inp, field, self.name)), dtype=np.float64)
        if scores.shape != (inp.size,):
            raise ValueError(f"{self.name}: scores have shape {scores.shape}, want ({inp.size},)")
        if inp.seconds is not None:
            scores = per_second(scores, np.asarray(inp.seconds, dtype=np.float64))
        positions = rank_by_score(scores, n, rng)
        return Selection(positions=positions, scores=scores[positions])


def rank_by_score(scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the n highest scores, best first.

    scores: [candidates]. Non-finite scores rank after every finite one: a NaN means
    the model produced garbage for that item, not that the item is informative.
    Equal scores come out in an order drawn from rng.
    Returns [n] int64.
    """
    finite = np.isfinite(scores)
    if not finite.all():
        log.warning("%d of %d scores are not finite; ranking them last",
                    int((~finite).sum()), len(scores))
    keys = np.where(finite, scores, -np.inf)
    # A stable sort of a shuffled list: ties keep the shuffled (seeded) order.
    shuffled = rng.permutation(len(scores))
    order = shuffled[np.argsort(-keys[shuffled], kind="stable")]
    return order[:n].astype(np.int64)
