"""The state database's tables in one place: the DDL of the current schema version, what
a new state is made with, and the base of the table objects that Store composes
(store.py). A state made by an earlier release reaches this layout through the numbered
steps of migrations.py, never through this DDL. Only the state package speaks SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

SCHEMA_VERSION = 2  # raise it only with a new step in migrations.py

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, path TEXT, split TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    item_id TEXT PRIMARY KEY REFERENCES items(item_id), label INTEGER NOT NULL,
    source TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS label_history (
    id INTEGER PRIMARY KEY, item_id TEXT NOT NULL, label INTEGER NOT NULL,
    previous INTEGER, source TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, status TEXT NOT NULL, phase TEXT, model_version TEXT,
    labels INTEGER, started_at REAL NOT NULL, finished_at REAL, error TEXT);
CREATE TABLE IF NOT EXISTS phases (
    round INTEGER NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL,
    detail TEXT);
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY, round INTEGER NOT NULL, kind TEXT NOT NULL,
    strategy TEXT NOT NULL, seed INTEGER, model_version TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id), item_id TEXT NOT NULL,
    rank INTEGER NOT NULL, score REAL, PRIMARY KEY (batch_id, item_id));
CREATE INDEX IF NOT EXISTS batch_items_item ON batch_items(item_id);
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER NOT NULL, split TEXT NOT NULL, model_version TEXT, payload TEXT NOT NULL,
    PRIMARY KEY (round, split));
CREATE TABLE IF NOT EXISTS suggestions (
    batch_id INTEGER NOT NULL, item_id TEXT NOT NULL, label INTEGER NOT NULL,
    confidence REAL NOT NULL, PRIMARY KEY (batch_id, item_id));
CREATE TABLE IF NOT EXISTS tasks (
    item_id TEXT PRIMARY KEY, task_id INTEGER NOT NULL, batch_id INTEGER NOT NULL,
    round INTEGER NOT NULL, pushed_at REAL NOT NULL, deleted_at REAL, is_open INTEGER);
CREATE TABLE IF NOT EXISTS annotations (
    annotation_id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, item_id TEXT NOT NULL,
    label INTEGER NOT NULL, annotator TEXT, lead_time REAL, updated_at TEXT NOT NULL,
    round INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS annotations_item ON annotations(item_id);
CREATE TABLE IF NOT EXISTS disagreements (
    item_id TEXT PRIMARY KEY, votes TEXT NOT NULL, label INTEGER, round INTEGER NOT NULL,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    task_id INTEGER NOT NULL, item_id TEXT, annotation_id INTEGER NOT NULL, reason TEXT NOT NULL,
    round INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (task_id, annotation_id, reason));
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    acquired_at REAL NOT NULL, heartbeat REAL NOT NULL, started REAL);
CREATE TABLE IF NOT EXISTS duplicate_pairs (
    first TEXT NOT NULL, second TEXT NOT NULL, kind TEXT NOT NULL, similarity REAL NOT NULL,
    PRIMARY KEY (first, second));
CREATE TABLE IF NOT EXISTS duplicate_groups (
    group_id INTEGER PRIMARY KEY, representative TEXT NOT NULL, kind TEXT NOT NULL,
    found_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS duplicate_members (
    item_id TEXT PRIMARY KEY, group_id INTEGER NOT NULL REFERENCES duplicate_groups(group_id));
CREATE TABLE IF NOT EXISTS skipped_items (
    item_id TEXT PRIMARY KEY, path TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gold (
    item_id TEXT PRIMARY KEY, label INTEGER NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS relabel_requests (
    item_id TEXT NOT NULL, task_id INTEGER NOT NULL, round INTEGER NOT NULL,
    annotations INTEGER NOT NULL, overlap INTEGER NOT NULL, requested_at REAL NOT NULL,
    applied_at REAL, PRIMARY KEY (item_id, overlap));
CREATE TABLE IF NOT EXISTS review_tasks (
    item_id TEXT NOT NULL, round INTEGER NOT NULL, task_id INTEGER, state TEXT NOT NULL,
    label INTEGER NOT NULL, suggestion INTEGER NOT NULL, score REAL NOT NULL,
    confidence REAL NOT NULL, answer INTEGER, created_at REAL NOT NULL,
    PRIMARY KEY (item_id, round));
CREATE INDEX IF NOT EXISTS review_tasks_task ON review_tasks(task_id);
CREATE TABLE IF NOT EXISTS catalogue (
    item_id TEXT PRIMARY KEY, uri TEXT NOT NULL, bytes INTEGER NOT NULL,
    version TEXT NOT NULL, label INTEGER NOT NULL, is_test INTEGER NOT NULL,
    width INTEGER, height INTEGER, format TEXT, mode TEXT, reason TEXT, sha256 TEXT,
    dhash INTEGER, slot INTEGER NOT NULL, cached INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS schema_history (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL,
    release TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS phases_round ON phases(round, phase);
CREATE INDEX IF NOT EXISTS label_history_item ON label_history(item_id);
CREATE INDEX IF NOT EXISTS annotations_task ON annotations(task_id);
"""


def create_tables(db: sqlite3.Connection) -> None:
    """Make a new state's tables and indexes, at SCHEMA_VERSION (one transaction)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements(SCHEMA):
            db.execute(statement)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def statements(script: str) -> list[str]:
    """The statements of a DDL script (none of ours has a ';' inside a statement), so that
    they run inside a transaction: sqlite3's executescript commits first."""
    return [s.strip() for s in script.split(";") if s.strip()]


class Table:
    """A table object: the queries of one concern over the store's connection. Every
    write is committed at once (`with self.db:`), so a crash loses at most what was
    being written."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db


def chunks(values: list, size: int = 500) -> Iterator[list]:
    """values in pieces: SQLite caps the number of bound parameters per statement."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
