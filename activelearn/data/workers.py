"""DataLoader worker processes that die with the process that started them.

    DataLoader(task, num_workers=4, **worker_options())

A decode worker (images.decode_many, imageset.batches, the catalogue's reading) is a fork
of its parent: about 300 MB, and the parent's open files with it, the state file among
them. torch's own watchdog notices a dead parent only between two work items, so a
parent killed with kill -9 mid-build could leave workers behind that go on decoding.
Here each worker asks Linux to send it SIGKILL when its parent dies
(prctl(PR_SET_PDEATHSIG)), exits at once when the parent is already gone, and elsewhere
(or when the parent is not its main thread, whose exit would fire the signal early)
checks its parent once a second. It also closes the SQLite files it inherited: a worker
never uses the state, and must not keep it open.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_S = 1.0  # how often the fallback looks at the parent
# what a worker closes of the files it inherited: SQLite's (the state and its WAL)
SQLITE_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")


def worker_options() -> dict[str, Any]:
    """A DataLoader's keyword arguments that make its workers die with this process."""
    main_thread = threading.current_thread() is threading.main_thread()
    return {"worker_init_fn": functools.partial(init_worker, os.getpid(), main_thread)}


def init_worker(parent: int, from_main_thread: bool, worker_id: int = 0) -> None:
    """A worker's first act (see the module): die with parent, close inherited state."""
    if not (from_main_thread and _death_signal()):
        threading.Thread(target=_watch, args=(parent,), name="parent-watch",
                         daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)
    close_inherited(SQLITE_SUFFIXES)


def _death_signal() -> bool:
    """Ask Linux for SIGKILL when the parent (thread) exits; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_S):
        if os.getppid() != parent:
            os._exit(1)


def close_inherited(suffixes: tuple[str, ...]) -> list[str]:
    """Close this process's descriptors of files whose path ends with one of suffixes
    (Linux: read from /proc/self/fd; elsewhere nothing). Returns the paths closed."""
    closed: list[str] = []
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return closed
    for name in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the listing's own descriptor, gone by now
            continue
        if target.endswith(suffixes):
            try:
                os.close(int(name))
                closed.append(target)
            except OSError:
                pass
    return closed
