"""The shared vocabulary of every layer: splits, batch kinds, round statuses and the two
label sentinels, and how a class is named on a command line (find_class). It imports
nothing of activelearn, so anything may import it."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

# The label of a source item without ground truth (an unlabelled photo).
UNKNOWN_LABEL = -1
# label_history.label of an item whose label was taken away (a tie between annotators,
# or every annotation of it cancelled or rejected): it is not trained on until resolved.
NO_LABEL = -1


class Split(str, Enum):
    TRAIN = "train"  # the pool: candidates for labelling, labeled ones are trained on
    VALIDATION = "validation"
    TEST = "test"
    HOLDOUT = "holdout"  # pool items labelled by people for evaluation only, never trained on


class RoundStatus(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BatchKind(str, Enum):
    HOLDOUT = "holdout"  # random, human-labelled, evaluation only
    INITIAL = "initial"  # random, the first training labels
    QUERY = "query"  # chosen by the strategy
    GOLD = "gold"  # gold items mixed into a query round (quality.gold_rate); pushed as query


def find_class(name: str, class_names: Sequence[str]) -> int | None:
    """The index of a class given on a command line: its name (exact, else ignoring case
    when that is unambiguous) or its index; None when it is neither."""
    if name in class_names:
        return list(class_names).index(name)
    folded = [k for k, c in enumerate(class_names) if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    if name.isdigit() and int(name) < len(class_names):
        return int(name)
    return None
