"""The Label Studio calls of `activelearn serve` (service/): connecting a project to the
service (its webhook and its ML backend), and reading the files Label Studio serves for
tasks imported by hand; and the S3 storage that signs the pushed tasks' s3:// images
(storages.py). `backend.integrations` of a LabelStudioBackend (client.py, which
holds the SDK client and turns its errors into activelearn's).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from activelearn.annotation.backend import S3Source
from activelearn.annotation.label_studio.connection import Connection
from activelearn.annotation.label_studio.storages import ensure_s3_storage
from activelearn.errors import BackendError

log = logging.getLogger(__name__)

# What Label Studio serves to an API token, by path (data_import/urls.py: data/upload/;
# io_storages/urls.py: data/local-files/?d=).
SERVED_PATHS = ("/data/upload/", "/data/local-files/")
FETCH_TIMEOUT = 30.0  # seconds


class Integrations:
    """The service's calls, over the backend's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = conn.client

    def ensure_webhook(self, project_id: int, url: str, headers: dict[str, str],
                       actions: Sequence[str]) -> tuple[int, bool]:
        """The project's webhook to url, sending these headers for these actions only
        (with the payload), created or updated to that. Returns (its id, created).

        Label Studio lists every webhook of the organization (webhooks/api.py: the
        project query parameter is not a filter), so the project is matched here. An
        update always sends the actions: a PATCH without them clears them
        (webhooks/serializers.py, update)."""
        url = url.rstrip("/")
        with self.conn.answering("listing webhooks"):
            hooks = list(self.client.webhooks.list(project=str(project_id)))
        found = [h for h in hooks if h.project == project_id and (h.url or "").rstrip("/") == url]
        wanted: dict[str, Any] = {"headers": dict(headers), "actions": list(actions),
                                  "send_payload": True, "send_for_all_actions": False,
                                  "is_active": True}
        if found:
            hook = found[0]
            same = (hook.headers == headers and sorted(hook.actions or []) == sorted(actions)
                    and hook.send_payload and hook.is_active and not hook.send_for_all_actions)
            if not same:
                with self.conn.answering(f"updating webhook {hook.id}"):
                    self.client.webhooks.update(id=hook.id, url=url, **wanted)
            return int(self.conn.required(hook.id, "the webhook")), False
        with self.conn.answering(f"creating the webhook {url} (Label Studio refuses a "
                                 "loopback or private address unless it runs with "
                                 "USE_DEFAULT_BANNED_SUBNETS=false)"):
            hook = self.client.webhooks.create(project=project_id, url=url, **wanted)
        log.info("project %d: webhook %s for %s", project_id, url, ", ".join(actions))
        return int(self.conn.required(hook.id, "the new webhook")), True

    def ensure_ml_backend(self, project_id: int, url: str, title: str) -> tuple[int, bool]:
        """The project's ML backend at url, titled title, created when missing. Returns
        (its id, created). Label Studio calls its /health and /setup before saving it
        (ml/serializers.py), so the service must be running.

        Creating one makes Label Studio set the project's model version to the backend's
        title when the project has none (ml/api.py, perform_create); activelearn sets
        that version itself (the model of its suggestions, loop/push.py), so it is put
        back. Creating one also makes Label Studio add a webhook to URL/webhook for all
        actions unless one to that URL exists (ml/models.py, create_ml_webhook): make
        that webhook first (ensure_webhook)."""
        url = url.rstrip("/")
        with self.conn.answering("listing the project's ML backends"):
            backends = list(self.client.ml.list(project=project_id))
        for backend in backends:
            if (backend.url or "").rstrip("/") == url:
                if backend.title != title:
                    with self.conn.answering(f"renaming ML backend {backend.id}"):
                        self.client.ml.update(id=backend.id, title=title)
                return int(self.conn.required(backend.id, "the ML backend")), False
        with self.conn.answering("reading the project"):
            version = self.client.projects.get(id=project_id).model_version or ""
        with self.conn.answering(f"connecting the ML backend {url} (Label Studio calls its "
                                 "/health and /setup first: is `activelearn serve` running "
                                 "and reachable from Label Studio?)"):
            made = self.client.ml.create(project=project_id, url=url, title=title)
        made_id = int(self.conn.required(made.id, "the new ML backend"))
        try:
            with self.conn.answering("reading the project"):
                now = self.client.projects.get(id=project_id).model_version or ""
            if now != version:
                with self.conn.answering("restoring the project's model version"):
                    self.client.projects.update(id=project_id, model_version=version)
        except BaseException:  # all or nothing: no backend left with the wrong version
            self.remove_ml_backend(made_id)
            raise
        log.info("project %d: ML backend %s (%s)", project_id, url, title)
        return made_id, True

    def remove_webhook(self, hook_id: int) -> None:
        """Delete the webhook (gone already: nothing to do)."""
        with self._unless_gone(f"removing webhook {hook_id}"):
            self.client.webhooks.delete(id=hook_id)
        log.info("webhook %d removed", hook_id)

    def remove_ml_backend(self, backend_id: int) -> None:
        """Disconnect the ML backend (gone already: nothing to do)."""
        with self._unless_gone(f"removing ML backend {backend_id}"):
            self.client.ml.delete(id=backend_id)
        log.info("ML backend %d removed", backend_id)

    @contextmanager
    def _unless_gone(self, doing: str) -> Iterator[None]:
        try:
            with self.conn.answering(doing):
                yield
        except BackendError as exc:
            if "HTTP 404" not in str(exc):
                raise

    def ensure_s3_storage(self, project_id: int, source: S3Source) -> tuple[int, bool]:
        """The project's S3 storage of source's bucket, created or updated (storages.py).
        Returns (its id, created)."""
        return ensure_s3_storage(self.conn, project_id, source)

    def fetch_file(self, path: str, max_bytes: int) -> bytes:
        """A file Label Studio serves at path (one of SERVED_PATHS, e.g.
        /data/upload/3/x.png), read with the API token. BackendError when it is not
        there, not served to the token, or larger than max_bytes."""
        if not path.startswith(SERVED_PATHS) or ".." in path.split("?")[0]:
            raise BackendError(f"{path!r} is not a file Label Studio serves (expected a "
                               f"path under {' or '.join(SERVED_PATHS)})")
        # the SDK has no call for these paths; its HTTP client sends the token as the
        # SDK's own calls do (a legacy token or a JWT access token)
        http: Any = self.client._client_wrapper.httpx_client
        with self.conn.answering(f"reading {path}"), http.stream(
                path, method="GET", request_options={"timeout_in_seconds": FETCH_TIMEOUT}
        ) as answer:
            if answer.status_code != 200:
                raise BackendError(f"Label Studio at {self.conn.url}: {path}: HTTP "
                                   f"{answer.status_code}")
            return self._read_at_most(answer, path, max_bytes)

    def _read_at_most(self, answer: Any, path: str, max_bytes: int) -> bytes:
        """The body of a streamed answer, refused by its Content-Length or as soon as the
        bytes that came in pass max_bytes (a huge file never sits in memory whole)."""
        too_big = BackendError(f"Label Studio at {self.conn.url}: {path}: over the "
                               f"{max_bytes} bytes an image may have")
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big
        chunks, size = [], 0
        for chunk in answer.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)
