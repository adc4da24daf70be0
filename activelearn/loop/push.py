"""The task pusher: a round's batches go to Label Studio as tasks, idempotently.

Each task carries its image (label_studio.image_mode), the item id, round, strategy,
score and kind in its data, and the model's suggestion as a prediction, so Label
Studio's uncertainty sampling serves the least confident first. Label Studio is asked
which items already have tasks before the first import, so a push repeated after a
crash creates nothing twice; the tasks' overlap (how many annotators see each) is
lowered where a task wants fewer annotations than the project's maximum.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.annotation.label_studio.tasks import Suggestion, TaskSpec, image_reference
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError
from activelearn.failpoints import failpoint
from activelearn.kinds import BatchKind
from activelearn.loop.relabel import apply_relabels
from activelearn.quality.overlap import task_overlap
from activelearn.state import Store

QUERY_KINDS = (BatchKind.QUERY.value, BatchKind.GOLD.value)


class TaskPusher:
    """Pushes the batches of a project's rounds to its Label Studio project."""

    def __init__(self, cfg: Config, store: Store, backend: LabelStudioBackend, pool: Pool,
                 project_id: int, echo: Callable[[str], None]) -> None:
        self.cfg, self.store, self.backend, self.pool = cfg, store, backend, pool
        self.project_id, self.echo = project_id, echo
        self.position = {item_id: i for i, item_id in enumerate(pool.item_ids)}

    def push(self, round_: int) -> None:
        """Import tasks for the round's batch members that have none, then raise the
        overlap of this round's relabel requests."""
        ls = self.cfg.label_studio
        if ls.image_mode == "local-files" and self.pool.paths:
            folder = os.path.commonpath([os.path.dirname(os.path.abspath(p))
                                         for p in self.pool.paths])
            self.backend.ensure_local_storage(self.project_id, folder)
        tasked = self.store.tasks.by_item(include_deleted=True)
        listed: dict[str, int] | None = None  # the project's tasks, listed at the first push
        for batch in self.store.batches.all(round_):
            members = self.store.batches.items(batch["batch_id"])
            items = [(i, s) for i, s in members if i not in tasked]
            if not items:
                continue
            specs = self._task_specs(round_, batch, items)
            failpoint("push:before-import")
            if listed is None:
                listed = self.backend.existing_keys(self.project_id)
            task_ids = self.backend.push(self.project_id, specs, ls.import_chunk, listed)
            failpoint("push:imported")  # the crash between import and bookkeeping
            self.store.tasks.record(batch["batch_id"], round_, task_ids)
            self._set_overlap(batch, members, task_ids)
            if batch["model_version"] and batch["kind"] == BatchKind.QUERY.value:
                self.backend.set_model_version(self.project_id, batch["model_version"])
            self.echo(f"  pushed {len(task_ids)} {batch['kind']} tasks: "
                      f"{self.backend.url}/projects/{self.project_id}/data")
        reopened = apply_relabels(self.store, self.backend, round_)
        if reopened:
            self.echo(f"  raised the overlap of {reopened} disputed tasks by one")

    def image_of(self, item_id: str) -> str:
        """The task image reference of an item (label_studio.image_mode)."""
        ls, pos = self.cfg.label_studio, self.position[item_id]
        return image_reference(
            ls.image_mode, item_id, path=self.pool.paths[pos] if self.pool.paths else "",
            image=self.pool.images[pos].numpy() if ls.image_mode == "data-uri" else None,
            document_root=ls.document_root, url_template=ls.url_template)

    def _task_specs(self, round_: int, batch: dict, items: list[tuple[str, float]]
                    ) -> list[TaskSpec]:
        suggested = self.store.batches.suggestions(batch["batch_id"])
        classes, specs = self.cfg.classes, []
        for item_id, score in items:
            guess = suggested.get(item_id)
            specs.append(TaskSpec(
                item_id=item_id, image=self.image_of(item_id), round=round_,
                strategy=batch["strategy"],
                score=score if batch["kind"] in QUERY_KINDS else None,
                # a gold task must look like the query tasks around it
                kind=BatchKind.QUERY.value if batch["kind"] in QUERY_KINDS else batch["kind"],
                suggestion=Suggestion(classes[guess[0]], guess[1], batch["model_version"])
                if guess else None))
        return specs

    def _set_overlap(self, batch: dict, members: list[tuple[str, float]],
                     task_ids: dict[str, int]) -> None:
        """Lower the overlap of the batch's tasks that want fewer annotations than the
        project's maximum (Label Studio imports every task with the maximum).
        members: the batch's (item_id, score), best first (store.batches.items)."""
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


def check_image_mode(cfg: Config, pool: Pool) -> None:
    """ConfigError when label_studio.image_mode cannot work with this pool: file modes
    need image files, local-files needs them under label_studio.document_root."""
    ls = cfg.label_studio
    if ls.image_mode == "data-uri":
        return
    if not pool.paths:
        raise ConfigError(f"{cfg.path}: label_studio.image_mode: {ls.image_mode} "
                          f"needs image files, and the {cfg.data.source} source has "
                          "none; use data-uri")
    if ls.image_mode == "local-files":
        root = os.path.abspath(ls.document_root)
        outside = [p for p in pool.paths[:1000]
                   if not os.path.abspath(p).startswith(root + os.sep)]
        if outside:
            raise ConfigError(f"{cfg.path}: label_studio.document_root: {outside[0]} "
                              f"is not inside {root}")
