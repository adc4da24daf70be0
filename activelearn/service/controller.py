"""What `serve` decides, apart from HTTP: which webhook events count, when a cycle
starts (trigger.py), starting and watching it (runner.py), and the service's figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from activelearn.errors import printable
from activelearn.loop.project import PROJECT_ID_KEY
from activelearn.project import Project
from activelearn.service.events import WebhookEvent
from activelearn.service.metrics import CycleFigures, ProjectCollector, ServiceCounts
from activelearn.service.runner import CycleRunner, Finished
from activelearn.service.trigger import Trigger
from activelearn.state import LockHolder

LOCK_RETRY = 1.0  # seconds between looks at a lock another process holds


class Controller:
    """Counts webhook events and starts cycles (see the module). Called from one thread
    (the service's event loop): tick() often, on_event() per webhook."""

    def __init__(self, project: Project, echo: Callable[[str], None] = print) -> None:
        cfg = project.cfg
        self.project = project
        self.echo = echo
        self.trigger = Trigger(cfg.serve.min_new_labels, cfg.serve.max_wait,
                               cfg.serve.retry_after)
        self.runner = CycleRunner(Path(cfg.path), project)
        self.counts = ServiceCounts()
        self.collector = ProjectCollector(project, self.counts, self.figures)
        self.waiting_for: LockHolder | None = None
        self._lock_retry_at = 0.0
        self._project_id: int | None = None

    @property
    def project_id(self) -> int | None:
        """The linked Label Studio project (from the state; None before `init`)."""
        if self._project_id is None and self.project.has_state():
            with self.project.store(readonly=True) as store:
                stored = store.meta.get(PROJECT_ID_KEY)
            self._project_id = int(stored) if stored is not None else None
        return self._project_id

    def on_event(self, event: WebhookEvent, now: float | None = None) -> bool:
        """Count one webhook event; False when it is about another project (ignored)."""
        linked = self.project_id
        if event.project_id is not None and linked is not None and event.project_id != linked:
            self.counts.ignored += 1
            return False
        self.counts.events[event.action] += 1
        self.counts.changes += event.changes
        self.trigger.add(event.changes, time.monotonic() if now is None else now)
        return True

    def tick(self, now: float | None = None) -> None:
        """Notice a cycle that ended; start one when due and no other cycle runs."""
        now = time.monotonic() if now is None else now
        finished = self.runner.poll()
        if finished is not None:
            self._ended(finished, now)
        if self.runner.running is not None:
            return
        reason = self.trigger.due(now)
        if reason is None or now < self._lock_retry_at:
            return
        holder = self.runner.lock_holder()
        if holder is not None:
            if self.waiting_for is None or self.waiting_for.owner != holder.owner:
                self.echo(f"a cycle is due ({reason}) but pid {holder.pid} on "
                          f"{printable(holder.host)} "
                          "holds the cycle lock: starting when it ends")
            self.waiting_for = holder
            self._lock_retry_at = now + LOCK_RETRY
            return
        self.waiting_for = None
        taken = self.trigger.take()
        pid = self.runner.start(taken, reason)
        self.echo(f"cycle {self.runner.number} started (pid {pid}): {reason}")

    def _ended(self, finished: Finished, now: float) -> None:
        """A cycle's end: a failed one's changes wait again, tried after the backoff; a
        locked one's wait for the lock; one that ran ends the backoff."""
        retry = ""
        if finished.result == "locked":  # cron's cycle got there first: wait for it
            self.trigger.give_back(finished.taken)
        elif finished.result == "failed":
            delay = self.trigger.failed(finished.taken, now)
            pending = self.trigger.pending.changes
            self.runner.record("retry", failures=self.trigger.failures,
                               retry_in=round(delay, 3), changes=pending)
            retry = (f"; its {pending} changes wait, tried again in {delay:.0f} s "
                     f"(failure {self.trigger.failures} in a row)")
        else:
            self.trigger.succeeded()
        self.echo(f"cycle {finished.number} ended: {finished.result} (exit "
                  f"{finished.exit_code}) in {finished.seconds:.1f} s{retry}; its output is "
                  f"in {self.runner.log}")

    def figures(self) -> CycleFigures:
        last = self.runner.last
        return CycleFigures(self.runner.started, self.runner.running is not None,
                            self.trigger.pending.changes,
                            last.seconds if last else None, last.exit_code if last else None,
                            last.ended_at if last else None)

    def describe(self, now: float | None = None) -> dict[str, Any]:
        """The service's part of GET /status (retry: a failed cycle's changes wait for
        their next try: failures in a row, seconds until it; None when none failed)."""
        last = self.runner.last
        holder = self.waiting_for
        retry_in = self.trigger.retry_in(time.monotonic() if now is None else now)
        return {
            "cycles_started": self.runner.started,
            "latest_cycle": self.runner.number,
            "cycle_running": self.runner.running,
            "pending_changes": self.trigger.pending.changes,
            "retry": None if retry_in is None else {
                "failures": self.trigger.failures, "in_seconds": round(retry_in, 1)},
            "min_new_labels": self.trigger.min_new_labels, "max_wait": self.trigger.max_wait,
            "waiting_for_lock": None if holder is None else {"pid": holder.pid,
                                                             "host": holder.host},
            "last_cycle": None if last is None else {
                "cycle": last.number, "result": last.result, "exit_code": last.exit_code,
                "seconds": round(last.seconds, 3), "ended_at": last.ended_at},
            "webhook_events": dict(self.counts.events), "refused": dict(self.counts.refused),
            "ignored_events": self.counts.ignored, "journal": str(self.runner.journal),
            "log": str(self.runner.log)}
