"""The query-strategy extension point: one small interface, one registry.

A strategy sees only the candidates (unlabeled items that are not queued) and
returns positions into that candidate list. The loop maps positions to item ids,
so a strategy can never pick an item that is already labeled or queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from activelearn.config.registry import Registry
from activelearn.errors import PoolExhaustedError

# Rows per block of the finiteness check (65,536 x 512 booleans: 32 MiB).
_FINITE_BLOCK = 65536


@dataclass
class SelectionInput:
    """What the model said about the candidates (and, for diversity, the labeled set).

    probs: [candidates, classes] softmax probabilities (float32)
    embeddings: [candidates, dim] penultimate-layer features, when the strategy needs them
        (float32, or float16 and memmapped for large pools: no strategy makes more than
        one float32 copy of them)
    mc_probs: [candidates, classes, passes] MC-dropout probabilities, when it needs them
    labeled_embeddings: [labeled, dim] features of the labeled training items (core-set)
    seconds: [candidates] the expected seconds to label each candidate, finite and
        positive (strategy.cost_weighted, see cost.py): a strategy that ranks_by_score
        ranks by its score per expected second; None = by its score alone
    """

    probs: np.ndarray
    embeddings: np.ndarray | None = None
    mc_probs: np.ndarray | None = None
    labeled_embeddings: np.ndarray | None = None
    seconds: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.probs.shape[0])

    def subset(self, rows: np.ndarray) -> SelectionInput:
        """The same input for the candidates at rows ([k] positions) only."""
        return SelectionInput(
            self.probs[rows],
            None if self.embeddings is None else self.embeddings[rows],
            None if self.mc_probs is None else self.mc_probs[rows],
            self.labeled_embeddings,
            None if self.seconds is None else self.seconds[rows])


@dataclass
class Selection:
    """positions: [n] indices into the candidate list, best first; scores: [n] their scores."""

    positions: np.ndarray
    scores: np.ndarray


class Strategy:
    """Base class. Subclasses implement `_select`; `select` checks the contract.

    Needs are declared as attributes so the loop computes only what is used. A candidate
    with a NaN or inf in what the strategy reads (the model produced garbage for it) is
    picked only after every finite one, whatever the strategy.

    ranks_by_score: the strategy ranks the candidates by one informativeness score per
    item (scoring.ScoringStrategy), so strategy.cost_weighted can divide that score by
    the item's expected seconds (SelectionInput.seconds); the others ignore seconds.
    """

    name: ClassVar[str] = ""
    needs_embeddings: ClassVar[bool] = False
    needs_mc_dropout: ClassVar[bool] = False
    needs_labeled_embeddings: ClassVar[bool] = False
    ranks_by_score: ClassVar[bool] = False

    def select(self, inp: SelectionInput, n: int, seed: int) -> Selection:
        """Pick n distinct candidates, deterministically for a given seed."""
        if n <= 0:
            raise ValueError(f"batch size must be positive, got {n}")
        if n > inp.size:
            raise PoolExhaustedError(available=inp.size, requested=n)
        rng = np.random.default_rng(seed)
        broken = self._non_finite_rows(inp)
        sel = self._finite_first(inp, broken, n, rng) if broken.any() else \
            self._select(inp, n, rng)
        positions = np.asarray(sel.positions, dtype=np.int64)
        if len(positions) != n or len(np.unique(positions)) != n:
            raise RuntimeError(f"strategy {self.name} returned {len(positions)} positions "
                               f"({len(np.unique(positions))} distinct) for a batch of {n}")
        return Selection(positions=positions, scores=np.asarray(sel.scores, dtype=np.float64))

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        raise NotImplementedError

    def _non_finite_rows(self, inp: SelectionInput) -> np.ndarray:
        """[candidates] bool: a NaN or inf in probs or in a field the strategy needs."""
        fields = [inp.probs]
        if self.needs_embeddings and inp.embeddings is not None:
            fields.append(inp.embeddings)
        if self.needs_mc_dropout and inp.mc_probs is not None:
            fields.append(inp.mc_probs)
        broken = np.zeros(inp.size, dtype=bool)
        for array in fields:
            broken |= ~finite_rows(np.asarray(array))
        return broken

    def _finite_first(self, inp: SelectionInput, broken: np.ndarray, n: int,
                      rng: np.random.Generator) -> Selection:
        """The strategy's picks among the finite candidates, then (when n needs more)
        broken ones in seeded random order, scored like the last finite pick or lower."""
        finite = np.flatnonzero(~broken)
        k = min(n, len(finite))
        positions: np.ndarray = np.zeros(0, dtype=np.int64)
        scores: np.ndarray = np.zeros(0)
        if k:
            sel = self._select(inp.subset(finite), k, rng)
            positions = finite[np.asarray(sel.positions, dtype=np.int64)]
            scores = np.asarray(sel.scores, dtype=np.float64)
        rest = rng.permutation(np.flatnonzero(broken))[:n - k]
        floor = float(scores.min()) if len(scores) else 0.0
        return Selection(np.concatenate([positions, rest]),
                         np.concatenate([scores, np.full(len(rest), floor)]))


def finite_rows(array: np.ndarray) -> np.ndarray:
    """array: [rows, ...] -> [rows] bool, True where every value of the row is finite.

    In blocks of rows: np.isfinite of 1,000,000 x 512 embeddings at once would be a
    512 MB temporary.
    """
    out = np.empty(len(array), dtype=bool)
    for start in range(0, len(array), _FINITE_BLOCK):
        block = array[start:start + _FINITE_BLOCK]
        out[start:start + len(block)] = np.isfinite(block.reshape(len(block), -1)).all(axis=1)
    return out


_STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its `name`."""
    return _STRATEGIES.register(cls.name, cls)


def get_strategy(name: str) -> Strategy:
    """A new instance of the strategy registered as name; an unknown name is a
    ConfigError listing the available ones."""
    return _STRATEGIES.get(name)()


def available_strategies() -> list[str]:
    """The registered strategy names, sorted."""
    return _STRATEGIES.available()
