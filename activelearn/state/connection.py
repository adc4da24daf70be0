"""Opening the state database, and the one place its errors become one-line StateErrors.

Every SQLite error the store meets (a full disk, a read-only folder, a damaged file, a
lock held too long) is raised as a StateError naming the file and what to do, by the
connection itself (`GuardedConnection`), so no caller sees a traceback. On open the file
is checked: a folder, another program's SQLite database, a schema version newer than this
release, a damaged file (`PRAGMA quick_check`) and a current state missing a table are
refused before anything is read or written. A new state is made at the current schema.
A state of an earlier schema is upgraded by a command that writes, after a backup into
the backups folder beside it (migrations.py; one warning line says so); a command that
only reads refuses it with the command that upgrades it (OutdatedStateError).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from activelearn.errors import OutdatedStateError, StateError
from activelearn.state import migrations
from activelearn.state.backup import Backup, copy_state, snapshot
from activelearn.state.schema import SCHEMA, SCHEMA_VERSION, statements

log = logging.getLogger("activelearn.state")

WAIT = 30.0  # seconds a writer waits for another process's transaction
BACKUPS = "backups"  # the folder beside the state file for the backups an upgrade takes


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


@dataclass(frozen=True)
class Upgraded:
    """What opening a state of an earlier schema did: from which version, the steps
    applied (empty: another process upgraded it first) and the backup taken before."""

    found: int
    steps: list[migrations.Migration]
    backup: Backup


class GuardedConnection(sqlite3.Connection):
    """A connection whose every SQLite error is raised as explain()'s StateError."""

    state_path: Path  # the file, for the messages; set by connect()
    upgraded: Upgraded | None = None  # set when connect() upgraded the state

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


def connect(path: Path, readonly: bool = False, backups: Path | None = None,
            announce: bool = True) -> GuardedConnection:
    """Open the state at path and check it (see the module). readonly: never write, so
    commands that only read work on a read-only work dir; the file must exist.
    backups: where the backup before an upgrade goes (default: backups/ beside path);
    the connection's `upgraded` says what an upgrade did, and a warning line too unless
    not announce (the caller says it)."""
    if path.exists() and not path.is_file():
        raise StateError(f"{path}: not a file (a folder?); the state must be a file: move "
                         "it away or set project.work_dir")
    db = _open_readonly(path) if readonly else _open_writable(path)
    try:
        _check(path, db, readonly, backups or path.parent / BACKUPS)
        if db.upgraded is not None and db.upgraded.steps and announce:
            log.warning("%s: upgraded from schema %d to %d (backup: %s)", path,
                        db.upgraded.found, SCHEMA_VERSION, db.upgraded.backup.folder)
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


def _open_writable(path: Path) -> GuardedConnection:
    """Connect, switch to WAL and make a new state's tables. Switching the journal mode takes the
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
            if not _has_table(db, "meta"):
                _create(db)
            return db
        except StateError as exc:
            db.close()
            # another process is creating it right now: "locked", "schema has changed"
            retry = "locked" in str(exc) or "schema has changed" in str(exc)
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _open_readonly(path: Path) -> GuardedConnection:
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


def peek(path: Path) -> GuardedConnection:
    """The state at path opened to read, without the schema checks: a state of any
    version (the lock of a state an upgrade or a restore is about to change)."""
    if not path.is_file():
        raise StateError(f"{path}: no state here yet")
    return _raw(path, f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)


def copy_to(path: Path, target: Path) -> int:
    """Copy the state file at path (any schema; a cycle may be writing it) into the new
    file target (backup.copy_state); returns the copy's schema version."""
    db = peek(path)
    try:
        return copy_state(db, target, path)
    finally:
        db.close()


def _refuse_foreign(path: Path, db: sqlite3.Connection) -> None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and "meta" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise StateError(f"{path}: the SQLite database of another program (tables {shown}); "
                         "activelearn keeps its state in a file of its own: set "
                         "project.work_dir to another folder")


def _create(db: GuardedConnection) -> None:
    """Make a new state at SCHEMA_VERSION, in one transaction (a process creating the
    same state at once finds it made)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _has_table(db, "meta"):
            for statement in statements(SCHEMA):
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            migrations.record(db, SCHEMA_VERSION, f"a new state at schema {SCHEMA_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _check(path: Path, db: GuardedConnection, readonly: bool, backups: Path) -> None:
    """The schema version and the file's integrity (PRAGMA quick_check: every page); a
    state of an earlier schema is upgraded (writable) or refused (readonly)."""
    _refuse_foreign(path, db)
    if not _has_table(db, "meta"):
        raise StateError(f"{path}: not an activelearn state (no schema version)")
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None and readonly:
        raise StateError(f"{path}: not an activelearn state (no schema version)")
    found = 1 if row is None else row[0]  # no version: an early release's unfinished start
    if not str(found).isdigit():
        raise StateError(f"{path}: schema version {found!r} is not a number: the file is "
                         "damaged or not activelearn's; restore a backup or use a new "
                         "project.work_dir")
    version = int(found)
    if version > SCHEMA_VERSION:
        raise StateError(f"{path}: state schema {version} is newer than this release's "
                         f"{SCHEMA_VERSION}: a later activelearn wrote it; run that "
                         "release (pip install -U activelearn)")
    problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        detail = " ".join("; ".join(map(str, problems)).split())[:200]
        raise StateError(f"{path}: damaged ({detail}); restore it from a backup, or use a "
                         "new project.work_dir to start over")
    if version < SCHEMA_VERSION:
        if readonly:
            raise OutdatedStateError(path, version, SCHEMA_VERSION)
        db.upgraded = _upgrade(path, db, version, backups)
    else:
        _check_tables(path, db)


def _upgrade(path: Path, db: GuardedConnection, found: int, backups: Path) -> Upgraded:
    """Back the state up into backups, then apply the migrations it lacks."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"upgrade-{stamp}-{os.getpid()}-{secrets.token_hex(2)}-schema{found}"
    taken = snapshot(db, path.name, backups / name)
    return Upgraded(found, migrations.upgrade(db, assumed=found), taken)


def _check_tables(path: Path, db: sqlite3.Connection) -> None:
    """Every table and column of the current schema is there (a state of this schema
    lacking one was damaged by hand or by another program)."""
    have = {name: set(migrations.columns(db, name)) for name, _ in _layout()}
    missing = [name for name, columns in have.items() if not columns]
    if missing:
        raise StateError(f"{path}: schema {SCHEMA_VERSION} but the table(s) "
                         f"{', '.join(missing[:3])} are missing: damaged; restore a backup "
                         "(activelearn restore) or use a new project.work_dir")
    lacking = [f"{name}.{column}" for name, columns in _layout() for column in columns
               if column not in have[name]]
    if lacking:
        raise StateError(f"{path}: schema {SCHEMA_VERSION} but the column(s) "
                         f"{', '.join(lacking[:3])} are missing: damaged; restore a backup "
                         "(activelearn restore) or use a new project.work_dir")


@functools.cache
def _layout() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(table, its columns) of the current schema, as SQLite reads schema.SCHEMA."""
    fresh = sqlite3.connect(":memory:")
    try:
        for statement in statements(SCHEMA):
            fresh.execute(statement)
        tables = [s.split()[5] for s in statements(SCHEMA) if s.startswith("CREATE TABLE")]
        return tuple((name, tuple(migrations.columns(fresh, name))) for name in tables)
    finally:
        fresh.close()


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                      (name,)).fetchone() is not None
