"""Label Studio's formats, without talking to a server: the labelling interface, task
JSON going out, annotations coming back, the pull cursor, and where the token comes from.

The server side (the SDK calls) is in `client.py`; everything here is plain data
so that it can be tested without a server.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

from activelearn.errors import BackendAuthError

# The names of the two tags of the labelling interface; a Choices result names both.
IMAGE_TAG = "image"
CHOICES_TAG = "label"
TOKEN_ENV = "LABEL_STUDIO_API_KEY"
TOKEN_FILE_ENV = "LABEL_STUDIO_API_KEY_FILE"
# The Data Manager's datetime filter format (label_studio/data_manager/managers.py).
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Longer than any token Label Studio issues (legacy 40 hex digits, JWTs of a few hundred).
MAX_TOKEN_CHARS = 1000
MAX_TOKEN_FILE_BYTES = 64 * 1024  # more is not a token file; it is not read whole
LOCAL_FILES_URL = "/data/local-files/?d="  # + the file's path under the document root


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
    """One item to be labelled. image: a data URI or a URL (see image_reference);
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


def api_token() -> str:
    """The API token: $LABEL_STUDIO_API_KEY, else the file named by
    $LABEL_STUDIO_API_KEY_FILE. Never from the project file, never logged: the errors
    name where the token came from, never the token."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return _checked_token(token, TOKEN_ENV)
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if not path:
        raise BackendAuthError(
            f"no Label Studio API token: set {TOKEN_ENV}, or {TOKEN_FILE_ENV} to a file "
            "holding it")
    where = f"{TOKEN_FILE_ENV}={path}"
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
    except IsADirectoryError:
        raise BackendAuthError(f"{where}: is a folder; set {TOKEN_FILE_ENV} to the file "
                               "that holds the token") from None
    except OSError as exc:
        raise BackendAuthError(f"{where}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise BackendAuthError(f"{where}: the file is over {MAX_TOKEN_FILE_BYTES // 1024} KiB, "
                               "not a token file; it must hold only the token")
    try:
        token = raw.decode("utf-8-sig").strip()  # -sig: an editor's byte-order mark
    except UnicodeDecodeError:
        raise BackendAuthError(f"{where}: not a text file; it must hold only the token, "
                               "as text") from None
    if not token:
        raise BackendAuthError(f"{where}: the file is empty")
    return _checked_token(token, where)


def _checked_token(token: str, where: str) -> str:
    """The token (already stripped) if it can be one: it goes into an HTTP header as is,
    so whitespace, control or non-ASCII characters inside mean a wrong value or file."""
    if len(token) > MAX_TOKEN_CHARS:
        raise BackendAuthError(f"{where}: the token is {len(token):,} characters long, more "
                               f"than an API token's {MAX_TOKEN_CHARS:,}; it must hold "
                               "only the token")
    if any(c.isspace() for c in token):
        raise BackendAuthError(f"{where}: the token has whitespace or a line break inside; "
                               "it must hold only the token, on one line")
    if not (token.isascii() and token.isprintable()):
        raise BackendAuthError(f"{where}: the token has control or non-ASCII characters; "
                               "it must hold only the token")
    return token


def label_config(class_names: list[str]) -> str:
    """The labelling interface: the image and one single choice among the classes."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in class_names)
    return (
        "<View>\n"
        f'  <Image name="{IMAGE_TAG}" value="${IMAGE_TAG}" zoom="true"/>\n'
        f'  <Choices name="{CHOICES_TAG}" toName="{IMAGE_TAG}" choice="single-radio"'
        ' showInLine="true" required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>"
    )


def config_classes(config: str) -> list[str] | None:
    """The class names of a labelling interface's Choices named `label`; None if it has
    none (or is not XML). The rest of the interface may be edited in Label Studio."""
    try:
        root = ElementTree.fromstring(config)
    except ElementTree.ParseError:
        return None
    for choices in root.iter("Choices"):
        if choices.get("name") == CHOICES_TAG:
            return [c.get("value", "") for c in choices.iter("Choice")]
    return None


