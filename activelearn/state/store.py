"""The embedded SQLite store: with pulls.py and locks.py, the only code that speaks SQL.

Holds items and their split, labels with history, rounds and their phases,
batches with provenance (strategy, seed, model version, each item's score and the
model's suggestion), metrics, Label Studio tasks and annotations, and the cycle lock.
Every write is committed at once, so a crash loses at most the phase that was running.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from activelearn.errors import StateError
from activelearn.state.duplicates import DuplicateRecords
from activelearn.state.exports import ExportRecords
from activelearn.state.locks import LockRecords
from activelearn.state.pulls import NO_LABEL, PullRecords
from activelearn.state.quality import QUALITY_SCHEMA, QualityRecords
from activelearn.state.relabels import RELABEL_SCHEMA, RelabelRecords
from activelearn.state.reports import ReportRecords
from activelearn.state.review import REVIEW_SCHEMA, ReviewRecords

SCHEMA_VERSION = 1

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
    acquired_at REAL NOT NULL, heartbeat REAL NOT NULL);
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
"""


# Columns added after a table was first released: (table, column, type). A state made
# before gets them on open (ALTER TABLE ... ADD COLUMN, NULL in the existing rows).
ADDED_COLUMNS = [
    ("tasks", "is_open", "INTEGER"),  # 1/0: Label Studio serves it still (NULL: not known)
]


def _add_columns(db: sqlite3.Connection) -> None:
    for table, column, kind in ADDED_COLUMNS:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            with db:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


class Split(str, Enum):
    TRAIN = "train"  # the pool: candidates for labelling, labeled ones are trained on
    VALIDATION = "validation"
    TEST = "test"
    HOLDOUT = "holdout"  # pool items labelled by people for evaluation only, never trained on


