"""Relabel or label new (quality.relabel_fraction): part of a selected batch goes to
items whose annotators disagreed, as a request for one more annotation, instead of to
new items.

Another annotation helps most where it decides the label: a tie (no label at all until
it is broken) before a 2-1 split, a 2-1 split before a 3-1 one. Among equal margins the
item with fewer annotations goes first (one vote weighs more there), then the one the
model was least sure of when it was selected (its suggestion's confidence, free from
state). The request raises the task's overlap in Label Studio by one and reopens it, so
Label Studio serves it again; the next pull resolves the majority as usual.
"""

from __future__ import annotations

import logging

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.config import QualityConfig
from activelearn.state import Store
from activelearn.state.relabels import Disputed

log = logging.getLogger("activelearn.relabel")


def margin(votes: dict[int, int]) -> int:
    """Votes of the leading label minus those of the runner-up (0: a tie)."""
    ranked = sorted(votes.values(), reverse=True) + [0]
    return ranked[0] - ranked[1]


def rank_disputed(items: list[Disputed]) -> list[Disputed]:
    """The items in the order another annotation helps most (see the module)."""
    return sorted(items, key=lambda d: (margin(d.votes), d.annotations,
                                        1.0 if d.confidence is None else d.confidence,
                                        d.item_id))


def request_relabels(store: Store, quality: QualityConfig, round_: int, n: int) -> int:
    """Record requests for one more annotation of up to relabel_fraction of a batch of n
    (never all of it; the new items keep at least one place). Returns how many."""
    count = min(int(round(n * quality.relabel_fraction)), n - 1)
    if count <= 0:
        return 0
    earlier = store.relabel_request_count(round_)
    if earlier:  # a rerun of the round's select phase: the requests stand
        return earlier
    chosen = rank_disputed(store.disputed(quality.relabel_max_annotations))[:count]
    store.add_relabel_requests(round_, [(d.item_id, d.task_id, d.annotations,
                                         d.annotations + 1) for d in chosen])
    log.info("round %d: %d disputed items asked for another annotation", round_, len(chosen))
    return len(chosen)


def apply_relabels(store: Store, backend: LabelStudioBackend, round_: int) -> int:
    """Raise the overlap of the tasks of this round's unsent requests in Label Studio
    (idempotent: the overlap is set, not added to). Returns how many tasks."""
    pending = store.unapplied_relabels(round_)
    by_overlap: dict[int, list[int]] = {}
    for _, task_id, overlap in pending:
        by_overlap.setdefault(overlap, []).append(task_id)
    for overlap, task_ids in by_overlap.items():
        backend.set_task_overlap(task_ids, overlap, reopen=True)
    store.mark_relabels_applied(round_, [item_id for item_id, _, _ in pending])
    return len(pending)
