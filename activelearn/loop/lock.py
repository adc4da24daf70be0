"""The cycle lock: at most one `activelearn cycle` works on a project at a time.

The lock is a row in the project's state store (see state.locks). Its holder refreshes
a heartbeat from a background thread; the lock is stale, and taken over, when its
holder's process is gone (same host: the pid no longer exists) or its heartbeat is older
than STALE_AFTER seconds (any host, e.g. a machine that died or a hung process).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from activelearn.state import LockHolder, Store

log = logging.getLogger("activelearn.lock")

CYCLE_LOCK = "cycle"
HEARTBEAT_EVERY = 15.0  # seconds
STALE_AFTER = 120.0  # seconds without a heartbeat


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_stale(holder: LockHolder, now: float | None = None) -> bool:
    """A holder whose process is gone, or that stopped beating, holds no lock."""
    if holder.host == socket.gethostname() and not pid_alive(holder.pid):
        return True
    return (now or time.time()) - holder.heartbeat > STALE_AFTER


class CycleLock:
    """`with CycleLock(state_path) as lock:`; lock.holder is None when we got the lock,
    else the live holder (and nothing may be done)."""

    def __init__(self, state_path: Path, name: str = CYCLE_LOCK) -> None:
        self.state_path = state_path
        self.name = name
        self.owner = uuid.uuid4().hex
        self.holder: LockHolder | None = None
        self.took_over: LockHolder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def __enter__(self) -> CycleLock:
        with Store.open(self.state_path) as store:
            previous = store.locks.holder(self.name)
            self.holder = store.locks.try_take(self.name, self.owner, os.getpid(),
                                               socket.gethostname(), is_stale)
        if self.holder is None:
            if previous is not None and previous.owner != self.owner:
                self.took_over = previous
                log.warning("took over a stale cycle lock of pid %d on %s", previous.pid,
                            previous.host)
            self._thread = threading.Thread(target=self._beat, daemon=True, name="lock-beat")
            self._thread.start()
        return self

    def _beat(self) -> None:
        # its own connection: sqlite objects stay in one thread
        with Store.open(self.state_path) as store:
            while not self._stop.wait(HEARTBEAT_EVERY):
                if not store.locks.beat(self.name, self.owner):
                    self.lost = True
                    log.error("the cycle lock was taken over by another process")
                    return

    def __exit__(self, *exc: object) -> None:
        if self.holder is not None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with Store.open(self.state_path) as store:
            store.locks.release(self.name, self.owner)
