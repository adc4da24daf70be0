"""When a webhook-driven cycle starts: after `serve.min_new_labels` changes, or
`serve.max_wait` seconds after the first one, whichever comes first; never while one
runs. A cycle that failed gives its changes back and is started again after
`serve.retry_after` seconds, twice as long after each further failure in a row (at most
RETRY_CAP); one that succeeds ends the backoff. Pure: the caller passes the time and
whether a cycle runs."""

from __future__ import annotations

from dataclasses import dataclass

RETRY_CAP = 900.0  # seconds: the longest wait before a failed cycle is tried again


@dataclass(frozen=True)
class Pending:
    """Changes waiting for a cycle and when the first of them arrived (None: none)."""

    changes: int = 0
    since: float | None = None


class Trigger:
    """Counts changes and says when a cycle is due (see the module)."""

    def __init__(self, min_new_labels: int, max_wait: float, retry_after: float = 30.0
                 ) -> None:
        self.min_new_labels = min_new_labels
        self.max_wait = max_wait
        self.retry_after = retry_after
        self.pending = Pending()
        self.failures = 0  # cycles that failed in a row
        self.retry_at: float | None = None  # when the failed cycle's changes are due again

    def add(self, changes: int, now: float) -> None:
        """Record `changes` label changes that arrived at `now`."""
        if changes <= 0:
            return
        since = self.pending.since if self.pending.since is not None else now
        self.pending = Pending(self.pending.changes + changes, since)

    def due(self, now: float) -> str | None:
        """Why a cycle should start now ("20 changes", "300 s since the first of 3
        changes"), or None."""
        p = self.pending
        if self.retry_at is not None and p.changes > 0:  # a failed cycle's changes
            if now < self.retry_at:
                return None
            return f"retry {self.failures} after a failed cycle, {p.changes} changes"
        if p.changes >= self.min_new_labels:
            return f"{p.changes} changes"
        if p.since is not None and now - p.since >= self.max_wait:
            return f"{now - p.since:.0f} s since the first of {p.changes} changes"
        return None

    def take(self) -> Pending:
        """The pending changes, handed to a cycle that starts now; none remain."""
        taken, self.pending = self.pending, Pending()
        return taken

    def give_back(self, taken: Pending) -> None:
        """A cycle that did not run (another held the lock): its changes wait again."""
        if taken.changes <= 0:
            return
        firsts = [t for t in (taken.since, self.pending.since) if t is not None]
        self.pending = Pending(self.pending.changes + taken.changes, min(firsts, default=None))

    def failed(self, taken: Pending, now: float) -> float:
        """A cycle that failed: its changes wait again, due after a delay that doubles
        with each failure in a row (see the module); returns the delay in seconds."""
        self.give_back(taken)
        self.failures += 1
        cap = max(RETRY_CAP, self.retry_after)
        delay = min(self.retry_after * 2.0 ** min(self.failures - 1, 30), cap)
        self.retry_at = now + delay
        return delay

    def succeeded(self) -> None:
        """A cycle that ran to its end: the backoff starts over."""
        self.failures = 0
        self.retry_at = None

    def retry_in(self, now: float) -> float | None:
        """Seconds until the failed cycle's changes are tried again (0: now), or None."""
        if self.retry_at is None:
            return None
        return max(0.0, self.retry_at - now)
