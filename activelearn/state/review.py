"""Label-error review in the state store: the items sent back to Label Studio because
the model contradicts their label (see activelearn/loop/review.py), their review tasks,
and the reviewers' answers (`store.reviews`).

A review task is a second task of an already labelled item. Its answer is never voted
with the item's first annotations: it replaces the label (source "review", the old
label kept in label_history) and later pulls of the first task leave it alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from enum import Enum

from activelearn.state.labels import LabelTable
from activelearn.state.pulled import PullChanges, PulledReviews
from activelearn.state.schema import Table

REVIEW = "review"  # the `source` of labels set by a review task

class ReviewState(str, Enum):
    SELECTED = "selected"  # ranked in the round's review phase, not in Label Studio yet
    PUSHED = "pushed"  # a review task waits in Label Studio
    DONE = "done"  # answered; the answer is the item's label


class ReviewTable(Table):
    """The review_tasks table; answers are written as labels through the label table."""

    def __init__(self, db, labels: LabelTable) -> None:
        super().__init__(db)
        self._labels = labels

    def add_candidates(self, round_: int,
                       rows: list[tuple[str, int, int, float, float]]) -> None:
        """(item_id, current label, model's class, score, p of the model's class) of the
        items a round sends to review; a round records its candidates once."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO review_tasks (item_id, round, state, label, suggestion,"
                " score, confidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(i, round_, ReviewState.SELECTED.value, lab, sug, score, conf, now)
                 for i, lab, sug, score, conf in rows])

    def rows(self, round_: int | None = None) -> list[dict]:
        """Review rows as dicts (item_id, round, task_id, state, label, suggestion, score,
        confidence, answer), of one round or all, best score first."""
        cols = ["item_id", "round", "task_id", "state", "label", "suggestion", "score",
                "confidence", "answer"]
        where, args = ("WHERE round=?", (round_,)) if round_ is not None else ("", ())
        return [dict(zip(cols, r)) for r in self.db.execute(
            f"SELECT {', '.join(cols)} FROM review_tasks {where} ORDER BY round, score DESC,"
            " item_id", args)]

    def record_tasks(self, round_: int, task_ids: dict[str, int]) -> None:
        """item_id -> task id of the round's review tasks now in Label Studio."""
        with self.db:
            self.db.executemany(
                "UPDATE review_tasks SET task_id=?, state=? WHERE item_id=? AND round=?"
                " AND state=?", [(t, ReviewState.PUSHED.value, i, round_,
                                  ReviewState.SELECTED.value) for i, t in task_ids.items()])

    def unpush_unanswered(self) -> None:
        """Review tasks waiting in a project no longer linked: to be pushed again."""
        with self.db:
            self.db.execute("UPDATE review_tasks SET state=?, task_id=NULL WHERE state=?",
                            (ReviewState.SELECTED.value, ReviewState.PUSHED.value))

    def task_rounds(self) -> dict[int, int]:
        """task id -> round of every review task recorded as pushed."""
        return dict(self.db.execute(
            "SELECT task_id, round FROM review_tasks WHERE task_id IS NOT NULL"))

    def not_reviewable(self) -> set[str]:
        """Items that may not go to review now: one is open (selected or pushed), or a
        reviewer answered and the label is still that answer (reviewed at most once
        unless the label changed since)."""
        return {r[0] for r in self.db.execute(
            "SELECT r.item_id FROM review_tasks r LEFT JOIN labels l USING (item_id)"
            " WHERE r.state != ? OR r.answer = l.label", (ReviewState.DONE.value,))}

    def answers(self) -> dict[str, int]:
        """item_id -> the newest reviewer's answer of every item with one."""
        return dict(self.db.execute(
            "SELECT item_id, answer FROM review_tasks WHERE state=? ORDER BY round",
            (ReviewState.DONE.value,)))

    def apply(self, pulled: PulledReviews, round_: int, changes: PullChanges,
              resolve: Callable[[list[str], int, PullChanges], None]) -> None:
        """Inside AnnotationTable.apply_pull's transaction: each listed review task's
        answer (the majority of its annotations; a tie goes to the first) becomes its
        item's label; a review whose annotations are all gone gives the item back its
        annotators' label (resolve: the pull's majority resolution of items)."""
        by_task: dict[int, list[tuple[int, int, str]]] = {}
        for a in pulled.annotations:
            by_task.setdefault(a.task_id, []).append((a.annotation_id, a.label, a.annotator))
        for task_id, (item_id, review_round) in sorted(pulled.seen.items()):
            # a task imported just before a crash is known by its item and round only
            self.db.execute("UPDATE review_tasks SET task_id=?, state=? WHERE item_id=? AND"
                            " round=? AND state=?", (task_id, ReviewState.PUSHED.value,
                                                     item_id, review_round,
                                                     ReviewState.SELECTED.value))
            votes = sorted(by_task.get(task_id, []))
            if not votes:
                cur = self.db.execute(
                    "UPDATE review_tasks SET state=?, answer=NULL WHERE task_id=? AND state=?",
                    (ReviewState.PUSHED.value, task_id, ReviewState.DONE.value))
                if cur.rowcount:
                    resolve([item_id], round_, changes)
                continue
            counts = Counter(label for _, label, _ in votes)
            top = max(counts.values())
            answer = next(label for _, label, _ in votes if counts[label] == top)
            if self.db.execute("SELECT 1 FROM review_tasks WHERE task_id=?",
                               (task_id,)).fetchone() is None:
                continue  # not one of ours (another tool's task of the same kind)
            cur = self.db.execute(
                "UPDATE review_tasks SET state=?, answer=? WHERE task_id=? AND (state!=? OR"
                " answer IS NOT ?)", (ReviewState.DONE.value, answer, task_id,
                                      ReviewState.DONE.value, answer))
            changes.reviewed += cur.rowcount
            who = ",".join(sorted({w for _, lab, w in votes if lab == answer}))
            changed = self._labels.write([(item_id, answer, who)], REVIEW, round_)
            changes.review_relabels += sum(1 for _, _, prev in changed if prev is not None)
