"""The project's state in one SQLite file, composed of one table object per concern:

    with Store.open(work_dir / "state.sqlite") as store:
        store.labels.set([("item-1", 3)], source="oracle", round_=0)
        store.rounds.all()

meta, items, labels (with history), rounds and phases, batches (with provenance and
the model's suggestions), metrics, Label Studio tasks and annotations (with
disagreements and problems), gold items, duplicates, relabel requests, label-error
reviews, and the cycle lock. Every write is committed at once, so a crash loses at most
the phase that was running. The tables are in schema.py; only this package speaks SQL.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from activelearn.errors import StateError
from activelearn.state.annotations import AnnotationTable
from activelearn.state.batches import BatchTable
from activelearn.state.duplicates import DuplicateTable
from activelearn.state.gold import GoldTable
from activelearn.state.items import ItemTable
from activelearn.state.labels import LabelTable
from activelearn.state.locks import LockTable
from activelearn.state.meta import MetaTable
from activelearn.state.metrics import MetricTable
from activelearn.state.relabels import RelabelTable
from activelearn.state.review import ReviewTable
from activelearn.state.rounds import RoundTable
from activelearn.state.schema import SCHEMA_VERSION, create_tables
from activelearn.state.tasks import TaskTable


class Store:
    """A project's state: the table objects over one connection (see the module)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self.db = _connect(self.path)
        self.meta = MetaTable(db)
        self.items = ItemTable(db)
        self.labels = LabelTable(db)
        self.rounds = RoundTable(db)
        self.batches = BatchTable(db)
        self.metrics = MetricTable(db)
        self.tasks = TaskTable(db)
        self.gold = GoldTable(db)
        self.reviews = ReviewTable(db, self.labels)
        self.annotations = AnnotationTable(db, self.labels, self.gold, self.reviews)
        self.relabels = RelabelTable(db)
        self.duplicates = DuplicateTable(db)
        self.locks = LockTable(db)
        try:
            self._check_version()
        except BaseException:
            db.close()
            raise

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """The store at path (created when missing), for `with Store.open(path) as store:`."""
        return cls(path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _check_version(self) -> None:
        found = self.meta.get("schema_version")
        if found is None:
            self.meta.set("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise StateError(f"{self.path}: state schema {found}, this activelearn reads "
                             f"{SCHEMA_VERSION}; use a new work_dir")


def _connect(path: Path, wait: float = 30.0) -> sqlite3.Connection:
    """Connect, switch to WAL and create the tables. Switching the journal mode takes the
    database exclusively and SQLite does not always wait for that (no busy handler), so
    processes opening a new state at once retry instead of failing."""
    deadline = time.monotonic() + wait
    while True:
        db = sqlite3.connect(path, timeout=wait)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            create_tables(db)
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            # "database is locked", "schema has changed": another process is creating it
            # right now; a corrupt file is a DatabaseError, not an OperationalError
            if time.monotonic() > deadline:
                raise StateError(f"{path}: not a usable state database ({exc})") from None
            time.sleep(0.05)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StateError(f"{path}: not a usable state database ({exc})") from None
