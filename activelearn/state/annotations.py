"""Annotations pulled from Label Studio (`store.annotations`): every valid annotation,
the label each item gets from them (the majority), the disagreements and the problems
found on the way. A pull is applied in one transaction with its cursor (apply_pull); the
records it carries are in pulled.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

from activelearn.kinds import NO_LABEL
from activelearn.quality.throughput import AnnotationEvent
from activelearn.quality.votes import majority
from activelearn.state.gold import GoldTable
from activelearn.state.labels import LabelTable
from activelearn.state.pulled import AnnotationRow, Problem, PullChanges, PulledReviews
from activelearn.state.review import ReviewTable
from activelearn.state.schema import Table, chunks

LABEL_STUDIO = "label-studio"  # the `source` of labels that came from annotations
GOLD = "gold"  # the annotator recorded with a gold item's trusted label


def _round_of(a: AnnotationRow, before: dict[int, tuple[str, int]], round_: int) -> int:
    """The round an annotation came in: its earlier one when it is unchanged since."""
    earlier = before.get(a.annotation_id)
    return earlier[1] if earlier is not None and earlier[0] == a.updated_at else round_


class AnnotationTable(Table):
    """The annotations, disagreements and problems tables; a pull writes labels (through
    the label table), reads the gold labels and applies review answers."""

    def __init__(self, db, labels: LabelTable, gold: GoldTable, reviews: ReviewTable) -> None:
        super().__init__(db)
        self._labels, self._gold, self._reviews = labels, gold, reviews

    def apply_pull(self, round_: int, seen: dict[int, str], annotations: list[AnnotationRow],
                   problems: list[Problem], cursor_key: str, cursor: str,
                   reviews: PulledReviews | None = None,
                   open_tasks: dict[int, bool] | None = None) -> PullChanges:
        """Record one pull in a single transaction: all of it or (after a crash) none.

        seen: task id -> item id of every task the pull listed; their valid annotations
        replace the ones stored before, so a relabel, a cancellation or a deletion in
        Label Studio takes effect. Each affected item gets the majority label of its
        annotations (a tie takes the label away and is reported). The cursor is saved
        with the rest, so the next pull starts after this one. reviews: the review tasks
        listed (not in seen), whose answers replace their items' labels. open_tasks: task
        id -> whether Label Studio still serves the task (for "tasks waiting").
        """
        changes = PullChanges()
        with self.db:
            # an annotation read again unchanged (pulls overlap) keeps the round it came in
            before: dict[int, tuple[str, int]] = {}
            for chunk in chunks(list(seen)):
                marks = ", ".join("?" * len(chunk))
                before.update((aid, (when, r)) for aid, when, r in self.db.execute(
                    "SELECT annotation_id, updated_at, round FROM annotations WHERE task_id"
                    f" IN ({marks})", chunk))
                self.db.execute(f"DELETE FROM annotations WHERE task_id IN ({marks})", chunk)
            self.db.executemany(
                "INSERT OR REPLACE INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.annotation_id, a.task_id, a.item_id, a.label, a.annotator, a.lead_time,
                  a.updated_at, _round_of(a, before, round_)) for a in annotations])
            changes.new_problems = self._add_problems(problems, round_)
            self._resolve(sorted(set(seen.values())), round_, changes)
            if reviews is not None:
                self._reviews.apply(reviews, round_, changes, self._resolve)
            self.db.executemany("UPDATE tasks SET is_open=? WHERE task_id=?",
                                [(int(o), t) for t, o in (open_tasks or {}).items()])
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (cursor_key, cursor))
        return changes

    def _add_problems(self, problems: list[Problem], round_: int) -> list[Problem]:
        """Store problems; returns the ones not reported by an earlier pull."""
        new = []
        for p in problems:
            cur = self.db.execute("INSERT OR IGNORE INTO problems VALUES (?, ?, ?, ?, ?, ?)",
                                  (p.task_id, p.item_id, p.annotation_id, p.reason, round_,
                                   time.time()))
            if cur.rowcount:
                new.append(p)
        return new

    def _resolve(self, item_ids: list[str], round_: int, changes: PullChanges) -> None:
        """Give each item the majority label of its stored annotations."""
        votes: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for chunk in chunks(item_ids):
            for item_id, label, annotator in self.db.execute(
                    "SELECT item_id, label, annotator FROM annotations WHERE item_id IN "
                    f"({', '.join('?' * len(chunk))}) ORDER BY annotation_id", chunk):
                votes[item_id].append((label, annotator))
        # a gold item keeps its trusted label whatever its annotators chose (their
        # annotations are kept: they score the annotators, see GoldTable)
        gold = self._gold.labels()
        reviewed = self._reviews.answers()
        rows: list[tuple[str, int, str | None]] = []
        for item_id in item_ids:
            if item_id in reviewed and item_id not in gold:
                continue  # a reviewer's answer replaced the annotators' label (review.py)
            labels = [label for label, _ in votes[item_id]]
            winner = majority(labels)
            who = ",".join(sorted({a for lab, a in votes[item_id] if lab == winner})) or None
            if item_id in gold:
                winner, who = gold[item_id], GOLD
            rows.append((item_id, winner, who))
            self._record_disagreement(item_id, labels, winner, round_, changes)
        for _, label, previous in self._labels.write(rows, LABEL_STUDIO, round_):
            if label == NO_LABEL:
                changes.withdrawn += 1
            elif previous is None:
                changes.new_labels += 1
            else:
                changes.relabels += 1

    def _record_disagreement(self, item_id: str, labels: list[int], winner: int, round_: int,
                             changes: PullChanges) -> None:
        if len(set(labels)) <= 1:
            self.db.execute("DELETE FROM disagreements WHERE item_id=?", (item_id,))
            return
        counts = dict(Counter(labels))
        self.db.execute("INSERT OR REPLACE INTO disagreements VALUES (?, ?, ?, ?, ?)",
                        (item_id, json.dumps(counts), None if winner == NO_LABEL else winner,
                         round_, time.time()))
        changes.disagreements[item_id] = counts
        if winner == NO_LABEL:
            changes.ties.append(item_id)

    def of_item(self, item_id: str) -> list[tuple[int, int, str]]:
        """(annotation_id, label, annotator) of one item's current annotations."""
        return list(self.db.execute(
            "SELECT annotation_id, label, annotator FROM annotations WHERE item_id=?"
            " ORDER BY annotation_id", (item_id,)))

    def count(self, after_round: int | None = None) -> int:
        """Annotations in state (pulled in rounds after after_round, if given)."""
        if after_round is None:
            return self.db.execute("SELECT COUNT(*) FROM annotations").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM annotations WHERE round > ?",
                               (after_round,)).fetchone()[0]

    def disagreements(self) -> dict[str, tuple[dict[int, int], int | None]]:
        """item_id -> (votes per label, resolved label or None for an unresolved tie)."""
        return {item_id: ({int(k): v for k, v in json.loads(votes).items()}, label)
                for item_id, votes, label in self.db.execute(
                    "SELECT item_id, votes, label FROM disagreements")}

    def problems(self) -> list[Problem]:
        return [Problem(*row) for row in self.db.execute(
            "SELECT task_id, item_id, annotation_id, reason FROM problems ORDER BY at")]

    def events(self) -> list[AnnotationEvent]:
        """Every stored annotation's annotator, lead time and update time (throughput)."""
        return [AnnotationEvent(*row) for row in self.db.execute(
            "SELECT annotator, lead_time, updated_at FROM annotations ORDER BY updated_at")]

    def class_lead_times(self) -> dict[int, list[float]]:
        """class index -> the lead times (seconds) of the stored annotations that gave
        that label, in annotation order; annotations without a lead time are left out
        (see quality.throughput.median_seconds_by_class)."""
        times: dict[int, list[float]] = defaultdict(list)
        for label, lead_time in self.db.execute(
                "SELECT label, lead_time FROM annotations WHERE lead_time IS NOT NULL"
                " ORDER BY annotation_id"):
            times[int(label)].append(float(lead_time))
        return dict(times)

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

    def per_annotator(self) -> dict[str | None, int]:
        """annotator (None: unknown) -> stored annotations."""
        return {who: n for who, n in self.db.execute(
            "SELECT annotator, COUNT(*) FROM annotations GROUP BY annotator")}

    def model_votes(self) -> list[tuple[str | None, int, int]]:
        """(annotator, the model's suggested label, annotated label) of every annotation
        of a task pushed with a suggestion: a third opinion from a model that had not
        seen the item's label (it was unlabelled when the model chose it)."""
        return list(self.db.execute(
            "SELECT a.annotator, s.label, a.label FROM annotations a JOIN tasks t"
            " ON t.task_id = a.task_id JOIN suggestions s ON s.batch_id = t.batch_id"
            " AND s.item_id = a.item_id ORDER BY a.annotation_id"))
