"""Cost-weighted ranking (strategy.cost_weighted): informativeness per expected second of
annotation time.

An item's expected seconds are the median lead time of its predicted class (the argmax
of the model's probabilities), as measured from the annotations so far; the controller
computes them per class (quality.throughput.median_seconds_by_class) and passes them
here. Only a strategy that ranks_by_score can be weighted: the others have no per-item
score to divide.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from activelearn.errors import ConfigError
from activelearn.strategies.base import SelectionInput, Strategy

log = logging.getLogger(__name__)


def check_weightable(strategy: Strategy) -> None:
    """Raise ConfigError when strategy has no per-item score to weight by cost."""
    if not strategy.ranks_by_score:
        raise ConfigError(
            f"strategy.cost_weighted: {strategy.name} has no per-item informativeness "
            "score to divide by the expected seconds; use a score-and-rank strategy "
            "(margin, entropy, least-confidence, bald) or set cost_weighted: false")


def class_seconds_array(class_seconds: Sequence[float], classes: int) -> np.ndarray | None:
    """[classes] expected seconds per class, each finite and positive: a class whose
    value is not (a lead time of 0, a NaN from broken data) gets the median of the
    others. None when no class has a usable value (then nothing is weighted)."""
    seconds = np.asarray(class_seconds, dtype=np.float64).reshape(-1)
    if len(seconds) != classes:
        raise ValueError(f"class seconds for {len(seconds)} classes, the model has {classes}")
    usable = np.isfinite(seconds) & (seconds > 0)
    if not usable.any():
        log.warning("cost weighting: no class has a positive, finite median lead time; "
                    "ranking by score alone")
        return None
    if not usable.all():
        log.warning("cost weighting: %d classes have an unusable median lead time; they "
                    "get the median of the others", int((~usable).sum()))
    return np.where(usable, seconds, float(np.median(seconds[usable])))


def with_expected_seconds(strategy: Strategy, inp: SelectionInput,
                          class_seconds: Sequence[float]) -> SelectionInput:
    """inp with seconds: [candidates] the expected seconds of each candidate's predicted
    class (probs' argmax). class_seconds: [classes]. Raises ConfigError for a strategy
    that does not rank by score."""
    check_weightable(strategy)
    per_class = class_seconds_array(class_seconds, int(inp.probs.shape[1]))
    if per_class is None:
        return inp
    predicted = np.asarray(inp.probs).argmax(axis=1)
    return dataclasses.replace(inp, seconds=per_class[predicted])


def per_second(scores: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """scores: [candidates] informativeness (higher first), seconds: [candidates] > 0 ->
    [candidates] the ranking score per expected second.

    A positive score is divided by the seconds. A score at or below 0 (BALD's rounding
    can give -1e-7) is multiplied instead: dividing would rank a costlier item higher.
    Either way the cheaper of two items with equal scores ranks first, and every
    positive score ranks above every other. Non-finite scores stay non-finite (ranked
    last by rank_by_score)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(scores > 0, scores / seconds, scores * seconds)
