"""The project's state: one SQLite file per project, a Store of table objects (store.py),
its schema's numbered migrations (migrations.py) and its backups (backup.py).

    with Store.open(path) as store:
        store.labels.current("train")
"""

from activelearn.state.backup import Backup, install, named_models, read_backup
from activelearn.state.connection import Upgraded, copy_to
from activelearn.state.duplicates import DuplicateGroup
from activelearn.state.labels import LabelledItem
from activelearn.state.locks import LockHolder, read_holder
from activelearn.state.metrics import Evaluation
from activelearn.state.migrations import MIGRATIONS, Migration
from activelearn.state.pulled import AnnotationRow, Problem, PullChanges, PulledReviews
from activelearn.state.review import ReviewState
from activelearn.state.rounds import RoundRow
from activelearn.state.schema import SCHEMA_VERSION
from activelearn.state.store import Store

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "AnnotationRow", "Backup", "DuplicateGroup",
           "Evaluation", "LabelledItem", "LockHolder", "Migration", "Problem", "PullChanges",
           "PulledReviews", "ReviewState", "RoundRow", "Store", "Upgraded", "copy_to",
           "install", "named_models", "read_backup", "read_holder"]
