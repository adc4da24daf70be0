"""Where a hand-imported task's image comes from (service/task_images.py): data: URIs,
URLs, files Label Studio serves, and what is refused."""

from __future__ import annotations

import base64

import pytest

from activelearn.data.images import UnusableImage
from activelearn.errors import BackendError
from activelearn.service.task_images import data_uri_bytes, image_bytes, image_value, served_path

LS = "http://ls.example:8080"


def no_fetch(path: str, max_bytes: int) -> bytes:
    raise AssertionError(f"fetched {path}")


def test_data_uris_base64_with_line_breaks_or_percent_encoded():
    data = bytes(range(256)) * 3
    text = base64.b64encode(data).decode()
    wrapped = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    assert data_uri_bytes("data:image/png;base64," + wrapped) == data
    assert data_uri_bytes("data:,a%20b%FF") == b"a b\xff"
    assert image_bytes("DATA:image/png;base64," + text, LS, no_fetch) == data


@pytest.mark.parametrize(("uri", "why"), [
    ("data:image/png;base64", "without a comma"),
    ("data:image/png;base64,@@@@", "base64 is malformed"),
    ("data:image/png;base64,", "empty data: URI"),
    ("data:,abcdefghijk", "too large: 11 bytes"),
])
def test_malformed_or_large_data_uris_are_unusable(uri, why):
    with pytest.raises(UnusableImage, match=why):
        data_uri_bytes(uri, max_bytes=10)


def test_files_label_studio_serves_are_fetched_by_their_path():
    asked = []

    def fetch(path: str, max_bytes: int) -> bytes:
        asked.append(path)
        return b"img"

    for value in ("/data/upload/3/a.png", f"{LS}/data/upload/3/a.png",
                  "/data/local-files/?d=photos%2Fa.jpg"):
        assert image_bytes(value, LS, fetch) == b"img"
    assert asked == ["/data/upload/3/a.png", "/data/upload/3/a.png",
                     "/data/local-files/?d=photos%2Fa.jpg"]
    assert served_path("http://other:8080/data/upload/3/a.png", LS) is None


def test_a_fetch_that_fails_is_the_tasks_reason():
    def fetch(path: str, max_bytes: int) -> bytes:
        raise BackendError(f"Label Studio at {LS}: {path}: HTTP 404")

    with pytest.raises(UnusableImage, match="HTTP 404"):
        image_bytes("/data/upload/3/a.png", LS, fetch)


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "photos/a.png",
                                   "gs://bucket/a.png", "/data/other"])
def test_local_paths_and_other_schemes_are_refused_without_reading(value):
    with pytest.raises(UnusableImage, match="is not a data: URI"):
        image_bytes(value, LS, no_fetch)


def test_a_task_without_an_image_value():
    with pytest.raises(UnusableImage, match="no data.image"):
        image_value({"data": {"image": 3}})
    assert image_value({"data": {"image": "data:,x"}}) == "data:,x"
