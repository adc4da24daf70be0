"""The newest model version a project's state names, for serve's ML backend (predict.py):
looked for at most once every CHECK_EVERY seconds, and read only when the state's files
changed. /health never waits for a look longer than HEALTH_WAIT: opening the state
checks every page of it (PRAGMA quick_check, about 0.2 s per 200 MB) and a writer may
hold it, while Label Studio gives /health 1 s; it answers with the version seen last and
the look goes on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookTimeout  # TimeoutError from 3.11 on
from pathlib import Path
from typing import Any

from activelearn.kinds import RoundStatus

CHECK_EVERY = 1.0  # seconds between looks at the state for a newer model
HEALTH_WAIT = 0.5  # seconds /health waits for a look


class LatestVersion:
    """The newest finished round's model version of a project (None: none yet).
    Thread-safe; close() when the service stops."""

    def __init__(self, project: Any) -> None:
        self.project = project  # a Project: state_path, store(readonly=True)
        self.seen: str | None = None  # what the last look found
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._stamp: tuple | None = None
        self._looks = ThreadPoolExecutor(1, thread_name_prefix="activelearn-state")
        self._look: Future | None = None
        self._look_lock = threading.Lock()

    def __call__(self) -> str | None:
        """The newest version, looked for now unless a look was made within CHECK_EVERY
        seconds (blocking; StateError when the state cannot be read)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < CHECK_EVERY:
                return self.seen
            self._checked = now
            stamp = state_stamp(self.project.state_path)
            if stamp != self._stamp:
                latest = None
                if stamp is not None:
                    with self.project.store(readonly=True) as store:
                        done = [r.model_version for r in store.rounds.all()
                                if r.status == RoundStatus.DONE.value and r.model_version]
                    latest = done[-1] if done else None
                self.seen, self._stamp = latest, stamp
            return self.seen

    def within(self, wait: float = HEALTH_WAIT) -> str | None:
        """The newest version if a look ends within `wait` seconds, else the one seen
        last (the look goes on, on a thread of its own; one at a time)."""
        with self._look_lock:
            if self._look is None or self._look.done():
                self._look = self._looks.submit(self)
            look = self._look
        try:
            return look.result(timeout=wait)
        except LookTimeout:
            return self.seen

    def close(self) -> None:
        self._looks.shutdown(wait=False, cancel_futures=True)


def state_stamp(path: Path) -> tuple | None:
    """What changes when the state is written (its file's and its WAL's size and time),
    or None when there is no state."""
    stamp: list[tuple[int, int] | None] = []
    for name in (path, path.with_name(path.name + "-wal")):
        try:
            st = name.stat()
        except FileNotFoundError:
            if name == path:
                return None
            stamp.append(None)
            continue
        stamp.append((st.st_size, st.st_mtime_ns))
    return tuple(stamp)
