"""Where a hand-imported task's image comes from (service/task_images.py): data: URIs,
URLs under the fetch policy, files Label Studio serves, and what is refused.
tests/hostile/test_fetch.py fetches from local servers through the policy."""

from __future__ import annotations

import base64

import pytest

from activelearn.config import load_config
from activelearn.config.fetch import FetchConfig
from activelearn.data.images import UnusableImage
from activelearn.data.outbound import REFUSED, FetchPolicy
from activelearn.errors import BackendError
from activelearn.service.task_images import (
    data_uri_bytes,
    image_bytes,
    image_value,
    served_path,
    task_fetch_policy,
)

LS = "http://ls.example:8080"


def no_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolved {host}")


# no host allowed but Label Studio's; no name is resolved
POLICY = FetchPolicy.build(FetchConfig(max_bytes=1000), LS, resolve=no_resolve)


def no_fetch(path: str, max_bytes: int) -> bytes:
    raise AssertionError(f"fetched {path}")


def test_data_uris_base64_with_line_breaks_or_percent_encoded():
    data = bytes(range(256)) * 3
    text = base64.b64encode(data).decode()
    wrapped = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    assert data_uri_bytes("data:image/png;base64," + wrapped, 10**6) == data
    assert data_uri_bytes("data:,a%20b%FF", 10) == b"a b\xff"
    assert image_bytes("DATA:image/png;base64," + text, LS, no_fetch, POLICY) == data


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
        asked.append((path, max_bytes))
        return b"img"

    for value in ("/data/upload/3/a.png", f"{LS}/data/upload/3/a.png",
                  "/data/local-files/?d=photos%2Fa.jpg"):
        assert image_bytes(value, LS, fetch, POLICY) == b"img"
    assert asked == [("/data/upload/3/a.png", 1000), ("/data/upload/3/a.png", 1000),
                     ("/data/local-files/?d=photos%2Fa.jpg", 1000)]
    assert served_path("http://other:8080/data/upload/3/a.png", LS) is None


def test_a_fetch_that_fails_is_the_tasks_reason():
    def fetch(path: str, max_bytes: int) -> bytes:
        raise BackendError(f"Label Studio at {LS}: {path}: HTTP 404")

    with pytest.raises(UnusableImage, match="HTTP 404"):
        image_bytes("/data/upload/3/a.png", LS, fetch, POLICY)


@pytest.mark.parametrize("value", ["/etc/passwd", "photos/a.png", "/data/other"])
def test_local_paths_are_refused_without_reading(value):
    with pytest.raises(UnusableImage, match="is not a data: URI"):
        image_bytes(value, LS, no_fetch, POLICY)


@pytest.mark.parametrize("value", ["file:///etc/passwd", "gs://bucket/a.png",
                                   "http://other.example/a.png", "s3://someone-else/a.png",
                                   "HTTP://user:pw@ls.example:8080/a.png", "c:\\windows\\a.png"])
def test_urls_the_policy_refuses_are_the_one_reason_without_resolving(value):
    with pytest.raises(UnusableImage) as err:
        image_bytes(value, LS, no_fetch, POLICY)
    assert str(err.value) == REFUSED


def test_data_uris_are_held_to_the_policys_size():
    with pytest.raises(UnusableImage, match="too large: 1001 bytes"):
        image_bytes("data:," + "a" * 1001, LS, no_fetch, POLICY)


def test_the_projects_policy_names_its_label_studio_and_own_buckets(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "project: {name: t}\nclasses: [a, b]\n"
        "data: {source: imagefolder, root: 's3://photos/cats'}\n"
        "label_studio: {url: 'http://LS.example:8080'}\n"
        "jobs: {artifacts: 's3://runs/t'}\n"
        "serve: {fetch: {max_bytes: 5000, timeout: 2.5, max_redirects: 1}}\n")
    policy = task_fetch_policy(load_config(tmp_path / "p.yaml"))
    assert policy.hosts == {("ls.example", 8080)} and policy.trusted == {("ls.example", 8080)}
    assert policy.buckets == {"photos", "runs"} and policy.networks == ()
    assert (policy.max_bytes, policy.timeout, policy.max_redirects) == (5000, 2.5, 1)


def test_a_task_without_an_image_value():
    with pytest.raises(UnusableImage, match="no data.image"):
        image_value({"data": {"image": 3}})
    assert image_value({"data": {"image": "data:,x"}}) == "data:,x"
