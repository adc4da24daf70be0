"""The project's state: one SQLite file per project (see store.Store)."""

from activelearn.state.locks import LockHolder
from activelearn.state.pulls import NO_LABEL, AnnotationRow, Problem, PullChanges, majority
from activelearn.state.store import SCHEMA_VERSION, BatchKind, RoundRow, RoundStatus, Split, Store

__all__ = ["NO_LABEL", "SCHEMA_VERSION", "AnnotationRow", "BatchKind", "LockHolder", "Problem",
           "PullChanges", "RoundRow", "RoundStatus", "Split", "Store", "majority"]
