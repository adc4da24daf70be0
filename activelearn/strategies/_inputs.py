"""Fetch and check the arrays a strategy reads from its SelectionInput."""

from __future__ import annotations

import logging

import numpy as np

from activelearn.strategies.base import SelectionInput

log = logging.getLogger(__name__)

# How many axes each SelectionInput field has; see its docstring for their meaning.
_NDIM = {"probs": 2, "embeddings": 2, "mc_probs": 3, "labeled_embeddings": 2}


def require(inp: SelectionInput, field: str, strategy: str) -> np.ndarray:
    """The float32 array `field` of `inp`, checked for presence and shape.

    Every field but labeled_embeddings must have one row per candidate. A missing
    field means the loop ignored the strategy's declared needs, so it is a bug
    (ValueError), not a user error.
    """
    value = getattr(inp, field)
    if value is None:
        raise ValueError(
            f"strategy {strategy!r} needs {field}, but none was passed; "
            f"the loop must honour the strategy's needs_* attributes"
        )
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != _NDIM[field]:
        raise ValueError(f"{field} must have {_NDIM[field]} axes, got shape {array.shape}")
    if field != "labeled_embeddings" and array.shape[0] != inp.size:
        raise ValueError(f"{field} has {array.shape[0]} rows for {inp.size} candidates")
    return array


def zero_non_finite_rows(array: np.ndarray, field: str) -> np.ndarray:
    """array: [rows, ...] with every row holding a NaN or inf replaced by zeros.

    Distance-based strategies would otherwise propagate NaN into every distance
    and pick arbitrarily; a zero row is just an unremarkable point.
    """
    bad = ~np.isfinite(array).reshape(len(array), -1).all(axis=1)
    if not bad.any():
        return array
    log.warning("%s: %d of %d rows are not finite; treating them as zeros",
                field, int(bad.sum()), len(array))
    array = array.copy()
    array[bad] = 0.0
    return array
