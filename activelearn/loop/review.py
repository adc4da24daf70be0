"""The cycle's review phase: label-error review (issue 6, item 4).

After a round trains, out-of-fold models (quality.review_folds jobs, through the
executor like training) predict every labelled train item with a model that did not
train on it; the items whose label they contradict most confidently (see
label_errors.rank_label_errors) are recorded (state/review.py) and pushed to Label
Studio as review tasks: a second task of the item, kind "review", with its current label
and the model's suggestion in the task data. The reviewer's answer replaces the label
with history at the next pull; nothing is changed silently.

The review task's prediction (the pre-filled choice) is the item's *current* label, not
the model's suggestion: submitting a review without looking keeps the label as it was,
so a hurried reviewer cannot turn the model's guess into a label; the suggestion is
shown next to it in the task data (suggested_label, suggested_confidence).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activelearn.annotation import (
    REVIEW_KIND,
    AnnotationBackend,
    ReviewNote,
    Suggestion,
    TaskSpec,
)
from activelearn.data.artifacts import ArtifactStore
from activelearn.failpoints import failpoint
from activelearn.jobs.inputs import joined
from activelearn.jobs.kinds.oof import out_of_fold
from activelearn.kinds import Split
from activelearn.project import Project
from activelearn.quality.label_errors import rank_label_errors
from activelearn.state import ReviewState, Store


def select_reviews(project: Project, store: Store, round_: int, version: str,
                   progress: bool) -> int:
    """Rank the round's labelled train items with out-of-fold predictions and record the
    top quality.review_per_round for review. Returns how many the round has; a round
    that recorded its candidates already (a resumed phase) is not ranked again."""
    cfg = project.cfg
    quality = cfg.quality
    found = store.reviews.rows(round_)
    if found:
        return len(found)
    labels = store.labels.current(Split.TRAIN.value)
    if len(labels) < 2 * quality.review_folds:
        return 0
    files = out_of_fold(project, store, round_, version, quality.review_folds, progress)
    ids, given, probs = merge_folds(project.artifacts, files)
    ranking = rank_label_errors(probs, given, quality.review_min_confidence)
    skip = store.reviews.not_reviewable() | set(store.gold.labels())
    rows: list[tuple[str, int, int, float, float]] = []
    for index, score, suggestion, confidence in zip(ranking.index, ranking.score,
                                                    ranking.suggestion, ranking.confidence):
        item_id = str(ids[index])
        # the fold jobs read the labels of this round: a label changed since is not judged
        if item_id in skip or labels.get(item_id) != int(given[index]):
            continue
        rows.append((item_id, int(given[index]), int(suggestion), float(score),
                     float(confidence)))
        if len(rows) >= quality.review_per_round:
            break
    store.reviews.add_candidates(round_, rows)
    return len(rows)


def merge_folds(artifacts: ArtifactStore, names: list[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """item_ids [items], labels [items], probs [items, classes] of the fold artifacts."""
    loaded = [np.load(artifacts.fetch(name)) for name in names]
    ids, labels, probs = (joined(name, loaded) for name in ("item_ids", "labels", "probs"))
    assert ids is not None and labels is not None and probs is not None  # written together
    return ids, labels, probs


def push_reviews(backend: AnnotationBackend, project_id: int, store: Store, round_: int,
                 specs: list[TaskSpec], chunk: int, project_overlap: int) -> int:
    """Import the review tasks (idempotent: tasks already there are found by their key)
    and record them; each is served to one reviewer (project_overlap: the project's
    annotations per task, lowered to 1 for them). Returns how many were pushed."""
    if not specs:
        return 0
    task_ids = backend.tasks.push(project_id, specs, chunk)
    failpoint("review:imported")  # the crash between import and bookkeeping
    store.reviews.record_tasks(round_, {s.item_id: task_ids[s.key] for s in specs})
    if project_overlap > 1:
        backend.tasks.set_overlap(list(task_ids.values()), 1)
    return len(specs)


def review_specs(rows: list[dict], classes: list[str], version: str,
                 image_of: Callable[[str], str]) -> list[TaskSpec]:
    """TaskSpecs of the review rows not yet in Label Studio (state selected)."""
    specs = []
    for row in rows:
        if row["state"] != ReviewState.SELECTED.value:
            continue
        current, suggested = classes[row["label"]], classes[row["suggestion"]]
        specs.append(TaskSpec(
            item_id=row["item_id"], image=image_of(row["item_id"]), round=row["round"],
            strategy="label-review", score=row["score"], kind=REVIEW_KIND,
            # pre-filled with the current label: see the module docstring
            suggestion=Suggestion(current, 1.0 - row["score"], version),
            review=ReviewNote(current, suggested, row["confidence"])))
    return specs
