"""The Label Studio backend: the one module that imports label_studio_sdk.

Projects are found by title, tasks by the item id in their data, so every call can be
repeated after a crash: `push` never gives an item a second task and `pull` is
incremental on the tasks' update time.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, cast

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from activelearn.annotation.label_studio import annotators, integrations
from activelearn.annotation.label_studio.tasks import (
    LISTING_FIELDS,
    PullResult,
    TaskSpec,
    api_token,
    config_classes,
    cursor_before,
    label_config,
    listed_task_key,
    parse_task,
    task_item_id,
    task_json,
    task_review_round,
    to_cursor,
    updated_filter,
)
from activelearn.errors import BackendAuthError, BackendError, BackendUnavailableError

log = logging.getLogger(__name__)

SAMPLING = "Uncertainty sampling"
# Tasks per list request (the server has no cap). Its time is per task: pages of 500, 1000
# and 2500 measured alike.
PAGE_SIZE = 1000
VIEW_TITLE = "least confident first"
# Tasks updated this long before the pull cursor are read again by every pull.
PULL_OVERLAP = 600.0  # seconds


class Connection:
    """A client for one server, shared by the backend and its annotator calls: the one
    place that turns the SDK's and httpx's errors into activelearn errors, and lists
    tasks (see `tasks`)."""

    def __init__(self, client: LabelStudio, url: str, timeout: float, workers: int = 1) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.workers = workers

    @contextmanager
    def answering(self, doing: str) -> Iterator[None]:
        """Turn the SDK's and httpx's exceptions into one-line activelearn errors."""
        try:
            yield
        except httpx.ConnectError as exc:
            why = "connection refused" if "refused" in str(exc).lower() else _short(exc)
            raise BackendUnavailableError(
                f"Label Studio at {self.url} did not answer: {why}") from None
        except httpx.TimeoutException:
            raise BackendUnavailableError(
                f"Label Studio at {self.url} did not answer within {self.timeout:g} s "
                f"while {doing}") from None
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"Label Studio at {self.url} did not answer: {_short(exc)}") from None
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise BackendAuthError(
                    f"Label Studio at {self.url} refused the API token (HTTP "
                    f"{exc.status_code}); check LABEL_STUDIO_API_KEY") from None
            raise BackendError(f"Label Studio at {self.url}: {doing} failed: HTTP "
                               f"{exc.status_code}: {_short(exc.body)}") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # an answer the SDK cannot read (not JSON, or JSON of another shape): not
            # Label Studio's API, or another version of it
            raise BackendError(f"Label Studio at {self.url}: {doing}: the answer is not "
                               f"Label Studio's API ({type(exc).__name__}); check the URL "
                               "and that the server is Label Studio 1.23") from None

    def required(self, value: Any, what: str) -> Any:
        """value of a server's answer, which must be there (a created object's id)."""
        if value is None:
            raise BackendError(f"Label Studio at {self.url} answered {what} without an id; "
                               "check the URL and that the server is Label Studio 1.23")
        return value

    def tasks(self, project_id: int, filters: list[dict[str, Any]],
              fields: str) -> Iterator[dict[str, Any]]:
        """All tasks matching the Data Manager filters, in id order.

        Read as ranges of PAGE_SIZE task ids (filters on the id, not page numbers, so a
        task updated meanwhile cannot shift another out of view), `workers` requests at
        a time: the server spends about 0.4 ms of CPU on each annotated task (0.3 ms
        without the annotations), and a server with several worker processes serves the
        ranges side by side. Measured on 2 cores, one server process: 10,000 annotations
        in 5.5 s, the item ids of 10,000 tasks in 4 s (a third of it the SDK's parsing).
        """
        first = self.page(project_id, filters, "tasks:id", "task_only", 1)
        if not first:
            return
        last = self.page(project_id, filters, "-tasks:id", "task_only", 1)
        low, high = first[0].id, last[0].id
        ranges = [[*filters, {"filter": "filter:tasks:id", "operator": "in", "type": "Number",
                              "value": {"min": start, "max": min(start + PAGE_SIZE - 1, high)}}]
                  for start in range(low, high + 1, PAGE_SIZE)]
        with ThreadPoolExecutor(self.workers) as pool:
            pages = pool.map(lambda r: self.page(project_id, r, "tasks:id", fields,
                                                 PAGE_SIZE), ranges)
            for page in pages:
                for task in page:
                    yield {"id": task.id, "meta": task.meta, "updated_at": task.updated_at,
                           "is_labeled": getattr(task, "is_labeled", None),
                           "overlap": getattr(task, "overlap", None),
                           "annotations": getattr(task, "annotations", None) or []}

    def page(self, project_id: int, filters: list[dict[str, Any]], ordering: str,
             fields: str, size: int) -> list[Any]:
        """The first `size` tasks matching the filters, with only the LISTING_FIELDS.

        With the annotations (fields="all"), expand=annotations has them serialized by one
        nested serializer for the whole page; without it the Data Manager builds a new
        serializer for each task's annotations (data_manager/serializers.py,
        get_annotations), which tripled the server's time per task (measured on 1.23.2:
        1.4 s of CPU per 1000 annotated tasks, 0.4 s with it). resolve_uri=False: the
        data, whose storage URLs it would resolve, is not listed.
        """
        query = {"filters": {"conjunction": "and", "items": filters}, "ordering": [ordering]}
        extra = {"expand": "annotations"} if fields == "all" else {}
        with self.answering("listing tasks"):
            page: Any = self.client.tasks.list(
                project=project_id, fields=fields, include=LISTING_FIELDS[fields], page=1,
                page_size=size, query=json.dumps(query), resolve_uri=False,
                request_options={"additional_query_parameters": extra})
        return list(page.items or [])


class LabelStudioBackend:
    """A connected Label Studio server (see `connect`): projects, pushing tasks, pulling
    annotations. Its `annotators` are the bot's calls, its `integrations` the service's."""

    name = "label-studio"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = conn.client
        self.url = conn.url
        self.annotators = annotators.Annotators(conn)
        self.integrations = integrations.Integrations(conn)

    @classmethod
    def connect(cls, url: str, token: str | None = None, timeout: float = 120.0,
                workers: int = 1) -> LabelStudioBackend:
        """Check that the server answers and accepts the token (default: api_token()).

        workers: task-list requests in flight at once (LabelStudioConfig.parallel_requests).
        Match the server's worker processes: requests to one process only contend.
        """
        url = url.rstrip("/")
        if not url:
            raise BackendError("no Label Studio URL: set label_studio.url in the project "
                               "file or ACTIVELEARN_LS_URL")
        client = LabelStudio(base_url=url, api_key=token or api_token(), timeout=timeout)
        backend = cls(Connection(client, url, timeout, workers))
        with backend.conn.answering("checking the API token"):
            backend.client.users.whoami()
        return backend

    # -- projects -------------------------------------------------------------
    def find_project(self, title: str) -> int | None:
        """The id of the project with exactly this title, or None."""
        with self.conn.answering("listing projects"):
            projects: list[Any] = list(self.client.projects.list(title=title))
        matching = sorted(p.id for p in projects if p.title == title and p.id is not None)
        return matching[0] if matching else None

    def ensure_project(self, title: str, class_names: list[str], instructions: str = "") -> int:
        """Find the project by title or create it: a Choices interface over the classes,
        the annotation rules as instructions, uncertainty sampling, and a Data Manager tab
        that lists the least confident tasks first. Returns the project id."""
        found = self.find_project(title)
        if found is not None:
            self.check_classes(found, class_names)
            return found
        with self.conn.answering("creating the project"):
            project = self.client.projects.create(
                title=title, label_config=label_config(class_names), sampling=SAMPLING,
                expert_instruction=instructions, show_instruction=bool(instructions),
                show_skip_button=True)
            project_id = int(self.conn.required(project.id, "the new project"))
            self.client.views.create(project=project_id, data={
                "title": VIEW_TITLE, "ordering": ["tasks:predictions_score"]})
        log.info("created Label Studio project %d %r", project_id, title)
        return project_id

    def ensure_overlap(self, project_id: int, maximum: int) -> None:
        """Let Label Studio serve a task to up to `maximum` distinct annotators.

        Label Studio 1.23 gives every imported task overlap = the project's
        maximum_annotations (tasks/serializers.py, add_tasks; a task's own "overlap" in
        the import is ignored), and with overlap_cohort_percentage below 100 it re-deals
        the overlap of *all* tasks after each import (projects/models.py,
        _rearrange_overlap_cohort). So the cohort stays at 100 and tasks that want
        fewer annotations are lowered one by one after the import (set_task_overlap).
        Changing maximum_annotations later raises the tasks whose overlap was above 1."""
        with self.conn.answering("reading the project"):
            project = self.client.projects.get(id=project_id)
        if project.maximum_annotations == maximum and project.overlap_cohort_percentage == 100:
            return
        with self.conn.answering("setting the project's overlap"):
            self.client.projects.update(id=project_id, maximum_annotations=maximum,
                                        overlap_cohort_percentage=100)
        log.info("project %d: up to %d annotations per task", project_id, maximum)

    def set_task_overlap(self, task_ids: Sequence[int], overlap: int,
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

    def task_overlap(self, task_id: int) -> int:
        """How many distinct annotators Label Studio serves this task to."""
        with self.conn.answering(f"reading task {task_id}"):
            return int(getattr(self.client.tasks.get(id=str(task_id)), "overlap", None) or 1)

    def project_exists(self, project_id: int) -> bool:
        """Whether a project with this id is still on the server."""
        try:
            with self.conn.answering("reading the project"):
                self.client.projects.get(id=project_id)
        except BackendError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def check_classes(self, project_id: int, class_names: list[str]) -> None:
        """Refuse a project whose Choices differ from the project file's classes."""
        with self.conn.answering("reading the project"):
            config = self.client.projects.get(id=project_id).label_config or ""
        found = config_classes(config)
        if found != class_names:
            raise BackendError(
                f"Label Studio project {project_id} offers the classes {found} but the "
                f"project file has {class_names}; use another label_studio.project_title "
                "or fix the classes")

    def ensure_local_storage(self, project_id: int, folder: str) -> None:
        """Connect a Local Files storage for folder, unless a storage of the project
        already holds it (the folder itself or one above it: Label Studio serves the
        files anywhere under a storage's folder). Never synced: activelearn imports the
        tasks itself. Label Studio serves /data/local-files/ URLs only for files under a
        storage of the project, and connects only folders below its
        LOCAL_FILES_DOCUMENT_ROOT."""
        with self.conn.answering("listing the project's local storages"):
            storages = list(self.client.import_storage.local.list(project=project_id))
        wanted = os.path.normpath(folder)
        for storage in storages:
            held = os.path.normpath(storage.path) if storage.path else ""
            if held and (wanted == held or wanted.startswith(held.rstrip(os.sep) + os.sep)):
                return
        with self.conn.answering(f"connecting the local folder {folder} (it must lie below "
                                 "the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, "
                                 "which label_studio.document_root names)"):
            self.client.import_storage.local.create(
                project=project_id, path=folder, title="activelearn images",
                use_blob_urls=True)

    def task_count(self, project_id: int) -> int:
        """How many tasks the project has (one cheap request: no task listing)."""
        with self.conn.answering("reading the project"):
            return self.client.projects.get(id=project_id).task_number or 0

    def set_model_version(self, project_id: int, version: str) -> None:
        """Make uncertainty sampling rank tasks by the predictions of this model version.
        Label Studio accepts only a version some prediction already carries: push first."""
        with self.conn.answering("setting the model version"):
            self.client.projects.update(id=project_id, model_version=version)

    # -- push -----------------------------------------------------------------
    def existing_item_ids(self, project_id: int) -> dict[str, int]:
        """item_id -> task id of every labelling task of the project (review tasks, a
        labelled item's second task, are left out)."""
        found: dict[str, int] = {}
        for task in self.conn.tasks(project_id, [], fields="task_only"):
            if task_review_round(task) is None:
                item_id = task_item_id(task)
                if item_id is not None:
                    found.setdefault(item_id, task["id"])
        return found

    def existing_keys(self, project_id: int) -> dict[str, int]:
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

        Idempotent: the project's tasks are listed first (existing_keys) and items
        already there are skipped, so a push repeated after a crash between the import
        and its bookkeeping creates nothing twice. A caller pushing several batches in a
        row passes that listing as `existing` (listed once; the new tasks are added to
        it). Returns TaskSpec.key (the item id, for all but review tasks) -> task id for
        every task of `tasks`.
        """
        if existing is None:
            existing = self.existing_keys(project_id)
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
                raise BackendError(f"Label Studio at {self.url} created {len(task_ids)} tasks "
                                   f"for {len(part)} items; rerun to reconcile")
            out.update(zip((t.key for t in part), task_ids))
            existing.update(zip((t.key for t in part), task_ids))
        log.info("pushed %d tasks to project %d (%d already there)", len(new), project_id,
                 len(wanted) - len(new))
        return out

    # -- pull -----------------------------------------------------------------
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

def _short(value: Any, limit: int = 200) -> str:
    """One line of at most `limit` characters from an exception or a response body."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
