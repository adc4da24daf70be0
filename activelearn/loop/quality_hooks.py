"""The cycle's quality hooks (issue 6): each task's overlap (how many annotators see it)
and the gold items mixed into query batches. Mixed into `Cycle` (cycle.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.config import Config
from activelearn.quality.gold import read_gold_file
from activelearn.state import BatchKind, Store


class QualityHooks:
    """Overlap and gold for a Cycle (which sets these attributes)."""

    cfg: Config
    store: Store
    backend: LabelStudioBackend
    position: dict[str, int]
    echo: Callable[[str], None]

    def _set_overlap(self, batch: dict, members: list[tuple[str, float]],
                     task_ids: dict[str, int]) -> None:
        """Lower the overlap of the batch's tasks that want fewer annotations than the
        project's maximum (Label Studio imports every task with the maximum).
        members: the batch's (item_id, score), best first (Store.batch_items)."""
        ls = self.cfg.label_studio
        ranks = {item_id: rank for rank, (item_id, _) in enumerate(members)}
        wanted: dict[int, list[int]] = {}
        for item_id, task_id in task_ids.items():
            n = task_overlap(batch["kind"], ranks.get(item_id, 0), len(ranks), ls.overlap,
                             ls.overlap_fraction, ls.holdout_overlap)
            if n != ls.max_overlap:
                wanted.setdefault(n, []).append(task_id)
        for n, tasks in wanted.items():
            self.backend.set_task_overlap(tasks, n)

    def _ensure_gold(self) -> None:
        """Record the gold file's items and trusted labels (again each cycle: the file
        may have grown or changed)."""
        if self.cfg.quality.gold_file:
            self.store.add_gold(read_gold_file(self.cfg.quality.gold_file, self.cfg.classes,
                                               self.position).items())

    def _gold_share(self, n: int) -> list[str]:
        """The gold items that take quality.gold_rate of a batch of n (never all of it)."""
        rate = self.cfg.quality.gold_rate
        unused = self.store.unbatched_gold() if rate > 0 else []
        count = min(int(round(n * rate)), len(unused), n - 1)
        if count <= 0:
            return []
        rng = np.random.default_rng([self.cfg.project.seed, n, len(unused)])
        return [unused[i] for i in sorted(rng.choice(len(unused), size=count, replace=False))]

    def _gold_batch(self, round_: int, gold: list[str]) -> None:
        """A gold batch whose scores are drawn from the round's query batch, so the gold
        tasks sort among the others."""
        scores = [s for b in self.store.batches(round_) if b["kind"] == BatchKind.QUERY.value
                  for _, s in self.store.batch_items(b["batch_id"])] or [0.0]
        rng = np.random.default_rng([self.cfg.project.seed, round_])
        items = [(item_id, float(rng.choice(scores))) for item_id in gold]
        self.store.add_batch(round_, BatchKind.GOLD, "gold", self.cfg.project.seed, None, items)
        self.echo(f"  mixed {len(gold)} gold items into the batch")


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
