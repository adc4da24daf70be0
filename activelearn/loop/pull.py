"""Pulling finished annotations from Label Studio into state (the cycle's first phase).

Incremental: only tasks updated after the stored cursor are read. What a pull finds is
recorded with its new cursor in one transaction, so a crash before that commit loses
nothing (the next pull reads the same tasks again) and a crash after it counts nothing
twice. Problems (an unknown label, a malformed result, a task activelearn did not make, a
task deleted in Label Studio) are reported with the task id and kept in state; they
never become labels.
"""

from __future__ import annotations

from collections.abc import Callable

from activelearn.annotation import AnnotationBackend
from activelearn.errors import printable
from activelearn.failpoints import failpoint
from activelearn.state import AnnotationRow, Problem, PullChanges, PulledReviews, Store

CURSOR_KEY = "label_studio_pull_cursor"
SHOW_PROBLEMS = 20  # problems listed one per line; more are counted


def pull_annotations(backend: AnnotationBackend, store: Store, project_id: int,
                     class_names: list[str], round_: int, known: dict[str, int],
                     echo: Callable[[str], None]) -> PullChanges:
    """Pull, resolve and record; known: the pool's item ids (others are problems)."""
    result = backend.annotations.pull(project_id, class_names, store.meta.get(CURSOR_KEY) or "")
    failpoint("pull:fetched")  # the crash between pull and commit
    rows, problems = [], []
    for a in result.annotations:
        if a.item_id in known:
            rows.append(AnnotationRow(a.annotation_id, a.task_id, a.item_id, a.label,
                                      a.annotator, a.lead_time, a.updated_at))
        else:
            problems.append(Problem(a.task_id, a.item_id, a.annotation_id,
                                    f"item {a.item_id} is not in this project's pool"))
    problems += [Problem(r.task_id, r.item_id, r.annotation_id or 0, r.reason)
                 for r in result.rejected]
    seen = {task: item for task, item in result.seen.items() if item in known}
    # review tasks (kind "review" in Label Studio, or recorded as such) are applied on
    # their own: never voted with the item's labelling task (see state/review.py)
    review_rounds = {**store.reviews.task_rounds(), **result.reviews}
    reviews = PulledReviews({t: (seen[t], r) for t, r in review_rounds.items() if t in seen},
                            [a for a in rows if a.task_id in review_rounds])
    rows = [a for a in rows if a.task_id not in review_rounds]
    seen = {task: item for task, item in seen.items() if task not in review_rounds}
    foreign = _foreign_tasks(store, seen)
    problems += [Problem(task, seen[task], 0, why) for task, why in foreign.items()]
    rows = [a for a in rows if a.task_id not in foreign]
    seen = {task: item for task, item in seen.items() if task not in foreign}
    open_tasks = {t: o for t, o in result.open_tasks.items() if t in seen}
    changes = store.annotations.apply_pull(round_, seen, rows, problems, CURSOR_KEY,
                                           result.cursor, reviews, open_tasks)
    problems_deleted = check_deleted_tasks(backend, store, project_id)
    _report(changes, result.cancelled, len(result.seen), problems_deleted, class_names, echo)
    return changes


def _foreign_tasks(store: Store, seen: dict[int, str]) -> dict[int, str]:
    """task id -> why, for the listed labelling tasks this project did not make: a task of
    an item whose task in state is another one, or of an item this project never put in
    a batch. Their annotations never become labels (holdout labels included). A task of a
    batched item with no task in state yet is ours: imported just before a crash, it is
    recorded when the round's push resumes."""
    recorded = store.tasks.by_item(include_deleted=True)
    batched = store.batches.batched_ids()
    foreign = {}
    for task, item in seen.items():
        if item in recorded and recorded[item] != task:
            foreign[task] = (f"not one of this project's tasks (item {item} has task "
                             f"{recorded[item]}); its annotations are ignored")
        elif item not in recorded and item not in batched:
            foreign[task] = (f"not one of this project's tasks (item {item} was never "
                             "selected by it); its annotations are ignored")
    return foreign


def check_deleted_tasks(backend: AnnotationBackend, store: Store, project_id: int
                        ) -> list[Problem]:
    """Tasks recorded in state that are gone from Label Studio: marked deleted (their
    items are not pushed again; labels already pulled stay) and returned as problems.
    One cheap request when nothing was deleted (the project's task count)."""
    live = store.tasks.by_item()
    reviews = len(store.reviews.task_rounds())  # a labelled item's second tasks
    if not live or backend.tasks.count(project_id) >= len(live) + reviews:
        return []
    present = backend.tasks.item_ids(project_id)
    gone = {item: task for item, task in live.items() if present.get(item) != task}
    store.tasks.mark_deleted(gone)
    return [Problem(task, item, 0, "task deleted in Label Studio; the item will not be "
                                   "pushed again") for item, task in gone.items()]


def _report(changes: PullChanges, cancelled: int, tasks: int, deleted: list[Problem],
            class_names: list[str], echo: Callable[[str], None]) -> None:
    parts = [f"{changes.new_labels} new labels"]
    for count, what in ((changes.relabels, "relabelled"), (cancelled, "cancelled or skipped"),
                        (len(changes.disagreements), "with disagreement"),
                        (changes.reviewed, "review answers"),
                        (changes.review_relabels, "labels corrected by review"),
                        (len(changes.ties), "tied (left unlabelled)"),
                        (changes.withdrawn, "labels withdrawn")):
        if count:
            parts.append(f"{count} {what}")
    echo(f"pulled {tasks} updated tasks: {', '.join(parts)}")
    for item_id in changes.ties:
        votes = ", ".join(f"{class_names[k]}: {v}"
                          for k, v in changes.disagreements[item_id].items())
        echo(f"  tie on item {printable(item_id)} ({votes}): needs another annotation")
    problems = changes.new_problems + deleted
    for p in problems[:SHOW_PROBLEMS]:
        item = f" (item {printable(p.item_id)})" if p.item_id else ""
        echo(f"  problem: task {printable(p.task_id)}{item}: {printable(p.reason)}")
    if len(problems) > SHOW_PROBLEMS:
        echo(f"  ... and {len(problems) - SHOW_PROBLEMS} more problems (see state.sqlite, "
             "table problems)")