class RoundStatus(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BatchKind(str, Enum):
    HOLDOUT = "holdout"  # random, human-labelled, evaluation only
    INITIAL = "initial"  # random, the first training labels
    QUERY = "query"  # chosen by the strategy
    GOLD = "gold"  # gold items mixed into a query round (quality.gold_rate); pushed as query


@dataclass
class RoundRow:
    round: int
    status: str
    phase: str | None
    model_version: str | None
    labels: int | None


class Store(PullRecords, LockRecords, ReportRecords, ExportRecords, QualityRecords,
            DuplicateRecords, RelabelRecords, ReviewRecords):
    """A project's state in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self._open()
        self._check_version()

    def _open(self, wait: float = 30.0) -> sqlite3.Connection:
        """Connect, switch to WAL and create the tables. Switching the journal mode takes
        the database exclusively and SQLite does not always wait for that (no busy
        handler), so processes opening a new state at once retry instead of failing."""
        deadline = time.monotonic() + wait
        while True:
            db = sqlite3.connect(self.path, timeout=wait)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA + QUALITY_SCHEMA + RELABEL_SCHEMA + REVIEW_SCHEMA)
                _add_columns(db)
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                # "database is locked", "schema has changed": another process is creating
                # it right now; a corrupt file is a DatabaseError, not an OperationalError
                if time.monotonic() > deadline:
                    raise StateError(f"{self.path}: not a usable state database ({exc})"
                                     ) from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                db.close()
                raise StateError(f"{self.path}: not a usable state database ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise StateError(f"{self.path}: state schema {found}, this activelearn reads "
                             f"{SCHEMA_VERSION}; use a new work_dir")

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- items --------------------------------------------------------------
    def item_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def add_items(self, rows: Iterable[tuple[str, int, str | None, str]]) -> None:
        """rows: (item_id, idx, path, split); existing ids keep their split."""
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)", rows)

    def splits(self) -> dict[str, str]:
        """item_id -> split for every item."""
        return dict(self.db.execute("SELECT item_id, split FROM items"))


    # -- labels -------------------------------------------------------------
    def set_labels(self, labels: Iterable[tuple[str, int]], source: str, round_: int,
                   annotator: str | None = None) -> int:
        """Record labels; a changed label keeps the old one in history. Returns rows written."""
        rows = [(item_id, label, annotator) for item_id, label in labels]
        with self.db:
            return len(self._write_labels(rows, source, round_))

    def _write_labels(self, rows: list[tuple[str, int, str | None]], source: str,
                      round_: int) -> list[tuple[str, int, int | None]]:
        """(item_id, label or NO_LABEL, annotator) rows inside the caller's transaction:
        only changes are written, each with a history row; NO_LABEL removes the label.
        Returns the changes as (item_id, label, previous label or None)."""
        now = time.time()
        current = self._current_labels([i for i, _, _ in rows])
        # (item_id, label, previous, annotator), in order: a repeat sees the one before
        changed = []
        for item_id, label, annotator in rows:
            previous = current.get(item_id, NO_LABEL)
            if previous != label:
                changed.append((item_id, label, None if previous == NO_LABEL else previous,
                                annotator))
                current[item_id] = label
        self.db.executemany(
            "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?)",
            [(i, lab, source, round_, who, now) for i, lab, _, who in changed if lab != NO_LABEL])
        self.db.executemany("DELETE FROM labels WHERE item_id=?",
                            [(i,) for i, lab, _, _ in changed if lab == NO_LABEL])
        self.db.executemany(
            "INSERT INTO label_history (item_id, label, previous, source, round, annotator,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i, lab, prev, source, round_, who, now) for i, lab, prev, who in changed])
        return [(i, lab, prev) for i, lab, prev, _ in changed]

    def _current_labels(self, item_ids: list[str]) -> dict[str, int]:
        """Current labels of just these items (in chunks: SQLite caps bound parameters)."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(self.db.execute(
                f"SELECT item_id, label FROM labels WHERE item_id IN ({marks})", chunk))
        return found

    def labels(self, split: str | None = None) -> dict[str, int]:
        """item_id -> current label, optionally only items of one split."""
        if split is None:
            return dict(self.db.execute("SELECT item_id, label FROM labels"))
        return dict(self.db.execute(
            "SELECT l.item_id, l.label FROM labels l JOIN items i USING (item_id)"
            " WHERE i.split=?", (split,)))

    def label_counts(self) -> dict[str, int]:
        """split -> how many of its items have a label."""
        return dict(self.db.execute(
            "SELECT i.split, COUNT(*) FROM labels l JOIN items i USING (item_id)"
            " GROUP BY i.split"))

    def label_history(self, item_id: str) -> list[tuple[int, int | None, str, int]]:
        """(label, previous, source, round) oldest first."""
        return list(self.db.execute(
            "SELECT label, previous, source, round FROM label_history WHERE item_id=?"
            " ORDER BY id", (item_id,)))

    def labels_changed_since(self, round_: int, split: Split) -> int:
        """Items of a split whose label was set or changed after round round_."""
        return self.db.execute(
            "SELECT COUNT(DISTINCT h.item_id) FROM label_history h JOIN items i USING (item_id)"
            " WHERE h.round > ? AND i.split=?", (round_, split.value)).fetchone()[0]

    def queued_ids(self) -> set[str]:
        """Items in a batch that have no label yet."""
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT b.item_id FROM batch_items b LEFT JOIN labels l USING (item_id)"
            " WHERE l.item_id IS NULL")}

    # -- rounds and phases --------------------------------------------------
    def start_round(self, round_: int) -> None:
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

    def finish_round(self, round_: int, model_version: str | None, labels: int,
                     status: RoundStatus = RoundStatus.DONE, error: str | None = None) -> None:
        with self.db:
            self.db.execute(
                "UPDATE rounds SET status=?, model_version=?, labels=?, finished_at=?, error=?"
                " WHERE round=?",
                (status.value, model_version, labels, time.time(), error, round_))

    def fail_round(self, round_: int, error: str) -> None:
        """Note why the round stopped; it stays running, so the next run resumes it."""
        with self.db:
            self.db.execute("UPDATE rounds SET error=? WHERE round=?", (error, round_))

    def phases_done(self, round_: int) -> dict[str, str]:
        """phase -> detail of the phases of a round that finished ('done')."""
        return dict(self.db.execute(
            "SELECT phase, detail FROM phases WHERE round=? AND status='done' ORDER BY at",
            (round_,)))

    def last_round(self) -> dict | None:
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
        """The newest failed phase: round, phase, detail (the error) and at."""
        row = self.db.execute("SELECT round, phase, detail, at FROM phases WHERE status="
                              "'failed' ORDER BY at DESC LIMIT 1").fetchone()
        return dict(zip(["round", "phase", "error", "at"], row)) if row else None

    def rounds(self) -> list[RoundRow]:
        return [RoundRow(*r) for r in self.db.execute(
            "SELECT round, status, phase, model_version, labels FROM rounds ORDER BY round")]

    # -- batches ------------------------------------------------------------
    def add_batch(self, round_: int, kind: BatchKind, strategy: str, seed: int | None,
                  model_version: str | None, items: list[tuple[str, float]],
                  suggestions: list[tuple[str, int, float]] | None = None,
                  move_to: Split | None = None) -> int:
        """Record a selected batch in one transaction: items as (item_id, score), best
        first; the model's suggestions as (item_id, label, confidence); move_to: give
        the items this split (a holdout batch). Returns the batch id."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO batches (round, kind, strategy, seed, model_version, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (round_, kind.value, strategy, seed, model_version, time.time()))
            batch_id = int(cur.lastrowid or 0)
            self.db.executemany("INSERT INTO batch_items VALUES (?, ?, ?, ?)",
                                [(batch_id, i, rank, s) for rank, (i, s) in enumerate(items)])
            self.db.executemany("INSERT INTO suggestions VALUES (?, ?, ?, ?)",
                                [(batch_id, i, lab, c) for i, lab, c in suggestions or []])
            if move_to is not None:
                self.db.executemany("UPDATE items SET split=? WHERE item_id=?",
                                    [(move_to.value, i) for i, _ in items])
        return batch_id

    def batched_ids(self) -> set[str]:
        """Items in any batch (selected once: never selected again)."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT item_id FROM batch_items")}

    def batch_items(self, batch_id: int) -> list[tuple[str, float]]:
        return list(self.db.execute(
            "SELECT item_id, score FROM batch_items WHERE batch_id=? ORDER BY rank", (batch_id,)))

    def suggestions(self, batch_id: int) -> dict[str, tuple[int, float]]:
        """item_id -> (label, confidence) of a batch's suggestions."""
        return {i: (lab, conf) for i, lab, conf in self.db.execute(
            "SELECT item_id, label, confidence FROM suggestions WHERE batch_id=?", (batch_id,))}

    def batches(self, round_: int | None = None) -> list[dict]:
        """Batches as dicts (batch_id, round, kind, ...), of one round or all, oldest first."""
        cols = ["batch_id", "round", "kind", "strategy", "seed", "model_version"]
        where, args = ("WHERE round=?", (round_,)) if round_ is not None else ("", ())
        rows = self.db.execute(
            f"SELECT {', '.join(cols)} FROM batches {where} ORDER BY batch_id", args)
        return [dict(zip(cols, r)) for r in rows]

    # -- metrics ------------------------------------------------------------
    def record_metrics(self, round_: int, split: str, model_version: str, payload: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)",
                            (round_, split, model_version, json.dumps(payload)))

    def metrics(self, split: str) -> dict[int, dict]:
        """round -> metrics payload for one split."""
        return {r: json.loads(p) for r, p in self.db.execute(
            "SELECT round, payload FROM metrics WHERE split=? ORDER BY round", (split,))}
