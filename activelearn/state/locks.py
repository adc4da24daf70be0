"""Named locks in the state store, so that two `cycle` runs never work at once.

A lock row names its holder (a random owner token, pid and host) and a heartbeat the
holder refreshes. Whether a holder is gone (a stale lock) is decided by the caller
(see activelearn.loop.lock); the row is only changed inside one IMMEDIATE transaction,
so two processes cannot both take it (`store.locks`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from activelearn.state.connection import peek
from activelearn.state.migrations import columns
from activelearn.state.schema import Table


@dataclass(frozen=True)
class LockHolder:
    name: str
    owner: str
    pid: int
    host: str
    acquired_at: float
    heartbeat: float
    started: float | None = None  # the holder process's start time on its host, if known


class LockTable(Table):
    """The locks table."""

    def try_take(self, name: str, owner: str, pid: int, host: str,
                 is_stale: Callable[[LockHolder], bool],
                 started: float | None = None) -> LockHolder | None:
        """Take the lock `name` for owner; returns None when taken, else the live holder.
        A holder that is_stale() calls gone is replaced. started: the start time of the
        process pid (tells a live holder from a reused pid)."""
        self.db.execute("BEGIN IMMEDIATE")  # the read and the write below as one step
        try:
            holder = self.holder(name)
            if holder is not None and holder.owner != owner and not is_stale(holder):
                self.db.rollback()
                return holder
            now = time.time()
            self.db.execute(
                "INSERT OR REPLACE INTO locks (name, owner, pid, host, acquired_at,"
                " heartbeat, started) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, owner, pid, host, now, now, started))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return None

    def holder(self, name: str) -> LockHolder | None:
        row = self.db.execute(
            "SELECT name, owner, pid, host, acquired_at, heartbeat, started FROM locks"
            " WHERE name=?", (name,)).fetchone()
        return LockHolder(*row) if row else None

    def beat(self, name: str, owner: str) -> bool:
        """Refresh the heartbeat; False if the lock is no longer ours (taken over)."""
        with self.db:
            cur = self.db.execute("UPDATE locks SET heartbeat=? WHERE name=? AND owner=?",
                                  (time.time(), name, owner))
        return cur.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM locks WHERE name=? AND owner=?", (name, owner))


def read_holder(path: Path, name: str) -> LockHolder | None:
    """The holder of the lock `name` in the state file at path, of any schema version,
    read without writing (what `upgrade` and `restore` check first); None when free."""
    db = peek(path)
    try:
        have = columns(db, "locks")
        if not have:
            return None
        row = db.execute(f"SELECT name, owner, pid, host, acquired_at, heartbeat,"
                         f" {'started' if 'started' in have else 'NULL'} FROM locks"
                         " WHERE name=?", (name,)).fetchone()
    finally:
        db.close()
    return LockHolder(*row) if row else None
