"""Starting cycles in the background for `serve`: one at a time, never while another
process (cron's `activelearn cycle`) holds the project's cycle lock.

Each cycle is a process forked from a forkserver that has the cycle's code imported (see
cycle_process.py). WORK_DIR/serve/cycles.jsonl records every start (written by the cycle
process as it begins) and end (exit code, seconds, result), and when a failed one is tried
again; WORK_DIR/serve/cycle.log holds their output. Cycle numbers go on from the
journal's highest one across restarts of serve, so none repeats.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activelearn.loop.lock import CYCLE_LOCK, is_stale
from activelearn.project import Project
from activelearn.service import cycle_process
from activelearn.service.trigger import Pending
from activelearn.state import LockHolder, read_holder

RESULTS = {0: "ok", cycle_process.LOCKED: "locked"}


@dataclass(frozen=True)
class Finished:
    """A cycle that ended: its exit code, result (ok | locked | failed), seconds it
    ran, and the changes it was started for."""

    number: int
    exit_code: int
    result: str
    seconds: float
    ended_at: float
    taken: Pending


class CycleRunner:
    """Starts and watches the background cycle (see the module)."""

    def __init__(self, config_path: Path, project: Project) -> None:
        self.config_path = config_path.resolve()
        self.project = project
        self.folder = project.paths.serve
        self.folder.mkdir(parents=True, exist_ok=True)
        self.journal = self.folder / "cycles.jsonl"
        self.log = self.folder / "cycle.log"
        self.number = cycle_process.resume_journal(self.journal)  # the latest cycle's
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["activelearn.service.cycle_process"])
        self._process: Any = None
        self._taken = Pending()
        self._started_at = 0.0
        self.started = 0  # cycles this service started
        self.last: Finished | None = None

    def warm_up(self) -> None:
        """Start the forkserver now (it imports the cycle's code: seconds), so that the
        first cycle starts as fast as the later ones."""
        process = self._ctx.Process(target=cycle_process.warm_up, daemon=True)
        process.start()
        process.join()

    @property
    def running(self) -> int | None:
        """The pid of the cycle running now, or None."""
        if self._process is not None and self._process.is_alive():
            return int(self._process.pid)
        return None

    def lock_holder(self) -> LockHolder | None:
        """The live holder of the project's cycle lock (cron's cycle, say), or None.
        Read as upgrade and restore read it (state.read_holder): the one row, without the
        checks of opening a store (PRAGMA quick_check reads every page), since the tick
        that asks runs on the event loop that answers /health."""
        if not self.project.has_state():
            return None
        holder = read_holder(self.project.state_path, CYCLE_LOCK)
        return holder if holder is not None and not is_stale(holder) else None

    def start(self, taken: Pending, reason: str) -> int:
        """Start a cycle for the changes `taken`; returns its pid."""
        self.started += 1
        self.number += 1
        self.record("trigger", changes=taken.changes, reason=reason)
        self._process = self._ctx.Process(
            target=cycle_process.run_cycle_process, daemon=False,
            args=(str(self.config_path), str(self.journal), str(self.log), self.number))
        self._started_at = time.monotonic()
        self._taken = taken
        self._process.start()
        return int(self._process.pid)

    def poll(self) -> Finished | None:
        """The cycle that ended since the last poll, or None."""
        if self._process is None or self._process.is_alive():
            return None
        self._process.join()
        code = int(self._process.exitcode if self._process.exitcode is not None else 1)
        self._process.close()
        self._process = None
        code = code if code >= 0 else 128 - code  # killed by a signal: 128 + its number
        finished = Finished(self.number, code, RESULTS.get(code, "failed"),
                            time.monotonic() - self._started_at, time.time(), self._taken)
        cycle_process.append_journal(self.journal, {
            "event": "end", "cycle": finished.number, "at": finished.ended_at,
            "exit_code": code, "result": finished.result,
            "seconds": round(finished.seconds, 3)})
        self.last = finished
        return finished

    def record(self, event: str, **fields: Any) -> None:
        """A record about the latest cycle appended to the journal ("retry": when a
        failed one is started again)."""
        cycle_process.append_journal(self.journal, {
            "event": event, "cycle": self.number, "at": time.time(), **fields})
