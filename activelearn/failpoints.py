"""Crash and pause points for the crash-safety tests: at a named step of a cycle or job.

ACTIVELEARN_FAILPOINT=NAME: the process kills itself with SIGKILL when it reaches
`failpoint(NAME)`, exactly as if an operator or the OOM killer had: no cleanup handlers,
no finally blocks.

ACTIVELEARN_PAUSEPOINT=NAME with ACTIVELEARN_PAUSE_DIR=FOLDER: at `failpoint(NAME)` the
process writes FOLDER/NAME.reached (":" in NAME written as "-") and waits, at most
PAUSE_LIMIT seconds, until FOLDER/NAME.go exists: a barrier that lets a test act while
the process is at that point (a second cycle while the first holds the lock).

Unset (always, outside tests) they do nothing.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "ACTIVELEARN_FAILPOINT"
PAUSE_ENV = "ACTIVELEARN_PAUSEPOINT"
PAUSE_DIR_ENV = "ACTIVELEARN_PAUSE_DIR"
PAUSE_LIMIT = 300.0  # seconds


def failpoint(name: str) -> None:
    """Kill or pause this process here when a test asks for it (see the module)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_ENV) == name:
        folder = Path(os.environ.get(PAUSE_DIR_ENV) or ".")
        stem = name.replace(":", "-")
        (folder / f"{stem}.reached").touch()
        deadline = time.monotonic() + PAUSE_LIMIT
        while not (folder / f"{stem}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
