"""The Label Studio calls of the bot annotator (annotation/bot.py): users for the
simulated annotators, who annotated which task, and annotations credited to them.
`backend.annotators` of a LabelStudioBackend (client.py, which holds the SDK client).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from activelearn.annotation.backend import TaskAnnotators
from activelearn.annotation.label_studio.connection import Connection
from activelearn.annotation.label_studio.formats import choice_result, task_item_id
from activelearn.errors import printable

log = logging.getLogger(__name__)

# Annotation requests in flight at once (the bot). The server spends ~30 ms of CPU on each
# (about 40 queries: history, counters, project summary) and SQLite takes one writer at a
# time: measured on 2 cores, 500 annotations take 40 s one by one, 21 s with 4 in flight
# and no less with 8 or with 2 gunicorn worker processes.
ANNOTATE_WORKERS = 4


class Annotators:
    """The bot's calls, over the backend's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = conn.client

    def ensure_annotator(self, email: str, name: str = "") -> int:
        """The id of the user with this email in the token's organization, created there
        when missing (no password: nobody logs in as it; `annotate` credits it instead)."""
        with self.conn.answering("listing users"):
            users = list(self.client.users.list())
        for user in users:
            if (user.email or "").lower() == email.lower() and user.id is not None:
                return user.id
        with self.conn.answering(f"creating the user {email}"):
            organization = self.client.users.whoami().active_organization
            user = self.client.users.create(username=email, email=email, first_name=name,
                                            active_organization=organization)
        self.conn.required(user.id, f"the new user {email}")
        log.info("created Label Studio user %d %s", user.id, printable(email))
        return user.id

    def task_annotators(self, project_id: int) -> list[TaskAnnotators]:
        """Every task of the project that has an item id, in id order, with who annotated it."""
        out = []
        for task in self.conn.tasks(project_id, [], fields="all"):
            item_id = task_item_id(task)
            if item_id is not None:
                users = frozenset(int(a["completed_by"]) for a in task["annotations"]
                                  if a.get("completed_by") is not None)
                out.append(TaskAnnotators(task["id"], item_id, users,
                                          int(task.get("overlap") or 1)))
        return out

    def annotate(self, task_id: int, label_name: str, user_id: int,
                 lead_time: float | None = None) -> int:
        """Annotate a task with one class, credited to the user `user_id`, that took
        `lead_time` seconds (None: none recorded, as from the API without one). Returns
        the annotation's id.

        Label Studio takes completed_by from the request (tasks/api.py, perform_create),
        so the one API token serves every simulated annotator without a login or a token
        of each; the server records the token's user as updated_by.
        """
        # the SDK leaves out of the request what is not passed: no lead_time, no field
        timing: dict[str, float] = {} if lead_time is None else {"lead_time": lead_time}
        with self.conn.answering(f"annotating task {task_id}"):
            annotation = self.client.annotations.create(
                id=task_id, result=choice_result(label_name), completed_by=user_id,
                **timing)
        return int(self.conn.required(annotation.id, f"the annotation of task {task_id}"))

    def annotate_many(self, annotations: Sequence[tuple[int, str, int, float | None]],
                      workers: int = ANNOTATE_WORKERS) -> list[int]:
        """`annotate` each (task id, class name, user id, lead time), `workers` requests
        at a time.
        On a failure the annotations already made stay (a rerun of the bot skips them)."""
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda a: self.annotate(*a), annotations))
