"""The cycle lock: at most one `activelearn cycle` works on a project at a time.

The lock is a row in the project's state store (see state.locks). Its holder refreshes
a heartbeat from a background thread. The lock is stale, and taken over, when its holder
is gone: on the same host when its process has ended (a wall-clock jump never makes a
live holder look gone); on another host when its heartbeat is older than STALE_AFTER
seconds (a machine that died). A holder that lost its lock stops before its next phase,
and a model version's files are published put-if-absent, so two processes never write
one checkpoint.
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


def process_started(pid: int) -> float | None:
    """When process pid started (clock ticks since boot, Linux's /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return float(fields[19]) if len(fields) > 19 else None


def is_stale(holder: LockHolder, now: float | None = None) -> bool:
    """Whether a lock's holder is gone. On this host that is known for sure, whatever the
    clock does: its process has ended (or its pid now belongs to a process started
    later). A holder on another host is gone when it stopped beating for STALE_AFTER
    seconds by this host's clock (keep the hosts' clocks in sync)."""
    if holder.host == socket.gethostname():
        if not pid_alive(holder.pid):
            return True
        started = process_started(holder.pid)
        return holder.started is not None and started is not None \
            and started != holder.started
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
        try:
            return self._take()
        except KeyboardInterrupt:  # a Ctrl-C once the row may be ours: `with` would not
            self.holder = None     # call __exit__, and the row would outlive us
            self.__exit__()
            raise

    def _take(self) -> CycleLock:
        with Store.open(self.state_path) as store:
            previous = store.locks.holder(self.name)
            self.holder = store.locks.try_take(self.name, self.owner, os.getpid(),
                                               socket.gethostname(), is_stale,
                                               process_started(os.getpid()))
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
