"""Random sampling: the baseline every other strategy has to beat."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy


@register_strategy
class RandomSampling(Strategy):
    """A seeded uniform sample without replacement; every score is 0."""

    name = "random"

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        positions = rng.choice(inp.size, size=n, replace=False)
        return Selection(positions=positions, scores=np.zeros(n))
