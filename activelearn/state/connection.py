"""Opening the state database, and the one place its errors become one-line StateErrors.

Every SQLite error the store meets (a full disk, a read-only folder, a damaged file, a
lock held too long) is raised as a StateError naming the file and what to do, by the
connection itself (`GuardedConnection`), so no caller sees a traceback. On open the file
is checked: a folder, another program's SQLite database, a schema version this
activelearn does not read, and a damaged file (`PRAGMA quick_check`) are refused before
anything is read or written.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from activelearn.errors import StateError
from activelearn.state.schema import SCHEMA_VERSION, create_tables

WAIT = 30.0  # seconds a writer waits for another process's transaction


def explain(path: Path, exc: sqlite3.Error) -> StateError:
    """The one-line error of an SQLite failure on the state at path."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "disk is full" in low or "disk i/o" in low:
        why = (f"the disk is full or failing while writing ({text}); free space and run "
               "again: nothing was half-written")
    elif "readonly" in low or "read-only" in low:
        why = ("read-only: this command writes the state; make the work dir writable or "
               "set project.work_dir to a writable folder")
    elif "locked" in low or "busy" in low:
        why = (f"locked by another process for over {WAIT:.0f} s ({text}); is another "
               "activelearn command stuck? run again when it ends")
    elif "malformed" in low or "not a database" in low or "corrupt" in low:
        why = (f"damaged ({text}); restore it from a backup, or use a new "
               "project.work_dir to start over")
    elif "unable to open" in low:
        why = (f"cannot be opened ({text}); check that the folder exists and is "
               "readable and writable")
    else:
        why = f"SQLite failed: {text}"
    return StateError(f"{path}: {why}")


class GuardedConnection(sqlite3.Connection):
    """A connection whose every SQLite error is raised as explain()'s StateError."""

    state_path: Path  # the file, for the messages; set by connect()

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(self.state_path, exc) from None

    def executemany(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(self.state_path, exc) from None

    def executescript(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
        try:
            return super().executescript(*args, **kwargs)
        except sqlite3.Error as exc:
            raise explain(self.state_path, exc) from None

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            raise explain(self.state_path, exc) from None

    def __exit__(self, *exc: Any) -> Any:
        try:
            return super().__exit__(*exc)
        except sqlite3.Error as error:
            raise explain(self.state_path, error) from None


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the state at path and check it (see the module). readonly: never write, so
    commands that only read work on a read-only work dir; the file must exist."""
    if path.exists() and not path.is_file():
        raise StateError(f"{path}: not a file (a folder?); the state must be a file: move "
                         "it away or set project.work_dir")
    db = _open_readonly(path) if readonly else _open_writable(path)
    try:
        _check(path, db, readonly)
    except BaseException:
        db.close()
        raise
    return db


def _raw(path: Path, target: str, uri: bool = False) -> GuardedConnection:
    try:
        db = sqlite3.connect(target, timeout=WAIT, uri=uri, factory=GuardedConnection)
    except sqlite3.Error as exc:
        raise explain(path, exc) from None
    assert isinstance(db, GuardedConnection)
    db.state_path = path
    return db


def _open_writable(path: Path) -> sqlite3.Connection:
    """Connect, switch to WAL and create the tables. Switching the journal mode takes the
    database exclusively and SQLite does not always wait for that (no busy handler), so
    processes opening a new state at once retry instead of failing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{path.parent}: cannot create the work dir ({exc.strerror}); set "
                         "project.work_dir to a writable folder") from None
    deadline = time.monotonic() + WAIT
    while True:
        db = _raw(path, str(path))
        try:
            _refuse_foreign(path, db)
            db.execute("PRAGMA journal_mode=WAL")
            create_tables(db)
            return db
        except StateError as exc:
            db.close()
            # another process is creating it right now: "locked", "schema has changed"
            retry = "locked" in str(exc) or "schema has changed" in str(exc)
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """Open without writing anything. A WAL database in a folder where the shared-memory
    file cannot be made is read as immutable (nobody can be writing it there)."""
    if not path.is_file():
        raise StateError(f"{path}: no state here yet; run activelearn cycle (or check "
                         "project.work_dir)")
    base = f"file:{quote(str(path.resolve()))}"
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        db = _raw(path, base + query, uri=True)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except StateError as exc:
            db.close()
            if "cannot be opened" not in str(exc) and "read-only" not in str(exc):
                raise
    raise StateError(f"{path}: cannot be read; check its permissions")


def _refuse_foreign(path: Path, db: sqlite3.Connection) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and "meta" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise StateError(f"{path}: the SQLite database of another program (tables {shown}); "
                         "activelearn keeps its state in a file of its own: set "
                         "project.work_dir to another folder")


def _check(path: Path, db: sqlite3.Connection, readonly: bool) -> None:
    """The schema version, and the file's integrity (PRAGMA quick_check: every page)."""
    if readonly:
        _refuse_foreign(path, db)
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() \
        if not readonly or _has_table(db, "meta") else None
    found = row[0] if row else None
    if found is None:
        if readonly:
            raise StateError(f"{path}: not an activelearn state (no schema version)")
        with db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))
    elif not str(found).isdigit():
        raise StateError(f"{path}: schema version {found!r} is not a number: the file is "
                         "damaged or not activelearn's; use a new project.work_dir")
    elif int(found) != SCHEMA_VERSION:
        raise StateError(f"{path}: state schema {found}, this activelearn reads "
                         f"{SCHEMA_VERSION}; use a new work_dir")
    problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        detail = " ".join("; ".join(map(str, problems)).split())[:200]
        raise StateError(f"{path}: damaged ({detail}); restore it from a backup, or use a "
                         "new project.work_dir to start over")


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                      (name,)).fetchone() is not None
