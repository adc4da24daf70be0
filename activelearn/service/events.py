"""Label Studio's webhook events as activelearn reads them: which project, and how many
annotations an event created, changed or removed (label_studio/webhooks/models.py:
WebhookAction; https://labelstud.io/guide/webhook_reference)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

# action -> the payload key listing what changed; a dict there is one change
CHANGES = {
    "ANNOTATION_CREATED": "annotation",
    "ANNOTATIONS_CREATED": "annotation",
    "ANNOTATION_UPDATED": "annotation",
    "ANNOTATIONS_DELETED": "annotations",
    "TASKS_DELETED": "tasks",
}
# every action registered by `init --connect-ml-backend`
ACTIONS = tuple(CHANGES)


@dataclass(frozen=True)
class WebhookEvent:
    """action: Label Studio's name for it; project_id: None when the payload names none;
    changes: annotations created, updated or deleted (tasks deleted count one each);
    0 for actions that change no label."""

    action: str
    project_id: int | None
    changes: int


class BadEvent(ValueError):
    """A webhook body that is not one of Label Studio's events (the message says why)."""


def parse_event(body: Any) -> WebhookEvent:
    """The event of a webhook's JSON body; BadEvent when it is not an event."""
    if not isinstance(body, dict):
        raise BadEvent("the body is not a JSON object")
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise BadEvent("the body has no 'action'")
    project = body.get("project")
    project_id = None
    if isinstance(project, dict) and isinstance(project.get("id"), int):
        project_id = project["id"]
    key = CHANGES.get(action)
    if key is None:
        return WebhookEvent(action, project_id, 0)
    found = body.get(key)
    if isinstance(found, list):
        changes = len(found)
    elif isinstance(found, dict):
        changes = 1
    else:
        raise BadEvent(f"a {action} event without its '{key}'")
    return WebhookEvent(action, project_id, changes)


def secret_matches(given: str | None, secret: str) -> bool:
    """Whether a request's secret header is the service's secret (constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())
