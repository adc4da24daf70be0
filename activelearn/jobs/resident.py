"""What a process that runs jobs keeps loaded between them: the pool and the model.

A resident RQ worker (worker.py) and the inline executor each own one WorkerCache and
hand it to every job they run; nothing else shares it, and it lives as long as its
owner. It holds one entry per slot (one pool, one model), under the key of what the
payload asked for (the config content, the catalogue snapshot, the store; the checkpoint
file and the device): a job of another project or model version replaces the entry, so
memory stays flat whatever a worker serves.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from activelearn.data.sources.base import Pool
    from activelearn.learn.inference import Predictor

T = TypeVar("T")


class WorkerCache:
    """One loaded pool and one loaded model, each under its key; see the module."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[Hashable, Any]] = {}

    def pool(self, key: Hashable, build: Callable[[], Pool]) -> Pool:
        """The pool loaded under key, else build() (replacing the pool held before)."""
        return self._get("pool", key, build)

    def predictor(self, key: Hashable, build: Callable[[], Predictor]) -> Predictor:
        """The model loaded under key, else build() (replacing the model held before)."""
        return self._get("predictor", key, build)

    def loaded_pool(self) -> Pool | None:
        """The pool held now (None before the first job that loads one): what the worker
        reads its decoded cache's counts from after each job."""
        held = self._slots.get("pool")
        return held[1] if held is not None else None

    def _get(self, slot: str, key: Hashable, build: Callable[[], T]) -> T:
        held = self._slots.get(slot)
        if held is None or held[0] != key:
            self._slots.pop(slot, None)  # let the old one go before loading the new one
            self._slots[slot] = (key, build())
        return self._slots[slot][1]
