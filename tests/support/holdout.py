"""A project's items recorded and a holdout drawn, as a first cycle leaves them before
pretraining (what `activelearn pretrain` and the pretrain job need first)."""

from __future__ import annotations

from activelearn.kinds import BatchKind, Split
from activelearn.loop.clean import record_items
from activelearn.project import Project


def draw_holdout(project: Project, size: int = 30) -> int:
    """Record the pool's items in state and move the first `size` train items to the
    holdout; returns how many train items are left."""
    with project.store() as store:
        pool = project.open_pool(store)
        record_items(store, pool, project.cfg.splits, 0)
        held = [i for i, s in store.items.splits().items() if s == "train"][:size]
        store.batches.add(0, BatchKind.HOLDOUT, "random", 0, None, [(i, 0.0) for i in held],
                          move_to=Split.HOLDOUT)
        return sum(s == "train" for s in store.items.splits().values())
