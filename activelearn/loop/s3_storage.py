"""label_studio.image_mode s3-storage: a pool of s3:// images whose tasks hold the s3://
URIs as they are, signed by Label Studio each time a task is shown, with the keys of an
S3 storage connected to the project (annotation/label_studio/storages.py). A URL
presigned at push time (image_mode url) lasts 7 days at most; these never expire.

One storage per bucket of the pool, its prefix the deepest folder holding every image of
the pool in that bucket (data.root's prefix for an image folder; a manifest may name
several buckets). The storages are connected before the first task of a push is sent,
with the keys of this process's environment (label_studio.storage_credentials), again at
every cycle that pushes: a rotated key or session token reaches Label Studio, and a
bucket Label Studio can no longer read fails the cycle before any task is pushed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from activelearn.annotation import AnnotationBackend, S3Source
from activelearn.annotation.label_studio.token import aws_keys
from activelearn.config.schema import LabelStudioConfig
from activelearn.data.uris import UnusableImage, open_uri, scheme_of
from activelearn.errors import BackendAuthError, BackendError, BackendUnavailableError


def s3_problem(paths: Sequence[str]) -> str | None:
    """Why s3-storage cannot show these images (one line naming the first and how many,
    and the image mode that can); None when every one is an s3:// URI of an object."""
    other = [i for i, uri in enumerate(paths) if scheme_of(uri) != "s3"]
    if other:
        first = paths[other[0]]
        mode = "local-files (with document_root)" if scheme_of(first) == "file" else "url"
        return (f"{len(other):,} of {len(paths):,} images are not s3:// URIs, the first "
                f"{first}; s3-storage signs only images in S3: use image_mode {mode}")
    bare = next((uri for uri in paths if not _split(uri)[1]), None)
    if bare is not None:
        return f"{bare} names a bucket, not an object (s3://bucket/key)"
    return None


def storage_sources(ls: LabelStudioConfig, paths: Sequence[str]) -> list[S3Source]:
    """The storages the pool needs: one per bucket, with the folder that holds all of
    the bucket's images as its prefix, the region, endpoint and TTL of ls, and the keys
    of this environment (none with storage_credentials label-studio; BackendAuthError
    when they are not set)."""
    folders: dict[str, list[str]] = {}
    for uri in paths:
        bucket, key = _split(uri)
        folders.setdefault(bucket, []).append(key.rsplit("/", 1)[0] if "/" in key else "")
    keys = aws_keys() if ls.storage_credentials == "environment" else None
    region = ls.storage_region or os.environ.get("AWS_DEFAULT_REGION", "") \
        or os.environ.get("AWS_REGION", "")
    endpoint = ls.storage_endpoint or os.environ.get("AWS_ENDPOINT_URL_S3", "") \
        or os.environ.get("AWS_ENDPOINT_URL", "")
    return [S3Source(bucket, _common_folder(found), region, endpoint.rstrip("/"),
                     ls.storage_presign_ttl, keys)
            for bucket, found in sorted(folders.items())]


def connect_storages(ls: LabelStudioConfig, backend: AnnotationBackend, project_id: int,
                     paths: Sequence[str], echo: Callable[[str], None]) -> list[int]:
    """Connect (or update) the project's storage of each bucket of the pool; returns
    their ids. A storage Label Studio refuses is a BackendError naming the bucket and,
    when this process can tell, why (it reads one image of the bucket itself)."""
    made = []
    for source in storage_sources(ls, paths):
        try:
            storage_id, created = backend.integrations.ensure_s3_storage(project_id, source)
        except (BackendUnavailableError, BackendAuthError):
            raise
        except BackendError as exc:
            sample = next(uri for uri in paths if _split(uri)[0] == source.bucket)
            raise BackendError(f"{exc}; {_diagnosis(sample, source.endpoint)}") from None
        if created:
            echo(f"  connected Label Studio's S3 storage {storage_id} for {source.uri}")
        made.append(storage_id)
    return made


def _diagnosis(uri: str, endpoint: str) -> str:
    """What the endpoint and reading one image of the bucket from here say (Label Studio
    answers a storage it cannot read on an endpoint off AWS with HTTP 500, no reason)."""
    silent = _silent(endpoint)
    if silent:
        return f"the endpoint {endpoint} does not answer from here either: {silent}"
    try:
        with open_uri(uri) as handle:
            handle.read(1)
    except UnusableImage as exc:
        return f"reading {uri} from here fails too: {exc}"
    return (f"{uri} reads from here: check that Label Studio reaches the endpoint (a "
            "loopback or private address needs USE_DEFAULT_BANNED_SUBNETS=false there) "
            "and, with storage_credentials label-studio, its own AWS settings")


def _silent(endpoint: str, timeout: float = 5.0) -> str | None:
    """Why a TCP connection to the endpoint's host and port fails within timeout
    seconds; None when it connects (or there is no endpoint: AWS itself)."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _split(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def _common_folder(folders: list[str]) -> str:
    """The deepest folder holding all of these ("" for the bucket's top)."""
    common = os.path.commonprefix([f + "/" for f in folders])
    return common[:common.rfind("/")] if "/" in common else ""
