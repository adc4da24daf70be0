"""The project's state in one SQLite file, composed of one table object per concern:

    with Store.open(project.state_path) as store:   # see activelearn.project
        store.labels.set([("item-1", 3)], source="oracle", round_=0)
        store.rounds.all()

meta, items, labels (with history), rounds and phases, batches (with provenance and
the model's suggestions), metrics, Label Studio tasks and annotations (with
disagreements and problems), gold items, duplicates, relabel requests, label-error
reviews, the cycle lock, and the file sources' catalogue. Every write is committed at
once, so a crash loses at most the phase that was running. The tables are in
schema.py (earlier schemas' upgrades in migrations.py, backups in backup.py); opening
and checking the file, and turning SQLite's errors into one line, in connection.py;
only this package speaks SQL.
"""

from __future__ import annotations

from pathlib import Path

from activelearn.state.annotations import AnnotationTable
from activelearn.state.batches import BatchTable
from activelearn.state.catalogue import CatalogueTable
from activelearn.state.connection import connect
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
from activelearn.state.tasks import TaskTable


class Store:
    """A project's state: the table objects over one connection (see the module)."""

    def __init__(self, path: Path | str, readonly: bool = False,
                 backups: Path | None = None, announce: bool = True) -> None:
        self.path = Path(path)
        db = self.db = connect(self.path, readonly, backups, announce)
        # what opening it did to a state of an earlier schema (None: it was current)
        self.upgraded = db.upgraded
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
        self.catalogue = CatalogueTable(db)

    @classmethod
    def open(cls, path: Path | str, readonly: bool = False,
             backups: Path | None = None, announce: bool = True) -> Store:
        """The store at path, for `with Store.open(path) as store:`: created when missing,
        upgraded when of an earlier schema (after a backup into backups, default
        backups/ beside it), or with readonly, opened without writing (the file must
        exist; OutdatedStateError when of an earlier schema). announce: a warning line
        after an upgrade (off: the caller says it)."""
        return cls(path, readonly, backups, announce)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
