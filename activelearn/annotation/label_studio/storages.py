"""A project's S3 storages (label_studio.image_mode s3-storage): Label Studio holds the keys
and signs a task's s3:// image anew each time the task is shown, so no image expires while
its task waits (a URL presigned at push time lasts 7 days at most).

One storage per bucket, titled after the bucket and the pool's prefix in it: Label Studio
resolves an s3:// URI with the first storage of the project whose bucket it names
(io_storages/utils.py, storage_can_resolve_bucket_url; the prefix is not compared), and
checks on save that it can read the bucket (io_storages/s3/serializers.py: with a prefix,
one object under it must be listed; without, HeadBucket). It is never synced: activelearn
pushes its tasks itself, and the storage's regex_filter matches no key, so a Sync pressed
in Label Studio imports nothing either.

`backend.integrations.ensure_s3_storage` of a LabelStudioBackend (client.py, which holds
the SDK client and turns its errors into activelearn's).
"""

from __future__ import annotations

import logging
from typing import Any

from activelearn.annotation.backend import S3Source
from activelearn.annotation.label_studio.connection import Connection

log = logging.getLogger(__name__)

TITLE = "activelearn"  # + the storage's s3://bucket/prefix
# Label Studio answers a storage it cannot read off AWS with HTTP 500, which the SDK tries
# twice more by default (1 to 2 s each): asked once, the line comes at once.
ONCE = {"max_retries": 0}
NEVER_MATCHES = "(?!)"  # regex_filter: a sync imports no object as a task
DESCRIPTION = ("activelearn signs its tasks' s3:// images with this storage; it pushes "
               "the tasks itself (do not sync: the filter matches no key)")
# What Label Studio's refusals of a storage mean (its messages, io_storages/s3/
# serializers.py and core/utils/io.py), as our own words: a line shows these, never the
# answer's text.
REFUSALS = {
    "with specified AWS credentials": "S3 refused the AWS keys (wrong, expired, or no "
                                      "access to the bucket)",
    "It seems access keys are incorrect": "the AWS keys are malformed",
    "Wrong credentials for S3": "the AWS keys are malformed",
    "Cannot find bucket": "no such bucket",
    "not found.": "no object under the prefix (or the bucket is gone)",
    "Can't resolve hostname": "the endpoint's host name does not resolve",
    "Debugging info is not available": "S3 at the endpoint failed or did not answer",
}


def title(source: S3Source) -> str:
    return f"{TITLE} {source.uri}"


def ensure_s3_storage(conn: Connection, project_id: int, source: S3Source) -> tuple[int, bool]:
    """The project's storage of source.bucket (found by its activelearn title's bucket)
    created, or updated to source: prefix, region, endpoint, TTL, and the keys sent again
    (Label Studio never shows them back, and a session token rotates). Label Studio
    checks it can read the bucket before it saves. Returns (its id, created)."""
    client = conn.client
    with conn.answering("listing the project's S3 storages"):
        storages: list[Any] = list(client.import_storage.s3.list(project=project_id))
    ours = [s for s in storages if s.bucket == source.bucket
            and (s.title or "").startswith(f"{TITLE} s3://")]
    fields = _fields(source)
    doing = (f"connecting the S3 storage {source.uri} (Label Studio reads the bucket at "
             f"{source.endpoint or 'AWS'})")
    if ours:
        storage_id = int(conn.required(ours[0].id, "the S3 storage"))
        with conn.answering(doing, REFUSALS):
            client.import_storage.s3.update(id=storage_id, **fields, request_options=ONCE)
        return storage_id, False
    with conn.answering(doing, REFUSALS):
        made = client.import_storage.s3.create(project=project_id, **fields,
                                               request_options=ONCE)
    made_id = int(conn.required(made.id, "the new S3 storage"))
    log.info("project %d: S3 storage %d for %s", project_id, made_id, source.uri)
    return made_id, True


def _fields(source: S3Source) -> dict[str, Any]:
    """What the storage is made or updated with. Without keys (Label Studio's own AWS
    settings), empty ones: Label Studio then reads its environment, and keys sent
    before are cleared."""
    keys = source.keys
    return {
        "title": title(source), "description": DESCRIPTION, "bucket": source.bucket,
        "prefix": source.prefix, "region_name": source.region,
        "s3endpoint": source.endpoint, "presign": True, "presign_ttl": source.presign_ttl,
        "use_blob_urls": True, "recursive_scan": True, "regex_filter": NEVER_MATCHES,
        "aws_access_key_id": keys.access_key_id if keys else "",
        "aws_secret_access_key": keys.secret_access_key if keys else "",
        "aws_session_token": keys.session_token if keys else "",
    }
