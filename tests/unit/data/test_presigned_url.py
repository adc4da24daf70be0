"""uris.presigned_url: an s3:// URI signed into an http(s) URL, with no request to a
server (aws_settings points at an endpoint where nothing listens). The URL fetched from a
real S3 server: tests/integration/test_image_urls.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from activelearn.data.uris import MAX_PRESIGN_S, UnusableImage, presigned_url


def test_the_url_names_the_endpoint_bucket_key_and_expiry(aws_settings):
    url = presigned_url("s3://photos/cats/a b.png", 3600)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == aws_settings
    assert parts.path == "/photos/cats/a%20b.png"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-Credential"][0].startswith("testing/")
    assert query["X-Amz-Signature"][0]


def test_each_expiry_is_signed_into_the_url(aws_settings):
    for seconds in (1, 600, MAX_PRESIGN_S):
        query = parse_qs(urlsplit(presigned_url("s3://b/k.png", seconds)).query)
        assert query["X-Amz-Expires"] == [str(seconds)]


def test_without_credentials_the_reason_says_what_to_set(no_aws_credentials):
    with pytest.raises(UnusableImage) as err:
        presigned_url("s3://photos/a.png", 600)
    assert str(err.value) == ("no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")


def test_a_uri_naming_no_object_cannot_be_signed(aws_settings):
    for uri in ("s3://photos", "s3://photos/"):
        with pytest.raises(UnusableImage, match=r"^names a bucket, not an object"):
            presigned_url(uri, 600)


def test_only_s3_uris_and_expiries_s3_accepts(aws_settings):
    for uri in ("https://h/a.png", "/srv/a.png", "file:///srv/a.png"):
        with pytest.raises(ValueError, match="only an s3:// URI can be presigned"):
            presigned_url(uri, 600)
    for seconds in (0, MAX_PRESIGN_S + 1):
        with pytest.raises(ValueError, match=f"lasts 1 to {MAX_PRESIGN_S} seconds, got "):
            presigned_url("s3://b/k.png", seconds)
