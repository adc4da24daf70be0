"""label_studio.image_mode url (loop.push): remote images go to Label Studio by URL, an
http(s):// URI as it is and an s3:// URI presigned; local files are a config error at
check time naming local-files. No server: signing needs none (aws_settings), and
image_of asks nothing of the backend. Against real servers:
tests/integration/test_image_urls.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError
from activelearn.loop.push import TaskPusher, check_image_mode
from support.pools import manifest_config, named_pool

HTTP = ["http://images.example/cats/a.png", "https://cdn.example/b%20c.png?v=2&sig=x%2Fy"]


def _config(**label_studio) -> Config:
    return manifest_config("url", **label_studio)


def _images(cfg: Config, pool: Pool) -> list[str]:
    """The task image of every pool item, after the check a round makes first."""
    check_image_mode(cfg, pool)
    pusher = TaskPusher(cfg, None, None, pool, 7, print)  # type: ignore[arg-type]
    return [pusher.image_of(item_id) for item_id in pool.item_ids]


def _check_error(paths: list[str]) -> str:
    with pytest.raises(ConfigError) as err:
        check_image_mode(_config(), named_pool(paths))
    message = str(err.value)
    assert err.value.exit_code == 2 and "\n" not in message
    return message


def test_http_and_https_urls_go_into_the_tasks_as_they_are():
    assert _images(_config(), named_pool(HTTP)) == HTTP


def test_s3_uris_become_presigned_urls_lasting_presign_expiry(aws_settings):
    pool = named_pool([HTTP[0], "s3://photos/cats/x.png"])
    for cfg, seconds in ((_config(), "604800"), (_config(presign_expiry=900), "900")):
        http, signed = _images(cfg, pool)
        assert http == HTTP[0]
        parts = urlsplit(signed)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == \
            f"{aws_settings}/photos/cats/x.png"
        assert parse_qs(parts.query)["X-Amz-Expires"] == [seconds]


def test_a_local_path_is_a_config_error_that_names_local_files(tmp_path):
    local = str(tmp_path / "cats" / "a.png")
    assert _check_error([HTTP[0], local, (tmp_path / "b.png").as_uri()]) == (
        f"project.yaml: label_studio.image_mode: url: 2 of 3 images are local files, the "
        f"first {local}; an annotator's browser cannot fetch a file of this machine by URL: "
        "use image_mode local-files (with document_root) for local images")


def test_a_file_uri_is_a_local_file_too():
    message = _check_error(["file:///srv/images/a.png"])
    assert "1 of 1 images are local files, the first file:///srv/images/a.png;" in message
    assert "use image_mode local-files" in message


def test_a_scheme_url_cannot_hand_over_is_a_config_error():
    assert _check_error([HTTP[0], "ftp://h/a.png"]) == (
        "project.yaml: label_studio.image_mode: url: 1 of 2 images have a URI scheme url "
        "cannot give Label Studio, the first ftp://h/a.png; url takes http://, https:// "
        "and s3:// URIs")


def test_s3_images_without_aws_credentials_fail_the_check_before_any_push(no_aws_credentials):
    paths = [HTTP[0], "s3://photos/a.png", "s3://photos/b.png"]
    assert _check_error(paths) == (
        "project.yaml: label_studio.image_mode: url: s3://photos/a.png cannot be presigned: "
        "no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or AWS_PROFILE")
    # and should they go missing after the check, the push stops at the first such image
    pusher = TaskPusher(_config(), None, None, named_pool(paths), 7, print)  # type: ignore[arg-type]
    assert pusher.image_of("item0") == HTTP[0]
    with pytest.raises(ConfigError, match=r"^project.yaml: label_studio.image_mode: url: "
                                          r"s3://photos/a.png cannot be presigned: no AWS"):
        pusher.image_of("item1")


def test_a_source_without_image_files_needs_data_uri():
    assert _check_error([]) == ("project.yaml: label_studio.image_mode: url needs image "
                                "files, and the manifest source has none; use data-uri")
