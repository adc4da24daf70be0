"""The annotations of a Label Studio project (`backend.annotations` of a
LabelStudioBackend): an incremental pull on the tasks' update time."""

from __future__ import annotations

import logging

from activelearn.annotation.backend import PullResult
from activelearn.annotation.label_studio.connection import Connection
from activelearn.annotation.label_studio.formats import (
    cursor_before,
    parse_task,
    to_cursor,
    updated_filter,
)

log = logging.getLogger(__name__)

# Tasks updated this long before the pull cursor are read again by every pull.
PULL_OVERLAP = 600.0  # seconds


class Annotations:
    """The pull, over the backend's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def pull(self, project_id: int, class_names: list[str], since: str = "") -> PullResult:
        """Annotations of the tasks updated after the cursor `since` ("" = all).

        The pull covers the tasks updated up to the newest update time seen when it
        starts (that time is the new cursor), read by id ranges, so tasks updated while
        it runs are neither skipped nor lost: they fall after the new cursor and come
        with the next pull. The tasks updated in the PULL_OVERLAP before the cursor are
        read again (applying a pull is idempotent), so an annotation saved while the
        server's clock stepped back a little is not missed; when the server's newest
        update is older than the cursor (its clock stepped back further, or the cursor
        is another server's) every task is read once, and the cursor starts over.
        Cancelled annotations are counted, not returned; unusable ones are rejected
        entries with a reason.
        """
        result = PullResult(cursor=since)
        until = self._newest_update(project_id)
        if not until or until == since:
            return result
        if since and until < since:
            log.warning("project %d: the newest task update %s is older than the pull "
                        "cursor %s (the server's clock stepped back?): reading every task",
                        project_id, until, since)
            since = ""
        window = [updated_filter("greater", cursor_before(since, PULL_OVERLAP))] \
            if since else []
        window.append(updated_filter("less_or_equal", until))
        for task in self.conn.tasks(project_id, window, fields="all"):
            result.tasks_seen += 1
            parse_task(task, class_names, result)
        result.cursor = until
        return result

    def _newest_update(self, project_id: int) -> str:
        page = self.conn.page(project_id, [], "-tasks:updated_at", "task_only", 1)
        return to_cursor(page[0].updated_at) if page else ""
