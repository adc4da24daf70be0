"""The project's state: one SQLite file per project, a Store of table objects (store.py).

    with Store.open(path) as store:
        store.labels.current("train")
"""

from activelearn.state.duplicates import DuplicateGroup
from activelearn.state.labels import LabelledItem
from activelearn.state.locks import LockHolder
from activelearn.state.metrics import Evaluation
from activelearn.state.pulled import AnnotationRow, Problem, PullChanges, PulledReviews
from activelearn.state.review import ReviewState
from activelearn.state.rounds import RoundRow
from activelearn.state.schema import SCHEMA_VERSION
from activelearn.state.store import Store

__all__ = ["SCHEMA_VERSION", "AnnotationRow", "DuplicateGroup", "Evaluation", "LabelledItem",
           "LockHolder", "Problem", "PullChanges", "PulledReviews", "ReviewState", "RoundRow",
           "Store"]
