"""The images of /predict's tasks that the pool does not hold (task_images.py says what
a task's data.image may name), read on the fetcher's own threads: at most
serve.max_fetches at once across all requests, each until its request's deadline
(serve.predict_deadline after the request came).

Never on the web framework's shared thread pool: /health, /metrics and /status run
there. When each /predict read its tasks one after the other on that pool (up to 2 x 60 s
per slow URL), 45 requests naming slow URLs held all 40 of its threads and /health
waited 115 s for one (Label Studio gives up after 1 s).

A read not done by the deadline is given up: its task gets a reason instead of an image
and the answer goes out in time (Label Studio asks for that task again). A read not
started yet is cancelled; one under way ends by the deadline it was given.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from activelearn.annotation.label_studio.integrations import FETCH_TIMEOUT
from activelearn.data.images import UnusableImage, decode
from activelearn.errors import ActiveLearnError, printable
from activelearn.project import Project
from activelearn.service.task_images import image_bytes, image_value, task_fetch_policy

log = logging.getLogger("activelearn.serve")

RECONNECT_AFTER = 10.0  # seconds a failed Label Studio connection is not tried again


class Fetcher:
    """Reads task images for ModelService (see the module). Thread-safe; close() when
    the service stops."""

    def __init__(self, project: Project) -> None:
        cfg = project.cfg
        self.project = project
        self.ls_url = cfg.label_studio.url
        self.deadline_s = cfg.serve.predict_deadline
        self.policy = task_fetch_policy(cfg)  # serve.fetch: what a task's URL may name
        self.threads = ThreadPoolExecutor(cfg.serve.max_fetches,
                                          thread_name_prefix="activelearn-fetch")
        self._ls: Any = None  # the Label Studio connection, made when a task needs it
        self._ls_lock = threading.Lock()
        self._ls_failed: tuple[float, ActiveLearnError] | None = None  # when, and why

    @property
    def late(self) -> str:
        """The reason of a task whose image was not read in time."""
        return (f"not read within serve.predict_deadline ({self.deadline_s:g} s); "
                "asked for again later")

    async def read_all(self, tasks: dict[int, dict[str, Any]], shape: Sequence[int],
                       until: float, deadline: float) -> dict[int, np.ndarray | str]:
        """(task index -> decoded image [channels, h, w] uint8, or the reason it cannot
        be had) for these tasks, read beside each other and waited for until `until`; a
        read still under way then ends by deadline (time.monotonic() instants); shape:
        (channels, h, w) of the pool's images."""
        if not tasks:
            return {}
        loop = asyncio.get_running_loop()
        reads = {i: loop.run_in_executor(self.threads, self.read, task, shape, deadline)
                 for i, task in tasks.items()}
        _, pending = await asyncio.wait(reads.values(),
                                        timeout=max(0.0, until - time.monotonic()))
        for read in pending:
            read.cancel()  # not started: it never will; under way: ends by the deadline
        if pending:
            log.warning("/predict: %d of %d task images not read within "
                        "serve.predict_deadline (%g s)", len(pending), len(tasks),
                        self.deadline_s)
        return {i: self.late if read in pending else read.result()
                for i, read in reads.items()}

    def read(self, task: dict[str, Any], shape: Sequence[int],
             deadline: float) -> np.ndarray | str:
        """One task's image [channels, h, w] uint8 (blocking), or the reason it cannot
        be had (task_images.py's, or late once the deadline passed)."""
        if time.monotonic() >= deadline:
            return self.late
        try:
            data = image_bytes(image_value(task), self.ls_url, self._served, self.policy,
                               deadline)
            return decode(data, (shape[1], shape[2]), shape[0])
        except (UnusableImage, ActiveLearnError) as exc:
            log.warning("task %s: cannot read its image: %s", printable(task.get("id", "?")),
                        printable(exc))
            return str(exc)

    def _served(self, path: str, max_bytes: int) -> bytes:
        """A file Label Studio serves, read with the API token (connected once; after a
        failed connection the other tasks fail at once, for RECONNECT_AFTER seconds)."""
        with self._ls_lock:
            if self._ls is None:
                failed = self._ls_failed
                if failed is not None and time.monotonic() - failed[0] < RECONNECT_AFTER:
                    raise failed[1]
                try:
                    self._ls = self.project.connect_backend(timeout=FETCH_TIMEOUT)
                except ActiveLearnError as exc:
                    self._ls_failed = (time.monotonic(), exc)
                    raise
        return bytes(self._ls.integrations.fetch_file(path, max_bytes))

    def close(self) -> None:
        """Stop taking reads; those queued are dropped, those under way end on their own."""
        self.threads.shutdown(wait=False, cancel_futures=True)
