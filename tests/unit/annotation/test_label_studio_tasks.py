"""Label Studio formats without a server: interface, task JSON, annotation parsing, token."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from activelearn.annotation.label_studio.tasks import (
    PullResult,
    Suggestion,
    TaskSpec,
    api_token,
    choice_result,
    config_classes,
    image_data_uri,
    image_reference,
    label_config,
    parse_task,
    task_json,
    to_cursor,
)
from activelearn.errors import BackendAuthError

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


@pytest.mark.parametrize("channels", [1, 3])
def test_image_data_uri_round_trips_the_pixels(channels):
    image = np.random.default_rng(0).integers(0, 256, (channels, 5, 7), dtype=np.uint8)
    uri = image_data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    expected = image[0] if channels == 1 else image.transpose(1, 2, 0)
    np.testing.assert_array_equal(decoded, expected)


def test_image_data_uri_refuses_other_arrays():
    with pytest.raises(ValueError, match="uint8"):
        image_data_uri(np.zeros((1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[2, 4, 4\]"):
        image_data_uri(np.zeros((2, 4, 4), dtype=np.uint8))


def test_image_reference_modes(tmp_path):
    path = tmp_path / "imgs" / "a b.png"
    ref = image_reference("local-files", "x", str(path), document_root=str(tmp_path))
    assert ref == "/data/local-files/?d=imgs/a%20b.png"
    with pytest.raises(ValueError, match="outside document_root"):
        image_reference("local-files", "x", "/elsewhere/a.png", document_root=str(tmp_path))
    assert image_reference("url-template", "id/1", "d/a.png",
                           url_template="https://s3/{path}?id={item_id}") == \
        "https://s3/d/a.png?id=id%2F1"


def test_image_reference_url_mode_gives_an_http_url_as_it_is():
    # a presigned URL's query (signature, expiry) must reach Label Studio untouched
    signed = ("https://b.s3.amazonaws.com/cats/a%20b.png?X-Amz-Expires=600&"
              "X-Amz-Signature=ab%2Fcd")
    for url in ("http://127.0.0.1:8000/cats/a.png", signed, "HTTPS://h/x.png"):
        assert image_reference("url", "x", url) == url
    for uri in ("s3://bucket/a.png", "/srv/a.png", "file:///srv/a.png", ""):
        with pytest.raises(ValueError, match=r"^item x: url needs an http\(s\) URL"):
            image_reference("url", "x", uri)


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


def test_api_token_from_environment_or_file(monkeypatch, tmp_path):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY_FILE", raising=False)
    with pytest.raises(BackendAuthError, match="set LABEL_STUDIO_API_KEY"):
        api_token()
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY_FILE", str(token_file))
    assert api_token() == "from-file"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "from-env")
    assert api_token() == "from-env"
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    token_file.write_text("")
    with pytest.raises(BackendAuthError, match="is empty"):
        api_token()


@pytest.fixture
def token_file(monkeypatch, tmp_path):
    """The token file $LABEL_STUDIO_API_KEY_FILE names (and no $LABEL_STUDIO_API_KEY)."""
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    path = tmp_path / "token"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY_FILE", str(path))
    return path


def _auth_error(secret: str = "") -> str:
    """The one-line message api_token raises, checked not to show the token."""
    with pytest.raises(BackendAuthError) as caught:
        api_token()
    message = str(caught.value)
    assert "\n" not in message
    assert not secret or secret not in message
    return message


@pytest.mark.parametrize(("content", "why"), [
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file"),
    (b"abc123\ndef456\n", "whitespace or a line break inside"),
    (b"abc123 def456", "whitespace or a line break inside"),
    (b"abc\x07123", "control or non-ASCII characters"),
    ("t\u00f6ken".encode(), "control or non-ASCII characters"),
    (b"a" * 1001, "1,001 characters long, more than an API token's 1,000"),
    (b"a" * (64 * 1024 + 1), "over 64 KiB"),
])
def test_an_unusable_token_file_is_one_auth_error_naming_the_file(token_file, content, why):
    token_file.write_bytes(content)
    message = _auth_error(secret="abc123")
    assert message.startswith(f"LABEL_STUDIO_API_KEY_FILE={token_file}: ")
    assert why in message


def test_a_token_file_that_is_a_folder_is_an_auth_error(token_file):
    token_file.mkdir()
    assert _auth_error() == (f"LABEL_STUDIO_API_KEY_FILE={token_file}: is a folder; set "
                             "LABEL_STUDIO_API_KEY_FILE to the file that holds the token")


def test_a_token_file_may_end_in_newlines_and_start_with_a_byte_order_mark(token_file):
    token = "a" * 1000
    token_file.write_bytes(b"\xef\xbb\xbf" + token.encode() + b"\r\n\n")
    assert api_token() == token


def test_a_token_in_the_environment_is_checked_like_one_from_a_file(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "abc123 def456")
    message = _auth_error(secret="abc123")
    assert message.startswith("LABEL_STUDIO_API_KEY: the token has whitespace")
