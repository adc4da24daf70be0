"""The Label Studio backend: the one module that imports label_studio_sdk.

`LabelStudioBackend` implements annotation.backend.AnnotationBackend by composing the
calls of each concern over one connection: projects.py, tasks.py, annotations.py, and
the bot's (annotators.py) and the service's (integrations.py). Projects are found by
title, tasks by the item id in their data, so every call can be repeated after a crash:
a push never gives an item a second task and a pull is incremental on the tasks' update
time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from activelearn.annotation.label_studio.annotations import Annotations
from activelearn.annotation.label_studio.annotators import Annotators
from activelearn.annotation.label_studio.formats import LISTING_FIELDS
from activelearn.annotation.label_studio.integrations import Integrations
from activelearn.annotation.label_studio.projects import Projects
from activelearn.annotation.label_studio.tasks import Tasks
from activelearn.annotation.label_studio.token import api_token
from activelearn.errors import BackendAuthError, BackendError, BackendUnavailableError

# Tasks per list request (the server has no cap). Its time is per task: pages of 500, 1000
# and 2500 measured alike.
PAGE_SIZE = 1000
FIELD = re.compile(r"[a-z_]{1,40}")  # a field name Label Studio's API refuses


class SdkConnection:
    """A client for one server, shared by the backend's calls (connection.Connection): the
    one place that turns the SDK's and httpx's errors into activelearn errors, and lists
    tasks (see `tasks`)."""

    def __init__(self, client: Any, url: str, timeout: float, workers: int = 1) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.workers = workers

    @contextmanager
    def answering(self, doing: str, reasons: Mapping[str, str] | None = None
                  ) -> Iterator[None]:
        """Turn the SDK's and httpx's exceptions into one-line activelearn errors. A
        refusal shows its status code, a fixed reason and the names of the fields Label
        Studio refused, never the answer's body or headers: a server (or a proxy in front
        of it) that echoes the request would put the API token into the line.
        reasons: a phrase of Label Studio's message -> our words for it, shown when the
        refusal's body holds the phrase (the first found)."""
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
                f"Label Studio at {self.url} did not answer while {doing}: "
                f"{type(exc).__name__} (not an HTTP answer the client can read)") from None
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise BackendAuthError(
                    f"Label Studio at {self.url} refused the API token (HTTP "
                    f"{exc.status_code}); check LABEL_STUDIO_API_KEY") from None
            raise BackendError(f"Label Studio at {self.url}: {doing} failed: "
                               f"{http_status(exc.status_code)}{_refused(exc.body)}"
                               f"{_reason(exc.body, reasons or {})}") from None
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
    """A connected Label Studio server (see `connect`): its `projects`, `tasks` and
    `annotations` (annotation.backend.AnnotationBackend), the bot's calls (`annotators`)
    and the service's (`integrations`), each over the one connection."""

    name = "label-studio"

    def __init__(self, conn: SdkConnection) -> None:
        self.conn = conn
        self.client = conn.client
        self.url = conn.url
        self.projects = Projects(conn)
        self.tasks = Tasks(conn)
        self.annotations = Annotations(conn)
        self.annotators = Annotators(conn)
        self.integrations = Integrations(conn)

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
        token = token or api_token()
        conn = SdkConnection(None, url, timeout, workers)
        with conn.answering("checking the API token"):  # a JWT is exchanged here
            conn.client = LabelStudio(base_url=url, api_key=token, timeout=timeout)
            conn.client.users.whoami()
        return cls(conn)


def http_status(code: int | None) -> str:
    """A status code with its standard reason ("HTTP 400 (Bad Request)"): what an error
    line says of a refusal instead of the body."""
    try:
        return f"HTTP {code} ({HTTPStatus(code or 0).phrase})"
    except ValueError:
        return f"HTTP {code}"


def _refused(body: Any) -> str:
    """", Label Studio refused: url, headers": the fields of a Label Studio validation
    error (its body's validation_errors, or a body of field -> messages), by name only;
    "" for any other body. Names are plain identifiers, so nothing the server echoed
    can pass."""
    if not isinstance(body, dict):
        return ""
    fields = body.get("validation_errors") if "validation_errors" in body else body
    if not isinstance(fields, dict):
        return ""
    names = [k for k, v in fields.items() if isinstance(k, str) and FIELD.fullmatch(k)
             and isinstance(v, list) and k not in ("detail", "non_field_errors")]
    return f", Label Studio refused: {', '.join(sorted(names)[:5])}" if names else ""


def _reason(body: Any, reasons: Mapping[str, str]) -> str:
    """": " + our words for the first phrase of `reasons` found in the body's texts; ""
    when none is. The body itself is never shown."""
    texts: list[str] = []
    stack = [body]
    while stack and len(texts) < 100:
        value = stack.pop()
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    found = next((words for phrase, words in reasons.items()
                  if any(phrase in text for text in texts)), None)
    return f": {found}" if found else ""


def _short(value: Any, limit: int = 200) -> str:
    """One line of at most `limit` characters from an exception or a response body."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
