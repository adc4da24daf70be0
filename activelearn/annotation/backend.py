"""The annotation-backend protocol: what the loop asks of an annotation tool, and the
data it speaks in (tasks going out, annotations coming back).

`LabelStudioBackend` (label_studio/client.py) is the one implementation; a second tool
implements `AnnotationBackend`: its projects, its tasks, pulling its annotations, the
calls `activelearn serve` needs (integrations) and those of the bot (annotators). Every
call is safe to repeat after a crash: projects are found by title, tasks by their key
(`TaskSpec.key`), and a pull is incremental on a cursor the backend hands out. Errors
are activelearn's BackendErrors (errors.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Suggestion:
    """The model's guess shown pre-filled: class name, confidence (the prediction score,
    lowest served first by uncertainty sampling) and the model version that made it."""

    label: str
    confidence: float
    model_version: str


REVIEW_KIND = "review"  # task data/meta `kind` of a label-error review task


@dataclass(frozen=True)
class ReviewNote:
    """What a review task shows besides the image: the item's current label and the
    class the out-of-fold model suggests (class names), and the model's p of it."""

    current_label: str
    suggested_label: str
    confidence: float


def review_key(item_id: str, round_: int) -> str:
    return f"{item_id}#review-r{round_}"


@dataclass(frozen=True)
class TaskSpec:
    """One item to be labelled. image: a data URI or a URL (Label Studio's
    image_reference makes it);
    score: the strategy's score of the item (None for random batches);
    kind: the batch kind (holdout, initial, query), or "review" for a review task of an
    item already labelled (see REVIEW_KIND); review: its current and suggested class."""

    item_id: str
    image: str
    round: int
    strategy: str
    score: float | None = None
    kind: str = "query"
    suggestion: Suggestion | None = None
    review: ReviewNote | None = None

    @property
    def key(self) -> str:
        """What makes a task unique in a project: the item id, or for a review task the
        item id and the round that asked (an item has one labelling task)."""
        return review_key(self.item_id, self.round) if self.kind == REVIEW_KIND else self.item_id


@dataclass(frozen=True)
class PulledAnnotation:
    """A completed, valid annotation. label: index into the class names."""

    task_id: int
    item_id: str
    annotation_id: int
    label: int
    label_name: str
    annotator: str
    lead_time: float | None
    updated_at: str


@dataclass(frozen=True)
class RejectedAnnotation:
    """An annotation (or a task) that could not become a label, and why."""

    task_id: int
    item_id: str | None
    annotation_id: int | None
    reason: str


@dataclass
class PullResult:
    """What one pull found. cursor: pass it to the next pull to get only newer changes.
    seen: task id -> item id of every activelearn task listed; the annotations found
    are all the valid ones those tasks have now (a missing one was cancelled, deleted
    or made invalid since the last pull)."""

    annotations: list[PulledAnnotation] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict)
    rejected: list[RejectedAnnotation] = field(default_factory=list)
    reviews: dict[int, int] = field(default_factory=dict)  # review task id -> its round
    # task id -> whether Label Studio still serves it to annotators (not is_labeled: it
    # has fewer annotations than its overlap); tasks whose listing lacked the flag are left out
    open_tasks: dict[int, bool] = field(default_factory=dict)
    cancelled: int = 0
    tasks_seen: int = 0
    cursor: str = ""


@dataclass(frozen=True)
class TaskAnnotators:
    """An activelearn task of a project and the ids of the users who annotated it
    (cancelled annotations included: that user has seen the task), with how many
    annotations the tool wants for it (its overlap)."""

    task_id: int
    item_id: str
    annotators: frozenset[int]
    overlap: int = 1


