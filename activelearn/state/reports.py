"""Read-only queries behind `activelearn report`: evaluations with the labels they were
trained on, and the annotation log. Part of `Store` (see store.py); the numbers are
computed by the callers (activelearn.reporting.report, activelearn.quality.agreement).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Evaluation:
    """One model evaluated on one split. labels: the train labels at the end of its round
    (None while the round has not finished); payload: Metrics.to_dict() plus "items"."""

    round: int
    split: str
    model_version: str | None
    labels: int | None
    payload: dict


@dataclass(frozen=True)
class AnnotationEvent:
    """When an annotation was last saved (ISO text, as Label Studio gives it), by whom,
    and how long the annotator spent on it (seconds, None when unknown)."""

    annotator: str | None
    lead_time: float | None
    updated_at: str


class ReportRecords:
    """Queries for the report (mixed into Store); they never write."""

    db: sqlite3.Connection

    def evaluations(self) -> list[Evaluation]:
        """Every recorded evaluation, by round then split."""
        rows = self.db.execute(
            "SELECT m.round, m.split, m.model_version, r.labels, m.payload FROM metrics m"
            " LEFT JOIN rounds r USING (round) ORDER BY m.round, m.split")
        return [Evaluation(r, s, v, n, json.loads(p)) for r, s, v, n, p in rows]

    def annotation_events(self) -> list[AnnotationEvent]:
        """Every stored annotation's annotator, lead time and update time."""
        return [AnnotationEvent(*row) for row in self.db.execute(
            "SELECT annotator, lead_time, updated_at FROM annotations ORDER BY updated_at")]

    def multi_annotated(self) -> dict[str, list[tuple[str | None, int]]]:
        """item_id -> (annotator, label) of each annotation, for items annotated more than
        once, in annotation order."""
        votes: dict[str, list[tuple[str | None, int]]] = defaultdict(list)
        for item_id, annotator, label in self.db.execute(
                "SELECT item_id, annotator, label FROM annotations WHERE item_id IN"
                " (SELECT item_id FROM annotations GROUP BY item_id HAVING COUNT(*) > 1)"
                " ORDER BY item_id, annotation_id"):
            votes[item_id].append((annotator, label))
        return dict(votes)
