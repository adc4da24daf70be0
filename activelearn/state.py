"""The embedded SQLite store: the only module that speaks SQL.

Holds items and their split, labels with history, rounds and their phases,
batches with provenance (strategy, seed, model version, each item's score) and
metrics. Every write is committed at once, so a crash loses at most the phase
that was running.
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
"""


class Split(str, Enum):
    TRAIN = "train"  # the pool: candidates for labelling, labeled ones are trained on
    VALIDATION = "validation"
    TEST = "test"


class RoundStatus(str, Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BatchKind(str, Enum):
    INITIAL = "initial"
    QUERY = "query"


@dataclass
class RoundRow:
    round: int
    status: str
    phase: str | None
    model_version: str | None
    labels: int | None


class Store:
    """A project's state in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: not a usable state database ({exc})") from None
        self._check_version()

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
        now = time.time()
        labels = list(labels)
        current = self._current_labels([i for i, _ in labels])
        changed = []  # (item_id, label, previous), in order, so a repeat sees the one before
        for item_id, label in labels:
            if current.get(item_id) != label:
                changed.append((item_id, label, current.get(item_id)))
                current[item_id] = label
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?)",
                [(i, lab, source, round_, annotator, now) for i, lab, _ in changed])
            self.db.executemany(
                "INSERT INTO label_history (item_id, label, previous, source, round, annotator,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(i, lab, prev, source, round_, annotator, now) for i, lab, prev in changed])
        return len(changed)

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

    def label_history(self, item_id: str) -> list[tuple[int, int | None, str, int]]:
        """(label, previous, source, round) oldest first."""
        return list(self.db.execute(
            "SELECT label, previous, source, round FROM label_history WHERE item_id=?"
            " ORDER BY id", (item_id,)))

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

    def rounds(self) -> list[RoundRow]:
        return [RoundRow(*r) for r in self.db.execute(
            "SELECT round, status, phase, model_version, labels FROM rounds ORDER BY round")]

    # -- batches ------------------------------------------------------------
    def add_batch(self, round_: int, kind: BatchKind, strategy: str, seed: int | None,
                  model_version: str | None, items: list[tuple[str, float]]) -> int:
        """Record a selected batch: items as (item_id, score), best first. Returns its id."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO batches (round, kind, strategy, seed, model_version, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (round_, kind.value, strategy, seed, model_version, time.time()))
            batch_id = int(cur.lastrowid or 0)
            self.db.executemany("INSERT INTO batch_items VALUES (?, ?, ?, ?)",
                                [(batch_id, i, rank, s) for rank, (i, s) in enumerate(items)])
        return batch_id

    def batch_items(self, batch_id: int) -> list[tuple[str, float]]:
        return list(self.db.execute(
            "SELECT item_id, score FROM batch_items WHERE batch_id=? ORDER BY rank", (batch_id,)))

    def batches(self) -> list[dict]:
        cols = ["batch_id", "round", "kind", "strategy", "seed", "model_version"]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM batches ORDER BY batch_id")
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
