"""`data.limit` / `data.test_limit`: keep a deterministic, label-stratified subset."""

from __future__ import annotations

import numpy as np

from activelearn.errors import ConfigError
from activelearn.kinds import UNKNOWN_LABEL


def check_limit(key: str, value: int | None) -> None:
    """Raise ConfigError for a negative limit (0 is allowed: it drops that part)."""
    if value is not None and value < 0:
        raise ConfigError(f"data.{key}: must be 0 or more, got {value}")


def round_robin(labels: np.ndarray) -> np.ndarray:
    """Positions in round-robin order over classes: the 1st item of every class, then the 2nd...

    labels: [items] int64 (UNKNOWN_LABEL for unlabeled items, which form one more group
    after the classes). Within a class, items keep their position order, so callers pass
    items in id order. Taking the first N positions gives a stratified, deterministic subset.
    Returns: [items] int64 positions.
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Unlabeled items sort after every class so that each round serves classes first.
    keys = np.where(labels == UNKNOWN_LABEL, labels.max() + 1, labels)
    by_key = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_key]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_keys)) + 1])
    sizes = np.diff(np.concatenate([starts, [n]]))
    rank = np.empty(n, dtype=np.int64)
    rank[by_key] = np.arange(n) - np.repeat(starts, sizes)
    return np.lexsort((keys, rank)).astype(np.int64)


def limited_positions(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Ascending positions of at most `limit` items chosen by round_robin (all when None).

    labels: [items] int64 in id order. Returns: [kept] int64 positions.
    """
    if limit is None or limit >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    return np.sort(round_robin(labels)[:limit])