@dataclass(frozen=True)
class AwsKeys:
    """The AWS keys an S3 storage reads its bucket with (the session token may be "").
    Never shown: the repr hides them, and errors.redact hides their values."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class S3Source:
    """An S3 bucket the tool reads task images from: it signs a task's s3:// URI of this
    bucket each time the task is shown, for presign_ttl minutes. prefix: the folder of
    the bucket that holds the pool's images ("" for the whole bucket); region and
    endpoint: "" for the tool's defaults; keys: None to let the tool use its own AWS
    settings (e.g. its host's IAM role)."""

    bucket: str
    prefix: str
    region: str
    endpoint: str
    presign_ttl: int
    keys: AwsKeys | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


# --------------------------------------------------------------------------- the protocol


class BackendProjects(Protocol):
    """A tool's projects: one per activelearn project, found by title."""

    def find(self, title: str) -> int | None:
        """The id of the project with exactly this title, or None."""
        ...

    def ensure(self, title: str, class_names: list[str], instructions: str = "") -> int:
        """Find the project by title or create it (one single choice among the classes,
        the instructions shown to annotators, the least confident tasks served first).
        Returns its id; a found project whose classes differ is refused."""
        ...

    def exists(self, project_id: int) -> bool:
        """Whether a project with this id is still there."""
        ...

    def check_classes(self, project_id: int, class_names: list[str]) -> None:
        """Refuse (BackendError) a project whose classes differ from class_names."""
        ...

    def ensure_overlap(self, project_id: int, maximum: int) -> None:
        """Let the tool serve a task to up to `maximum` distinct annotators."""
        ...

    def set_model_version(self, project_id: int, version: str) -> None:
        """Serve the tasks by the predictions of this model version (pushed first)."""
        ...

    def ensure_local_storage(self, project_id: int, folder: str) -> None:
        """Let the tool serve the image files under folder to the project's tasks."""
        ...


class BackendTasks(Protocol):
    """A project's tasks: one labelling task per item (TaskSpec.key), review tasks."""

    def count(self, project_id: int) -> int:
        """How many tasks the project has (cheap: no listing)."""
        ...

    def keys(self, project_id: int) -> dict[str, int]:
        """TaskSpec.key -> task id of every task that has an item id."""
        ...

    def item_ids(self, project_id: int) -> dict[str, int]:
        """item_id -> task id of every labelling task (review tasks left out)."""
        ...

    def push(self, project_id: int, tasks: Sequence[TaskSpec], chunk: int = 1000,
             existing: dict[str, int] | None = None) -> dict[str, int]:
        """Create the tasks whose key has none yet (existing: keys() when the caller
        listed them already), chunk per request. Returns TaskSpec.key -> task id for
        every task of `tasks`."""
        ...

    def set_overlap(self, task_ids: Sequence[int], overlap: int, reopen: bool = False) -> None:
        """Serve these tasks to `overlap` distinct annotators (reopen: to more than
        have annotated them: mark them unfinished)."""
        ...

    def overlap(self, task_id: int) -> int:
        """How many distinct annotators the tool serves this task to."""
        ...


class BackendAnnotations(Protocol):
    """The annotations of a project's tasks."""

    def pull(self, project_id: int, class_names: list[str], since: str = "") -> PullResult:
        """Every annotation of the tasks changed after the cursor `since` ("" = all);
        the result's cursor is the next pull's `since`."""
        ...


class BackendIntegrations(Protocol):
    """What `activelearn serve` needs of the tool: events, predictions on demand, the
    files of tasks imported by hand."""

    def ensure_webhook(self, project_id: int, url: str, headers: dict[str, str],
                       actions: Sequence[str]) -> tuple[int, bool]:
        """The project's webhook to url for these actions. Returns (its id, created)."""
        ...

    def ensure_ml_backend(self, project_id: int, url: str, title: str) -> tuple[int, bool]:
        """The service at url as the project's model backend. Returns (its id, created)."""
        ...

    def remove_webhook(self, hook_id: int) -> None:
        """Delete a webhook (one this run made: connecting is all-or-nothing)."""
        ...

    def remove_ml_backend(self, backend_id: int) -> None:
        """Disconnect a model backend (one this run made)."""
        ...

    def fetch_file(self, path: str, max_bytes: int) -> bytes:
        """A file the tool serves for a task (at most max_bytes)."""
        ...

    def ensure_s3_storage(self, project_id: int, source: S3Source) -> tuple[int, bool]:
        """The project's storage of source.bucket, created or updated to source (its keys
        sent again each time: they may have been rotated); the tool checks that it can
        read the bucket first. Never synced: the tasks are pushed. Returns (its id,
        created)."""
        ...


class BackendAnnotators(Protocol):
    """Simulated annotators working in the tool (the bot of `activelearn bot` and
    `demo`): their users, who annotated which task, annotations credited to them."""

    def ensure_annotator(self, email: str, name: str = "") -> int:
        """The id of the tool's user with this email, created when missing."""
        ...

    def task_annotators(self, project_id: int) -> list[TaskAnnotators]:
        """Every task of the project that has an item id, with who annotated it."""
        ...

    def annotate_many(self, annotations: Sequence[tuple[int, str, int, float | None]]
                      ) -> list[int]:
        """Annotate each (task id, class name, user id, lead time in seconds or None),
        credited to that user. Returns the annotations' ids."""
        ...


class AnnotationBackend(Protocol):
    """A connected annotation tool, as the loop and the service use it. url: where it
    is (a linked project records it: a project id means nothing on another server)."""

    url: str

    @property
    def projects(self) -> BackendProjects: ...

    @property
    def tasks(self) -> BackendTasks: ...

    @property
    def annotations(self) -> BackendAnnotations: ...

    @property
    def integrations(self) -> BackendIntegrations: ...

    @property
    def annotators(self) -> BackendAnnotators: ...
