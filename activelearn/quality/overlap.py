"""How many annotators see each task (Label Studio's overlap)."""

from __future__ import annotations

from activelearn.kinds import BatchKind


def task_overlap(kind: str, rank: int, size: int, overlap: int, fraction: float,
                 holdout_overlap: int) -> int:
    """Annotations wanted for the task of the item at `rank` in a batch of `size`:
    holdout tasks get holdout_overlap, gold tasks overlap, and initial and query batches
    overlap for their first round(fraction * size) items (the most uncertain), 1 after."""
    if kind == BatchKind.HOLDOUT.value:
        return holdout_overlap
    if kind == BatchKind.GOLD.value:
        return overlap
    return overlap if rank < int(round(fraction * size)) else 1
