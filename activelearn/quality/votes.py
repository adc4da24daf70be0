"""Turning annotators' votes into a label."""

from __future__ import annotations

from collections import Counter

from activelearn.kinds import NO_LABEL


def majority(votes: list[int]) -> int:
    """The label most annotations chose, or NO_LABEL on a tie (or no votes)."""
    ranked = Counter(votes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return NO_LABEL
    return ranked[0][0]
