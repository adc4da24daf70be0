"""The stop decision `cycle` acts on, from the holdout results in the state: the outlook of
the project's holdout curve and, when a loop.stop_when criterion is met, why selection
stops. The maths and its words are quality/stopping.py's (pure functions); this module
only reads the state for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from activelearn.config import LoopConfig
from activelearn.quality.stopping import (
    ACCURACY_KEY,
    HoldoutPoint,
    Outlook,
    correct_of,
    outlook,
)
from activelearn.state import Evaluation, Store


def holdout_points(evaluations: Iterable[Evaluation],
                   current_labels: int | None = None) -> list[HoldoutPoint]:
    """The holdout result of every evaluated round, oldest first; a round still running
    (no label count yet) gets current_labels."""
    points = []
    for e in evaluations:
        if e.split == "holdout":
            correct, items = correct_of(e.payload)
            labels = e.labels if e.labels is not None else current_labels
            points.append(HoldoutPoint(e.round, labels, correct, items))
    return points


def project_outlook(store: Store, loop: LoopConfig,
                    current_labels: int | None = None) -> Outlook:
    """The outlook of the project's holdout curve (see quality.stopping.outlook)."""
    return outlook(holdout_points(store.metrics.evaluations(), current_labels), loop)


def stop_reason(store: Store, loop: LoopConfig, current_labels: int | None = None
                ) -> str | None:
    """Why `cycle` selects no new batch ("stopped by loop.stop_when: ...; to go on, ..."),
    or None: no criterion set, or none met."""
    if not loop.stop_when.enabled:
        return None
    found = project_outlook(store, loop, current_labels)
    if found.stop is None:
        return None
    how = "raise it" if found.stop_key == ACCURACY_KEY else "lower it"
    return f"stopped by {found.stop_key}: {found.stop}; to go on, {how} or set it to 0 (off)"
