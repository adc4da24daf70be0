"""Crash points for the crash-safety tests: `kill -9` at a named step of a cycle.

Set ACTIVELEARN_FAILPOINT=NAME and the process kills itself with SIGKILL when it
reaches `failpoint(NAME)`, exactly as if an operator or the OOM killer had: no cleanup
handlers, no finally blocks. Unset (always, outside tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "ACTIVELEARN_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
