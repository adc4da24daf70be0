"""Rounds and their phases (`store.rounds`): each phase is recorded before and after it
runs, so a rerun after a crash resumes a round at its first unfinished phase."""

from __future__ import annotations

import time
from dataclasses import dataclass

from activelearn.kinds import RoundStatus
from activelearn.state.schema import Table


@dataclass
class RoundRow:
    round: int
    status: str
    phase: str | None
    model_version: str | None
    labels: int | None


class RoundTable(Table):
    """The rounds and phases tables."""

    def start(self, round_: int) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO rounds (round, status, started_at) VALUES (?, ?, ?)"
                " ON CONFLICT(round) DO UPDATE SET status=excluded.status, error=NULL",
                (round_, RoundStatus.RUNNING.value, time.time()))

    def record_phase(self, round_: int, phase: str, status: str, detail: str = "") -> None:
        """Log a phase boundary ('started'/'done'/'failed') and mark the round's current phase."""
        with self.db:
            self.db.execute("INSERT INTO phases VALUES (?, ?, ?, ?, ?)",
                            (round_, phase, status, time.time(), detail))
            self.db.execute("UPDATE rounds SET phase=? WHERE round=?", (phase, round_))

    def finish(self, round_: int, model_version: str | None, labels: int,
               status: RoundStatus = RoundStatus.DONE, error: str | None = None) -> None:
        with self.db:
            self.db.execute(
                "UPDATE rounds SET status=?, model_version=?, labels=?, finished_at=?, error=?"
                " WHERE round=?",
                (status.value, model_version, labels, time.time(), error, round_))

    def fail(self, round_: int, error: str) -> None:
        """Note why the round stopped; it stays running, so the next run resumes it."""
        with self.db:
            self.db.execute("UPDATE rounds SET error=? WHERE round=?", (error, round_))

    def phases_done(self, round_: int) -> dict[str, str]:
        """phase -> detail of the phases of a round whose latest record is 'done' (a phase
        recorded 'lost' after it finished, its output gone, counts as not done)."""
        latest: dict[str, tuple[str, str]] = {}
        for phase, status, detail in self.db.execute(
                "SELECT phase, status, detail FROM phases WHERE round=? ORDER BY rowid",
                (round_,)):
            latest[phase] = (status, detail)
        return {phase: detail for phase, (status, detail) in latest.items()
                if status == "done"}

    def last(self) -> dict | None:
        """The newest round with all its columns, or None before the first."""
        cols = ["round", "status", "phase", "model_version", "labels", "started_at",
                "finished_at", "error"]
        row = self.db.execute(
            f"SELECT {', '.join(cols)} FROM rounds ORDER BY round DESC LIMIT 1").fetchone()
        return dict(zip(cols, row)) if row else None

    def last_phase(self, phase: str) -> float | None:
        """When a phase last finished (a unix time), or None."""
        return self.db.execute("SELECT MAX(at) FROM phases WHERE phase=? AND status='done'",
                               (phase,)).fetchone()[0]

    def last_failure(self) -> dict | None:
        """The newest failed phase that no later run finished: round, phase, detail (the
        error) and at; None when every failure was resolved since."""
        row = self.db.execute(
            "SELECT p.round, p.phase, p.detail, p.at FROM phases p WHERE p.status='failed'"
            " AND NOT EXISTS (SELECT 1 FROM phases q WHERE q.round=p.round AND"
            " q.phase=p.phase AND q.status='done' AND q.rowid > p.rowid)"
            " AND NOT EXISTS (SELECT 1 FROM rounds r WHERE r.round=p.round AND r.status=?)"
            " ORDER BY p.rowid DESC LIMIT 1", (RoundStatus.DONE.value,)).fetchone()
        return dict(zip(["round", "phase", "error", "at"], row)) if row else None

    def working_seconds(self, round_: int) -> float:
        """How long a round's phases ran, in seconds: each phase from its last start to
        the done that followed (the time between a crash and the resuming run does not
        count); phases not done yet add nothing."""
        started: dict[str, float] = {}
        total = 0.0
        for phase, status, at in self.db.execute(
                "SELECT phase, status, at FROM phases WHERE round=? ORDER BY rowid", (round_,)):
            if status == "started":
                started[phase] = at
            elif status == "done" and phase in started:
                total += at - started.pop(phase)
        return total

    def last_trained(self) -> int | None:
        """The newest finished round that trained a model, or None."""
        row = self.db.execute(
            "SELECT MAX(round) FROM rounds WHERE status=? AND model_version IS NOT NULL",
            (RoundStatus.DONE.value,)).fetchone()
        return row[0]

    def all(self) -> list[RoundRow]:
        """Every round, oldest first."""
        return [RoundRow(*r) for r in self.db.execute(
            "SELECT round, status, phase, model_version, labels FROM rounds ORDER BY round")]
