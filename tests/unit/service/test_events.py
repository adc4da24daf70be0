"""Webhook bodies as Label Studio sends them (label_studio/webhooks/models.py)."""

from __future__ import annotations

import pytest

from activelearn.service.events import BadEvent, parse_event, secret_matches


@pytest.mark.parametrize(("body", "changes"), [
    ({"action": "ANNOTATION_CREATED", "project": {"id": 4}, "annotation": {"id": 1},
      "task": {"id": 2}}, 1),
    ({"action": "ANNOTATION_UPDATED", "project": {"id": 4}, "annotation": {"id": 1}}, 1),
    ({"action": "ANNOTATIONS_CREATED", "project": {"id": 4},
      "annotation": [{"id": 1}, {"id": 2}, {"id": 3}]}, 3),
    ({"action": "ANNOTATIONS_DELETED", "project": {"id": 4},
      "annotations": [{"id": 1}, {"id": 2}]}, 2),
    ({"action": "TASKS_DELETED", "project": {"id": 4}, "tasks": [{"id": 9}]}, 1),
    ({"action": "PROJECT_UPDATED", "project": {"id": 4}}, 0),
    ({"action": "TASKS_CREATED", "project": {"id": 4}, "tasks": [{"id": 9}]}, 0),
])
def test_changes_counted_per_action(body, changes):
    event = parse_event(body)
    assert (event.action, event.project_id, event.changes) == (body["action"], 4, changes)


@pytest.mark.parametrize(("body", "why"), [
    ([1, 2], "not a JSON object"),
    ({"project": {"id": 1}}, "no 'action'"),
    ({"action": ""}, "no 'action'"),
    ({"action": "ANNOTATION_CREATED", "project": {"id": 1}}, "without its 'annotation'"),
    ({"action": "ANNOTATIONS_DELETED", "annotations": "1,2"}, "without its 'annotations'"),
])
def test_bodies_that_are_not_events_say_why(body, why):
    with pytest.raises(BadEvent, match=why):
        parse_event(body)


def test_an_event_without_a_project_has_none():
    assert parse_event({"action": "TASKS_DELETED", "tasks": []}).project_id is None


def test_secret_must_match_exactly():
    assert secret_matches("s" * 20, "s" * 20)
    assert not secret_matches(None, "s" * 20)
    assert not secret_matches("", "s" * 20)
    assert not secret_matches("s" * 19, "s" * 20)
    assert not secret_matches("S" * 20, "s" * 20)
