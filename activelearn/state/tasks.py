"""Label Studio tasks of items (`store.tasks`): which item has which task, whether it
was deleted in Label Studio, and whether Label Studio still serves it."""

from __future__ import annotations

import time
from collections.abc import Iterable

from activelearn.state.schema import Table


class TaskTable(Table):
    """The tasks table."""

    def record(self, batch_id: int, round_: int, task_ids: dict[str, int]) -> None:
        """item_id -> Label Studio task id for pushed items (an item keeps its first task)."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO tasks (item_id, task_id, batch_id, round, pushed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(i, t, batch_id, round_, now) for i, t in task_ids.items()])

    def by_item(self, include_deleted: bool = False) -> dict[str, int]:
        """item_id -> task id of pushed items (without those deleted in Label Studio)."""
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        return dict(self.db.execute(f"SELECT item_id, task_id FROM tasks{where}"))

    def forget(self, item_ids: Iterable[str]) -> None:
        """Drop the task rows of these items (their tasks are of a project no longer
        linked): they are pushed again."""
        with self.db:
            self.db.executemany("DELETE FROM tasks WHERE item_id=?", [(i,) for i in item_ids])

    def mark_deleted(self, item_ids: Iterable[str]) -> None:
        with self.db:
            self.db.executemany("UPDATE tasks SET deleted_at=? WHERE item_id=?",
                                [(time.time(), i) for i in item_ids])

    def waiting(self, split: str) -> int:
        """Live tasks of items of this split that Label Studio still serves: fewer
        annotations than the task's overlap, as of the last pull that listed the task (a
        task never listed since its push waits when its item has no label)."""
        return self.db.execute(
            "SELECT COUNT(*) FROM tasks t JOIN items i USING (item_id) LEFT JOIN labels l"
            " USING (item_id) WHERE t.deleted_at IS NULL AND i.split=? AND (t.is_open = 1"
            " OR (t.is_open IS NULL AND l.item_id IS NULL))", (split,)).fetchone()[0]
