"""Run work that might block forever (a read of a FIFO waits for a writer) with a bound."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def within(work: Callable[[], Any], seconds: float = 10.0, fifo: Path | None = None) -> Any:
    """work() in a thread; fails the test when it takes over `seconds` (after opening
    `fifo` for writing once, which gives a blocked reader its end of file). Its result,
    or the error it raised."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["result"] = work()
        except BaseException as exc:  # handed to the test thread
            done["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(seconds)
        pytest.fail(f"took over {seconds} s" + (f": the FIFO {fifo} was opened" if fifo else ""))
    if "error" in done:
        raise done["error"]
    return done["result"]
