"""Label Studio's formats without a server: the labelling interface, task JSON,
annotation parsing, the pull cursor."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from activelearn.annotation import PullResult, Suggestion, TaskSpec
from activelearn.annotation.label_studio.formats import (
    choice_result,
    config_classes,
    label_config,
    parse_task,
    task_json,
    to_cursor,
)

CLASSES = ["T-shirt/top", "Trouser", 'Odd "quoted" <name> & co']


def test_label_config_lists_every_class_as_a_choice():
    assert config_classes(label_config(CLASSES)) == CLASSES
    assert config_classes("<View><Text name='t' value='$t'/></View>") is None
    assert config_classes("not xml <") is None
    root = ET.fromstring(label_config(CLASSES))
    choices = root.find("Choices")
    assert choices is not None
    assert (choices.get("name"), choices.get("toName")) == ("label", "image")
    assert [c.get("value") for c in choices.findall("Choice")] == CLASSES
    image = root.find("Image")
    assert image is not None and image.get("value") == "$image"


def test_task_json_carries_item_round_strategy_and_prediction():
    task = TaskSpec("item-1", "data:x", round=2, strategy="margin", score=0.25,
                    suggestion=Suggestion("Trouser", 0.6, "v2"))
    body = task_json(task)
    assert body["data"] == {"image": "data:x", "item_id": "item-1", "round": 2,
                            "strategy": "margin", "score": 0.25, "kind": "query"}
    assert body["meta"] == {"item_id": "item-1"}
    assert body["predictions"] == [{"model_version": "v2", "score": 0.6,
                                    "result": choice_result("Trouser")}]
    assert "predictions" not in task_json(TaskSpec("h", "data:x", 0, "random", kind="holdout"))


def annotation(id_, result, **extra):
    return {"id": id_, "result": result, "completed_by": 3, "lead_time": 4.0,
            "updated_at": "2026-01-02T03:04:05.123456Z", **extra}


def test_parse_task_keeps_valid_annotations_and_explains_the_rest():
    task = {"id": 9, "meta": {"item_id": "item-9"}, "annotations": [
        annotation(1, choice_result("Trouser")),
        annotation(2, [], was_cancelled=True),
        annotation(3, choice_result("Horse")),
        annotation(4, choice_result("Trouser") + choice_result("T-shirt/top")),
        annotation(5, "garbage"),
        annotation(6, []),
    ]}
    result = PullResult()
    parse_task(task, CLASSES, result)
    (good,) = result.annotations
    assert (good.task_id, good.item_id, good.annotation_id, good.label, good.label_name,
            good.annotator, good.lead_time) == (9, "item-9", 1, 1, "Trouser", "3", 4.0)
    assert good.updated_at == "2026-01-02T03:04:05.123456Z"
    assert result.cancelled == 1
    reasons = {r.annotation_id: r.reason for r in result.rejected}
    assert reasons == {
        3: "label 'Horse' is not one of the configured classes",
        4: "malformed result: 2 choices, expected 1",
        5: "malformed result: not a list",
        6: "malformed result: no choice in it",
    }


def test_parse_task_rejects_an_annotated_task_without_item_id():
    result = PullResult()
    parse_task({"id": 4, "meta": {}, "annotations": [annotation(1, choice_result("Trouser"))]},
               CLASSES, result)
    parse_task({"id": 5, "meta": {}, "annotations": []}, CLASSES, result)
    assert [(r.task_id, r.item_id) for r in result.rejected] == [(4, None)]
    assert "no item_id" in result.rejected[0].reason


def test_cursor_format_sorts_like_time():
    plain = to_cursor("2026-01-02T03:04:05Z")
    assert plain == "2026-01-02T03:04:05.000000Z"
    assert to_cursor(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=timezone.utc)) > plain
    assert to_cursor("2026-01-02 03:04:05.5+00:00") == "2026-01-02T03:04:05.500000Z"
    assert to_cursor(None) == ""
