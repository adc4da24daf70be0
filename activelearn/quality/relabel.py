"""Which disputed items to ask for one more annotation first (quality.relabel_fraction).

Another annotation helps most where it decides the label: a tie (no label at all until
it is broken) before a 2-1 split, a 2-1 split before a 3-1 one. Among equal margins the
item with fewer annotations goes first (one vote weighs more there), then the one the
model was least sure of when it was selected (its suggestion's confidence).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Disputed:
    """An item whose annotators disagree: votes per label index, its stored annotations,
    its live task and the model's confidence in its suggestion (None: none was made)."""

    item_id: str
    task_id: int
    votes: dict[int, int]
    annotations: int
    confidence: float | None


def margin(votes: dict[int, int]) -> int:
    """Votes of the leading label minus those of the runner-up (0: a tie)."""
    ranked = sorted(votes.values(), reverse=True) + [0]
    return ranked[0] - ranked[1]


def rank_disputed(items: list[Disputed]) -> list[Disputed]:
    """The items in the order another annotation helps most (see the module)."""
    return sorted(items, key=lambda d: (margin(d.votes), d.annotations,
                                        1.0 if d.confidence is None else d.confidence,
                                        d.item_id))
