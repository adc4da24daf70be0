"""Relabel or label new (quality.relabel_fraction): part of a selected batch goes to
items whose annotators disagreed, as a request for one more annotation, instead of to
new items. Which ones is decided by quality.relabel.rank_disputed; the request raises
the task's overlap in Label Studio by one and reopens it, so Label Studio serves it
again, and the next pull resolves the majority as usual.
"""

from __future__ import annotations

import logging

from activelearn.annotation import AnnotationBackend
from activelearn.config import QualityConfig
from activelearn.quality.relabel import rank_disputed
from activelearn.state import Store

log = logging.getLogger("activelearn.relabel")


def request_relabels(store: Store, quality: QualityConfig, round_: int, n: int) -> int:
    """Record requests for one more annotation of up to relabel_fraction of a batch of n
    (never all of it; the new items keep at least one place). Returns how many."""
    count = min(int(round(n * quality.relabel_fraction)), n - 1)
    if count <= 0:
        return 0
    earlier = store.relabels.count(round_)
    if earlier:  # a rerun of the round's select phase: the requests stand
        return earlier
    chosen = rank_disputed(store.relabels.disputed(quality.relabel_max_annotations))[:count]
    store.relabels.add(round_, [(d.item_id, d.task_id, d.annotations, d.annotations + 1)
                                for d in chosen])
    log.info("round %d: %d disputed items asked for another annotation", round_, len(chosen))
    return len(chosen)


def apply_relabels(store: Store, backend: AnnotationBackend, round_: int) -> int:
    """Raise the overlap of the tasks of this round's unsent requests in Label Studio
    (idempotent: the overlap is set, not added to). Returns how many tasks."""
    pending = store.relabels.unapplied(round_)
    by_overlap: dict[int, list[int]] = {}
    for _, task_id, overlap in pending:
        by_overlap.setdefault(overlap, []).append(task_id)
    for overlap, task_ids in by_overlap.items():
        backend.tasks.set_overlap(task_ids, overlap, reopen=True)
    store.relabels.mark_applied(round_, [item_id for item_id, _, _ in pending])
    return len(pending)
