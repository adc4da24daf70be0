"""What one pull from Label Studio carries into the state, and what applying it changed."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    annotations; see review.py (ReviewTable)."""

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
