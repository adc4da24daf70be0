"""The query-strategy extension point: one small interface, one registry.

A strategy sees only the candidates (unlabeled items that are not queued) and
returns positions into that candidate list. The loop maps positions to item ids,
so a strategy can never pick an item that is already labeled or queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from activelearn.errors import PoolExhaustedError, UnknownNameError


@dataclass
class SelectionInput:
    """What the model said about the candidates (and, for diversity, the labeled set).

    probs: [candidates, classes] softmax probabilities (float32)
    embeddings: [candidates, dim] penultimate-layer features, when the strategy needs them
    mc_probs: [candidates, classes, passes] MC-dropout probabilities, when it needs them
    labeled_embeddings: [labeled, dim] features of the labeled training items (core-set)
    """

    probs: np.ndarray
    embeddings: np.ndarray | None = None
    mc_probs: np.ndarray | None = None
    labeled_embeddings: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.probs.shape[0])


@dataclass
class Selection:
    """positions: [n] indices into the candidate list, best first; scores: [n] their scores."""

    positions: np.ndarray
    scores: np.ndarray


class Strategy:
    """Base class. Subclasses implement `_select`; `select` checks the contract.

    Needs are declared as attributes so the loop computes only what is used.
    """

    name: ClassVar[str] = ""
    needs_embeddings: ClassVar[bool] = False
    needs_mc_dropout: ClassVar[bool] = False
    needs_labeled_embeddings: ClassVar[bool] = False

    def select(self, inp: SelectionInput, n: int, seed: int) -> Selection:
        """Pick n distinct candidates, deterministically for a given seed."""
        if n <= 0:
            raise ValueError(f"batch size must be positive, got {n}")
        if n > inp.size:
            raise PoolExhaustedError(available=inp.size, requested=n)
        sel = self._select(inp, n, np.random.default_rng(seed))
        positions = np.asarray(sel.positions, dtype=np.int64)
        if len(positions) != n or len(np.unique(positions)) != n:
            raise RuntimeError(f"strategy {self.name} returned {len(positions)} positions "
                               f"({len(np.unique(positions))} distinct) for a batch of {n}")
        return Selection(positions=positions, scores=np.asarray(sel.scores, dtype=np.float64))

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        raise NotImplementedError


_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its `name`."""
    _REGISTRY[cls.name] = cls
    return cls


def get_strategy(name: str) -> Strategy:
    """Instantiate a registered strategy by name; an unknown name lists the available ones."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise UnknownNameError("strategy", name, list(_REGISTRY)) from None


def available_strategies() -> list[str]:
    return sorted(_REGISTRY)
