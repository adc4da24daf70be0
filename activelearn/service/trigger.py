"""When a webhook-driven cycle starts: after `serve.min_new_labels` changes, or
`serve.max_wait` seconds after the first one, whichever comes first; never while one
runs. Pure: the caller passes the time and whether a cycle runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pending:
    """Changes waiting for a cycle and when the first of them arrived (None: none)."""

    changes: int = 0
    since: float | None = None


class Trigger:
    """Counts changes and says when a cycle is due (see the module)."""

    def __init__(self, min_new_labels: int, max_wait: float) -> None:
        self.min_new_labels = min_new_labels
        self.max_wait = max_wait
        self.pending = Pending()

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
