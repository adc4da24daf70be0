"""Numbered schema migrations: how a state made by an earlier release reaches this one's
schema (schema.SCHEMA_VERSION).

MIGRATIONS is the ordered list of steps; step N turns a state of schema N-1 into schema
N and says so in one line. `upgrade()` applies the steps a state lacks inside ONE
transaction, with the version read again inside it: a crash (or kill -9) anywhere
before the commit leaves the state exactly as it was, at its old version, and running
again finishes the work; two processes upgrading at once upgrade once. Each applied
step is recorded in the schema_history table (version, description, when, release).

A new step: write a function taking the connection, append
Migration(N, "what it changes", function) to MIGRATIONS, raise SCHEMA_VERSION to N and
change schema.SCHEMA to the same layout: tests/unit/state/test_migrations.py checks
that a migrated state and a new one have the same tables, columns and indexes. Steps
are never edited once released.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from activelearn import __version__
from activelearn.failpoints import failpoint
from activelearn.state.schema import SCHEMA_VERSION, statements
from activelearn.state.schema1 import SCHEMA_1, SCHEMA_1_ADDED_COLUMNS

# the failpoint between the last step and the commit (tests kill the upgrade there)
MIGRATED = "upgrade:migrated"


@dataclass(frozen=True)
class Migration:
    """One step: apply(db) turns schema version-1 into version (inside the caller's
    transaction: no commit, no executescript)."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _to_2(db: sqlite3.Connection) -> None:
    # schema 1 was completed lazily on open: a state of an early release lacks the
    # tables and columns that came later
    for statement in statements(SCHEMA_1):
        db.execute(statement)
    for table, column, kind in SCHEMA_1_ADDED_COLUMNS:
        if column not in columns(db, table):
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    db.execute("CREATE TABLE IF NOT EXISTS schema_history (version INTEGER PRIMARY KEY,"
               " description TEXT NOT NULL, applied_at REAL NOT NULL, release TEXT NOT NULL)")
    # what the queries of rounds.py (a round's phases, the last unresolved failure),
    # labels.py (an item's history) and annotations.py (a task's annotations) look up:
    # they scanned whole tables that grow with every round
    db.execute("CREATE INDEX IF NOT EXISTS phases_round ON phases(round, phase)")
    db.execute("CREATE INDEX IF NOT EXISTS label_history_item ON label_history(item_id)")
    db.execute("CREATE INDEX IF NOT EXISTS annotations_task ON annotations(task_id)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "schema_history; indexes on phases, label_history and annotations by "
                 "task; schema 1's later tables and columns where missing", _to_2),
)


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    """The column names of table, in order."""
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def pending(found: int) -> list[Migration]:
    """The steps a state of schema `found` lacks, in order."""
    return [m for m in MIGRATIONS if m.version > found]


def read_version(db: sqlite3.Connection) -> int | None:
    """The state's schema version (None: none recorded); a damaged value raises
    ValueError."""
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return None if row is None else int(row[0])


def upgrade(db: sqlite3.Connection, assumed: int = 1) -> list[Migration]:
    """Apply the steps the state lacks in one transaction (see the module) and return
    them (none: another process finished first). assumed: the version of a state that
    records none (a state whose creation an early release did not finish)."""
    db.execute("BEGIN IMMEDIATE")  # the version read below and every step as one unit
    try:
        found = read_version(db)
        steps = pending(assumed if found is None else found)
        for step in steps:
            step.apply(db)
            record(db, step.version, step.description)
        if steps:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))
            failpoint(MIGRATED)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return steps


def record(db: sqlite3.Connection, version: int, description: str) -> None:
    """Note in schema_history that the state reached version (inside a transaction)."""
    db.execute("INSERT OR REPLACE INTO schema_history VALUES (?, ?, ?, ?)",
               (version, description, time.time(), __version__))


def history(db: sqlite3.Connection) -> list[tuple[int, str, float, str]]:
    """(version, description, applied_at, release) of each version the state reached,
    oldest first; empty for a state of schema 1."""
    if "version" not in columns(db, "schema_history"):
        return []
    return [tuple(r) for r in db.execute(
        "SELECT version, description, applied_at, release FROM schema_history"
        " ORDER BY version")]
