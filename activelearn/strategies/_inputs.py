"""Fetch and check the arrays a strategy reads from its SelectionInput."""

from __future__ import annotations

import logging

import numpy as np

from activelearn.strategies.base import SelectionInput, finite_rows

log = logging.getLogger(__name__)

# How many axes each SelectionInput field has; see its docstring for their meaning.
_NDIM = {"probs": 2, "embeddings": 2, "mc_probs": 3, "labeled_embeddings": 2}
# Rows per block of float32_copy: 65,536 x 512 float16 read at a time (64 MiB).
BLOCK_ROWS = 65536


def check(inp: SelectionInput, field: str, strategy: str) -> np.ndarray:
    """The array `field` of `inp` as it came (float16, a memmap: no copy), checked for
    presence and shape.

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
    array = np.asarray(value)
    if array.ndim != _NDIM[field]:
        raise ValueError(f"{field} must have {_NDIM[field]} axes, got shape {array.shape}")
    if field != "labeled_embeddings" and array.shape[0] != inp.size:
        raise ValueError(f"{field} has {array.shape[0]} rows for {inp.size} candidates")
    return array


def require(inp: SelectionInput, field: str, strategy: str) -> np.ndarray:
    """The float32 array `field` of `inp`, checked (see `check`); a copy unless it
    already is float32."""
    return np.asarray(check(inp, field, strategy), dtype=np.float32)


def float32_copy(array: np.ndarray) -> np.ndarray:
    """array: [rows, dim] of any float dtype -> a new float32 array the caller may edit.

    Converted in blocks: a float16 memmap of 1,000,000 x 512 (1 GB) becomes one 2 GB
    array, without a second full-size temporary.
    """
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, len(array), BLOCK_ROWS):
        out[start:start + BLOCK_ROWS] = array[start:start + BLOCK_ROWS]
    return out


def zero_non_finite_rows(array: np.ndarray, field: str) -> np.ndarray:
    """array: [rows, ...] with every row holding a NaN or inf replaced by zeros.

    Distance-based strategies would otherwise propagate NaN into every distance
    and pick arbitrarily; a zero row is just an unremarkable point.
    """
    bad = ~finite_rows(array)
    if not bad.any():
        return array
    log.warning("%s: %d of %d rows are not finite; treating them as zeros",
                field, int(bad.sum()), len(array))
    array = array.copy()
    array[bad] = 0.0
    return array
