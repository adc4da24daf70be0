"""State files for the migration and backup tests: the schema as comparable data, the
rows of the tables a user's history lives in, and states of earlier schemas."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from support import ROOT

# the previous release's real state (tests/fixtures/schema1-demo/README.md)
SCHEMA1_DEMO = ROOT / "tests" / "fixtures" / "schema1-demo"
# the tables whose rows an upgrade must keep row for row
HISTORY_TABLES = ("items", "labels", "label_history", "rounds", "phases", "batches",
                  "batch_items", "metrics", "suggestions", "tasks", "annotations", "meta")

# the state as the first release of schema 1 made it (commit 4b62986): 9 tables
FIRST_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (item_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, path TEXT,
    split TEXT NOT NULL);
CREATE TABLE labels (item_id TEXT PRIMARY KEY REFERENCES items(item_id),
    label INTEGER NOT NULL, source TEXT NOT NULL, round INTEGER NOT NULL, annotator TEXT,
    updated_at REAL NOT NULL);
CREATE TABLE label_history (id INTEGER PRIMARY KEY, item_id TEXT NOT NULL,
    label INTEGER NOT NULL, previous INTEGER, source TEXT NOT NULL, round INTEGER NOT NULL,
    annotator TEXT, created_at REAL NOT NULL);
CREATE TABLE rounds (round INTEGER PRIMARY KEY, status TEXT NOT NULL, phase TEXT,
    model_version TEXT, labels INTEGER, started_at REAL NOT NULL, finished_at REAL,
    error TEXT);
CREATE TABLE phases (round INTEGER NOT NULL, phase TEXT NOT NULL, status TEXT NOT NULL,
    at REAL NOT NULL, detail TEXT);
CREATE TABLE batches (batch_id INTEGER PRIMARY KEY, round INTEGER NOT NULL,
    kind TEXT NOT NULL, strategy TEXT NOT NULL, seed INTEGER, model_version TEXT,
    created_at REAL NOT NULL);
CREATE TABLE batch_items (batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    item_id TEXT NOT NULL, rank INTEGER NOT NULL, score REAL, PRIMARY KEY (batch_id, item_id));
CREATE INDEX batch_items_item ON batch_items(item_id);
CREATE TABLE metrics (round INTEGER NOT NULL, split TEXT NOT NULL, model_version TEXT,
    payload TEXT NOT NULL, PRIMARY KEY (round, split));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO items VALUES ('img0', 0, NULL, 'train'), ('img1', 1, NULL, 'train'),
    ('img2', 2, NULL, 'validation');
INSERT INTO labels VALUES ('img0', 3, 'oracle', 0, NULL, 1.0), ('img2', 1, 'oracle', 0, NULL, 1.0);
INSERT INTO label_history VALUES (1, 'img0', 2, NULL, 'oracle', 0, NULL, 0.5),
    (2, 'img0', 3, 2, 'oracle', 1, NULL, 1.0), (3, 'img2', 1, NULL, 'oracle', 0, NULL, 1.0);
INSERT INTO rounds VALUES (0, 'done', 'query', 'm-r0', 2, 0.0, 2.0, NULL);
INSERT INTO phases VALUES (0, 'train', 'started', 0.1, ''), (0, 'train', 'done', 0.9, '');
"""


def schema_of(path: Path) -> dict:
    """The state's layout as comparable data: per table its columns (name, type, not
    null, default, primary key) in order, per index its table, columns and uniqueness.
    Independent of how the DDL text reads (ALTER TABLE rewrites it)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: dict = {}
        for kind, name, table in db.execute(
                "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE"
                " 'sqlite_%' ORDER BY type, name"):
            if kind == "table":
                out[f"table {name}"] = [tuple(r[1:]) for r in
                                        db.execute(f"PRAGMA table_info({name})")]
            elif kind == "index":
                unique = {r[1]: r[2] for r in db.execute(f"PRAGMA index_list({table})")}
                out[f"index {name}"] = (table, unique[name], [
                    r[2] for r in db.execute(f"PRAGMA index_info({name})")])
        return out
    finally:
        db.close()


def rows_of(path: Path, tables=HISTORY_TABLES, skip_meta=("schema_version",)) -> dict:
    """Every row of tables, sorted (meta without the keys in skip_meta)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table in tables:
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            if table == "meta":
                rows = [r for r in rows if r[0] not in skip_meta]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        db.close()


def copy_demo_state(work_dir: Path) -> Path:
    """The previous release's real state, copied into work_dir; returns its path."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "state.sqlite"
    shutil.copyfile(SCHEMA1_DEMO / "state.sqlite", target)
    return target


def first_schema_1(path: Path) -> Path:
    """A state as the first release of schema 1 left it (FIRST_SCHEMA_1)."""
    db = sqlite3.connect(path)
    db.executescript(FIRST_SCHEMA_1)
    db.close()
    return path


def version_of(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    finally:
        db.close()
