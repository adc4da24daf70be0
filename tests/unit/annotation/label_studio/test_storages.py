"""What a line says when Label Studio refuses an S3 storage (storages.py's REFUSALS through
client.SdkConnection.answering): Label Studio's reason in our words, never its message,
and never the keys, even when the answer echoes them. No server: the SDK's error is
raised by hand, as the SDK raises it."""

from __future__ import annotations

import re

import pytest
from label_studio_sdk.core.api_error import ApiError

from activelearn.annotation import AwsKeys, S3Source
from activelearn.annotation.label_studio.client import SdkConnection
from activelearn.annotation.label_studio.storages import REFUSALS, _fields, title
from activelearn.errors import BackendError

SECRET = "echoed-secret-key-0001"


def _refusal(body) -> str:
    conn = SdkConnection(object(), "http://ls.invalid", 1.0)
    with pytest.raises(BackendError) as err, conn.answering("connecting the S3 storage "
                                                            "s3://b/p", REFUSALS):
        raise ApiError(status_code=400, body=body)
    return str(err.value)


@pytest.mark.parametrize(("message", "words"), [
    ("Cannot connect to S3 b with specified AWS credentials", "S3 refused the AWS keys"),
    ("Cannot find bucket b in S3", "no such bucket"),
    ("s3://b/p not found.", "no object under the prefix"),
])
def test_label_studios_reason_is_said_in_our_words_without_its_message(message, words):
    line = _refusal({"validation_errors": {"non_field_errors": [f"{message} {SECRET}"]},
                     "detail": "Validation error"})
    assert line == ("Label Studio at http://ls.invalid: connecting the S3 storage s3://b/p "
                    f"failed: HTTP 400 (Bad Request): {words}" + line.split(words, 1)[1])
    assert SECRET not in line and message not in line


def test_an_unknown_refusal_says_the_status_only():
    assert _refusal({"detail": f"something else {SECRET}"}).endswith("HTTP 400 (Bad Request)")
    assert _refusal("not json").endswith("HTTP 400 (Bad Request)")


def test_the_storage_is_never_synced_and_without_keys_clears_them():
    source = S3Source("b", "pool", "eu-west-1", "http://minio:9000", 15,
                      AwsKeys("AKIAX", "secret", ""))
    fields = _fields(source)
    assert title(source) == "activelearn s3://b/pool"
    assert (fields["presign"], fields["presign_ttl"], fields["s3endpoint"]) == \
        (True, 15, "http://minio:9000")
    assert fields["regex_filter"] == "(?!)"  # matches no key: a Sync imports nothing
    assert re.match(fields["regex_filter"], "pool/a.png") is None
    own = _fields(S3Source("b", "", "", "", 15, None))
    assert (own["aws_access_key_id"], own["aws_secret_access_key"],
            own["aws_session_token"]) == ("", "", "")