def choice_result(label: str) -> list[dict[str, Any]]:
    """The result of a Choices annotation or prediction naming one class."""
    return [{"from_name": CHOICES_TAG, "to_name": IMAGE_TAG, "type": "choices",
             "value": {"choices": [label]}}]


def image_data_uri(image: np.ndarray) -> str:
    """A PNG data URI of one image: [channels, height, width] uint8, channels 1 or 3."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"expected [1 or 3, height, width] uint8, got {array.dtype} "
                         f"{list(array.shape)}")
    pixels = array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_reference(mode: str, item_id: str, path: str = "", image: np.ndarray | None = None,
                    document_root: str = "", url_template: str = "") -> str:
    """Where a task finds its image, by LabelStudioConfig.image_mode: data-uri (needs
    image), local-files (needs path under document_root, symlinks followed),
    url-template, url (path: an http(s) URL, as is; the caller presigns s3:// URIs)."""
    if mode == "data-uri":
        if image is None:
            raise ValueError(f"item {item_id}: data-uri needs the image's pixels")
        return image_data_uri(image)
    if mode == "local-files":
        relative = local_files_relative(os.path.realpath(path), os.path.realpath(document_root))
        if relative is None:
            raise ValueError(f"item {item_id}: {path} is outside document_root {document_root}")
        return local_files_url(relative)
    if mode == "url-template":
        return url_template.format(item_id=quote(item_id, safe=""), path=quote(path))
    if mode == "url":
        if not path.lower().startswith(("http://", "https://")):
            raise ValueError(f"item {item_id}: url needs an http(s) URL, got {path!r}")
        return path
    raise ValueError(f"unknown image mode {mode!r}")


def local_files_relative(real_path: str, real_root: str) -> str | None:
    """The path of a file under the document root, or None when it is not inside it.
    Both are resolved (os.path.realpath: absolute, normalised, symlinks followed), as
    Label Studio opens the file; on such paths a prefix test that ends in a separator
    is an exact containment test (and "/" holds everything), at a fraction of the cost
    of os.path.commonpath over a pool of 200,000 files."""
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real_path.startswith(prefix) or len(real_path) == len(prefix):
        return None
    return real_path[len(prefix):]


def local_files_url(relative: str) -> str:
    """The task URL of a file Label Studio serves from a Local Files storage; relative:
    its path under the document root (local_files_relative)."""
    return LOCAL_FILES_URL + quote(relative)


def task_json(task: TaskSpec) -> dict[str, Any]:
    """The import JSON of one task. Item id, round, strategy, score and kind go in the
    task data, where the Data Manager shows them as columns and can sort by them."""
    data = {IMAGE_TAG: task.image, "item_id": task.item_id, "round": task.round,
            "strategy": task.strategy, "score": task.score, "kind": task.kind}
    # the id again in meta: listings can then leave out the data (and its image)
    out: dict[str, Any] = {"data": data, "meta": {"item_id": task.item_id}}
    if task.review is not None:
        data.update(current_label=task.review.current_label,
                    suggested_label=task.review.suggested_label,
                    suggested_confidence=round(float(task.review.confidence), 4))
    if task.kind == REVIEW_KIND:
        out["meta"].update(kind=REVIEW_KIND, round=task.round)
    if task.suggestion is not None:
        s = task.suggestion
        out["predictions"] = [{"model_version": s.model_version, "score": float(s.confidence),
                               "result": choice_result(s.label)}]
    return out


def parse_task(task: dict[str, Any], class_names: list[str], result: PullResult) -> None:
    """Add one task's annotations to result: valid ones as labels, cancelled ones counted,
    anything else (unknown label, malformed result, no item id) as rejected."""
    task_id = int(task["id"])
    item_id = task_item_id(task)
    annotations = task.get("annotations") or []
    if item_id is None:
        if annotations:
            result.rejected.append(RejectedAnnotation(
                task_id, None, None, "task has no item_id in its data (not made by activelearn)"))
        return
    result.seen[task_id] = item_id
    if task.get("is_labeled") is not None:
        result.open_tasks[task_id] = not task["is_labeled"]
    review_round = task_review_round(task)
    if review_round is not None:
        result.reviews[task_id] = review_round
    for ann in annotations:
        if ann.get("was_cancelled"):
            result.cancelled += 1
            continue
        label_name, reason = _choice(ann.get("result"))
        if reason is None and label_name not in class_names:
            reason = f"label {label_name!r} is not one of the configured classes"
        if reason is not None:
            result.rejected.append(RejectedAnnotation(task_id, item_id, ann.get("id"), reason))
            continue
        assert label_name is not None
        result.annotations.append(PulledAnnotation(
            task_id=task_id, item_id=item_id, annotation_id=int(ann["id"]),
            label=class_names.index(label_name), label_name=label_name,
            annotator=str(ann.get("completed_by")), lead_time=ann.get("lead_time"),
            updated_at=to_cursor(ann.get("updated_at") or ann.get("created_at"))))


def task_item_id(task: dict[str, Any]) -> str | None:
    """The item id of a task listed by the server (meta, else data), None if it has none."""
    for where in ("meta", "data"):
        item_id = (task.get(where) or {}).get("item_id")
        if isinstance(item_id, str) and item_id:
            return item_id
    return None


def task_review_round(task: dict[str, Any]) -> int | None:
    """The round that asked for a listed review task (meta, else data), None if the task
    is not a review task."""
    for where in ("meta", "data"):
        found = task.get(where) or {}
        if found.get("kind") == REVIEW_KIND:
            return int(found.get("round") or 0)
    return None


def listed_task_key(task: dict[str, Any]) -> str | None:
    """TaskSpec.key of a task listed by the server; None if it has no item id."""
    item_id = task_item_id(task)
    review_round = task_review_round(task)
    if item_id is None or review_round is None:
        return item_id
    return review_key(item_id, review_round)


def _choice(result: Any) -> tuple[str | None, str | None]:
    """(class name, None) from an annotation result, or (None, why it is unusable)."""
    if not isinstance(result, list):
        return None, "malformed result: not a list"
    choices = [r for r in result if isinstance(r, dict) and r.get("type") == "choices"
               and r.get("from_name") == CHOICES_TAG]
    if not choices:
        return None, "malformed result: no choice in it"
    if len(choices) > 1:
        return None, f"malformed result: {len(choices)} choices, expected 1"
    picked = (choices[0].get("value") or {}).get("choices")
    if not isinstance(picked, list) or len(picked) != 1 or not isinstance(picked[0], str):
        return None, f"malformed result: expected one chosen class, got {picked!r}"
    return picked[0], None


def to_cursor(value: Any) -> str:
    """A server timestamp (ISO string or datetime, UTC) in the Data Manager's filter format."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime(CURSOR_FORMAT)


def cursor_before(cursor: str, seconds: float) -> str:
    """The cursor `seconds` earlier (cursor: CURSOR_FORMAT)."""
    moved = datetime.strptime(cursor, CURSOR_FORMAT) - timedelta(seconds=seconds)
    return moved.strftime(CURSOR_FORMAT)


# The fields a task listing asks for (`include`, Label Studio's sparse field set; dotted
# names reach into the annotations), by listing kind: every other column, the data with
# its image included, costs the server time per task.
_TASK_FIELDS = ("id", "meta", "updated_at", "is_labeled", "overlap")
_ANNOTATION_FIELDS = ("id", "result", "was_cancelled", "completed_by", "lead_time",
                      "updated_at", "created_at")
LISTING_FIELDS = {
    "task_only": ",".join(_TASK_FIELDS),
    "all": ",".join([*_TASK_FIELDS, "annotations",
                     *(f"annotations.{name}" for name in _ANNOTATION_FIELDS)]),
}


def updated_filter(operator: str, value: str) -> dict[str, Any]:
    """A Data Manager filter on the tasks' update time (value: CURSOR_FORMAT)."""
    return {"filter": "filter:tasks:updated_at", "operator": operator, "type": "Datetime",
            "value": value}
