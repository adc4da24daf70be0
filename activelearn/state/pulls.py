"""Label Studio bookkeeping in the state store: which item has which task, every
annotation pulled, the label each item gets from its annotations, and the problems
found on the way. Part of `Store` (see store.py); SQL stays inside the state package.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# label_history.label of an item whose label was taken away (a tie between annotators,
# or every annotation of it cancelled or rejected): it is not trained on until resolved.
NO_LABEL = -1
LABEL_STUDIO = "label-studio"  # the `source` of labels that came from annotations
GOLD = "gold"  # the annotator recorded with a gold item's trusted label


@dataclass(frozen=True)
class AnnotationRow:
    """One valid annotation as pulled: label is an index into the class names."""

    annotation_id: int
    task_id: int
    item_id: str
    label: int
    annotator: str
    lead_time: float | None
    updated_at: str


@dataclass(frozen=True)
class Problem:
    """An annotation or task that could not become a label; annotation_id 0 = the task."""

    task_id: int
    item_id: str | None
    annotation_id: int
    reason: str


@dataclass(frozen=True)
class PulledReviews:
    """The review tasks one pull listed (task id -> (item id, round)) and their valid
    annotations; see review.py (ReviewRecords)."""

    seen: dict[int, tuple[str, int]]
    annotations: list[AnnotationRow]


@dataclass
class PullChanges:
    """What applying one pull changed in state."""

    new_labels: int = 0
    relabels: int = 0
    withdrawn: int = 0  # labels taken away: a tie, or no valid annotation left
    disagreements: dict[str, dict[int, int]] = field(default_factory=dict)  # item -> votes
    ties: list[str] = field(default_factory=list)
    reviewed: int = 0  # review tasks answered (see review.py)
    review_relabels: int = 0  # of them, answers that changed the label
    new_problems: list[Problem] = field(default_factory=list)


def majority(votes: list[int]) -> int:
    """The label most annotations chose, or NO_LABEL on a tie (or no votes)."""
    ranked = Counter(votes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return NO_LABEL
    return ranked[0][0]


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    """SQLite caps the number of bound parameters per statement."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


class PullRecords:
    """Tasks, annotations and their resolution into labels (mixed into Store)."""

    db: sqlite3.Connection

    def _write_labels(self, rows: list[tuple[str, int, str | None]], source: str,
                      round_: int) -> list[tuple[str, int, int | None]]:
        raise NotImplementedError  # Store's

    if TYPE_CHECKING:  # ReviewRecords' (review.py), later in Store's bases
        def _apply_reviews(self, pulled: PulledReviews, round_: int,
                           changes: PullChanges) -> None: ...

        def review_answers(self) -> dict[str, int]: ...

        def gold_labels(self) -> dict[str, int]: ...  # QualityRecords' (quality.py)

    # -- tasks ----------------------------------------------------------------
    def record_tasks(self, batch_id: int, round_: int, task_ids: dict[str, int]) -> None:
        """item_id -> Label Studio task id for pushed items (an item keeps its first task)."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO tasks (item_id, task_id, batch_id, round, pushed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(i, t, batch_id, round_, now) for i, t in task_ids.items()])

    def tasks(self, include_deleted: bool = False) -> dict[str, int]:
        """item_id -> task id of pushed items (without those deleted in Label Studio)."""
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        return dict(self.db.execute(f"SELECT item_id, task_id FROM tasks{where}"))

    def mark_tasks_deleted(self, item_ids: Iterable[str]) -> None:
        with self.db:
            self.db.executemany("UPDATE tasks SET deleted_at=? WHERE item_id=?",
                                [(time.time(), i) for i in item_ids])

    def waiting_tasks(self, split: str) -> int:
        """Live tasks of items of this split that Label Studio still serves: fewer
        annotations than the task's overlap, as of the last pull that listed the task (a
        task never listed since its push waits when its item has no label)."""
        return self.db.execute(
            "SELECT COUNT(*) FROM tasks t JOIN items i USING (item_id) LEFT JOIN labels l"
            " USING (item_id) WHERE t.deleted_at IS NULL AND i.split=? AND (t.is_open = 1"
            " OR (t.is_open IS NULL AND l.item_id IS NULL))", (split,)).fetchone()[0]

    # -- annotations ----------------------------------------------------------
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
            task_ids = list(seen)
            for chunk in _chunks(task_ids):
                self.db.execute(f"DELETE FROM annotations WHERE task_id IN "
                                f"({', '.join('?' * len(chunk))})", chunk)
            self.db.executemany(
                "INSERT OR REPLACE INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.annotation_id, a.task_id, a.item_id, a.label, a.annotator, a.lead_time,
                  a.updated_at, round_) for a in annotations])
            changes.new_problems = self._add_problems(problems, round_)
            self._resolve(sorted(set(seen.values())), round_, changes)
            if reviews is not None:
                self._apply_reviews(reviews, round_, changes)
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
        for chunk in _chunks(item_ids):
            for item_id, label, annotator in self.db.execute(
                    "SELECT item_id, label, annotator FROM annotations WHERE item_id IN "
                    f"({', '.join('?' * len(chunk))}) ORDER BY annotation_id", chunk):
                votes[item_id].append((label, annotator))
        # a gold item keeps its trusted label whatever its annotators chose (their
        # annotations are kept: they score the annotators, see QualityRecords)
        gold = self.gold_labels()
        reviewed = self.review_answers()
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
        for _, label, previous in self._write_labels(rows, LABEL_STUDIO, round_):
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

    def annotations(self, item_id: str) -> list[tuple[int, int, str]]:
        """(annotation_id, label, annotator) of one item's current annotations."""
        return list(self.db.execute(
            "SELECT annotation_id, label, annotator FROM annotations WHERE item_id=?"
            " ORDER BY annotation_id", (item_id,)))

    def annotation_count(self, after_round: int | None = None) -> int:
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
