"""Label Studio's formats, without talking to a server: the labelling interface, task
JSON going out, annotations coming back, the pull cursor and the task listings' fields.

The server side (the SDK calls) is in client.py and the calls by concern (projects.py,
tasks.py, annotations.py); everything here is plain data, tested without a server.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from activelearn.annotation.backend import (
    REVIEW_KIND,
    PulledAnnotation,
    PullResult,
    RejectedAnnotation,
    TaskSpec,
    review_key,
)

# The names of the two tags of the labelling interface; a Choices result names both.
IMAGE_TAG = "image"
CHOICES_TAG = "label"
# The Data Manager's datetime filter format (label_studio/data_manager/managers.py).
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


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
