"""A Label Studio project's tasks (`backend.tasks` of a LabelStudioBackend): listing them
by item id, importing the ones missing (never a second task for an item), and how many
annotators each is served to."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from activelearn.annotation.backend import TaskSpec
from activelearn.annotation.label_studio.connection import Connection
from activelearn.annotation.label_studio.formats import (
    listed_task_key,
    task_item_id,
    task_json,
    task_review_round,
)
from activelearn.errors import BackendError

log = logging.getLogger(__name__)


class Tasks:
    """The task calls, over the backend's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = conn.client

    def count(self, project_id: int) -> int:
        """How many tasks the project has (one cheap request: no task listing)."""
        with self.conn.answering("reading the project"):
            return self.client.projects.get(id=project_id).task_number or 0

    def item_ids(self, project_id: int) -> dict[str, int]:
        """item_id -> task id of every labelling task of the project (review tasks, a
        labelled item's second task, are left out)."""
        found: dict[str, int] = {}
        for task in self.conn.tasks(project_id, [], fields="task_only"):
            if task_review_round(task) is None:
                item_id = task_item_id(task)
                if item_id is not None:
                    found.setdefault(item_id, task["id"])
        return found

    def keys(self, project_id: int) -> dict[str, int]:
        """TaskSpec.key -> task id of every task of the project that has an item id (the
        first task of a key, in id order)."""
        found: dict[str, int] = {}
        for task in self.conn.tasks(project_id, [], fields="task_only"):
            key = listed_task_key(task)
            if key is not None:
                found.setdefault(key, task["id"])
        return found

    def push(self, project_id: int, tasks: Sequence[TaskSpec], chunk: int = 1000,
             existing: dict[str, int] | None = None) -> dict[str, int]:
        """Import tasks for the items that have none yet, chunk tasks per request.

        Idempotent: the project's tasks are listed first (keys) and items
        already there are skipped, so a push repeated after a crash between the import
        and its bookkeeping creates nothing twice. A caller pushing several batches in a
        row passes that listing as `existing` (listed once; the new tasks are added to
        it). Returns TaskSpec.key (the item id, for all but review tasks) -> task id for
        every task of `tasks`.
        """
        if existing is None:
            existing = self.keys(project_id)
        wanted = {t.key: t for t in tasks}  # a repeated item is sent once
        new = [t for key, t in wanted.items() if key not in existing]
        out = {key: existing[key] for key in wanted if key in existing}
        for start in range(0, len(new), chunk):
            part = new[start:start + chunk]
            with self.conn.answering(f"importing {len(part)} tasks"):
                # plain dicts: the SDK sends them as they are, without a pydantic model each
                answer = self.client.projects.import_tasks(
                    id=project_id, request=cast(Any, [task_json(t) for t in part]),
                    return_task_ids=True)
            # task_ids is in the answer only with return_task_ids, so not in the SDK's type
            task_ids = list(getattr(answer, "task_ids", None) or [])
            if len(task_ids) != len(part):
                raise BackendError(f"Label Studio at {self.conn.url} created {len(task_ids)} tasks "
                                   f"for {len(part)} items; rerun to reconcile")
            out.update(zip((t.key for t in part), task_ids))
            existing.update(zip((t.key for t in part), task_ids))
        log.info("pushed %d tasks to project %d (%d already there)", len(new), project_id,
                 len(wanted) - len(new))
        return out

    def set_overlap(self, task_ids: Sequence[int], overlap: int,
                         reopen: bool = False) -> None:
        """Set how many distinct annotators Label Studio serves these tasks to.

        reopen: also mark them unfinished, for a raised overlap: Label Studio 1.23 keeps
        is_labeled as it was when a task's overlap is changed through the API (only a new
        or deleted annotation recomputes it), and a finished task is served to nobody."""
        def one(task_id: int) -> None:
            with self.conn.answering(f"setting the overlap of task {task_id}"):
                if reopen:
                    self.client.tasks.update(id=str(task_id), overlap=overlap,
                                             is_labeled=False)
                else:
                    self.client.tasks.update(id=str(task_id), overlap=overlap)

        with ThreadPoolExecutor(self.conn.workers) as pool:
            list(pool.map(one, task_ids))

    def overlap(self, task_id: int) -> int:
        """How many distinct annotators Label Studio serves this task to."""
        with self.conn.answering(f"reading task {task_id}"):
            return int(getattr(self.client.tasks.get(id=str(task_id)), "overlap", None) or 1)
