"""The image of a Label Studio task that activelearn did not push (imported by hand, or
from a cloud storage), as bytes, for /predict (predict.py). A task activelearn pushed
is read from the pool by its item id instead.

Its `data.image` (tasks.IMAGE_TAG) may be:
- a data: URI (base64 or percent-encoded);
- a file Label Studio serves: /data/upload/... or /data/local-files/?d=..., or the same
  under label_studio.url; read from Label Studio with the API token (Integrations.fetch_file);
- an http(s):// or s3:// URL, fetched under the outbound-fetch policy of serve.fetch
  (data/outbound.py: allowed hosts and the project's own buckets only, public addresses,
  checked redirects, a size limit and a deadline). Whoever can import a task writes this
  URL, so every refusal and failure is the same reason (outbound.REFUSED): no answer tells
  a closed port from an open one.
Nothing else: a local path would let whoever can reach /predict or import a task probe
the service's disk, and another scheme (file://, ftp://, gopher://) is a URL the policy
refuses.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from activelearn.annotation.label_studio import IMAGE_TAG
from activelearn.annotation.label_studio.integrations import SERVED_PATHS
from activelearn.config import Config
from activelearn.data.images import UnusableImage
from activelearn.data.outbound import FetchPolicy, fetch_url
from activelearn.errors import ActiveLearnError

# Fetches a path Label Studio serves (one of SERVED_PATHS): bytes, or an ActiveLearnError.
Fetch = Callable[[str, int], bytes]
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # a scheme (data: is taken first)


def task_fetch_policy(cfg: Config) -> FetchPolicy:
    """The outbound-fetch policy of a project's tasks: serve.fetch, Label Studio's host,
    and the project's own s3 buckets (data.root's, jobs.artifacts's)."""
    buckets = [urlsplit(uri).netloc for uri in (cfg.data.root, cfg.jobs.artifacts)
               if uri.lower().startswith("s3://")]
    return FetchPolicy.build(cfg.serve.fetch, cfg.label_studio.url, buckets)


def image_value(task: dict[str, Any]) -> str:
    """The task's data.image; UnusableImage when it has none."""
    value = (task.get("data") or {}).get(IMAGE_TAG)
    if not isinstance(value, str) or not value:
        raise UnusableImage(f"no data.{IMAGE_TAG} (the labelling interface's image)")
    return value


def image_bytes(value: str, ls_url: str, fetch: Fetch, policy: FetchPolicy,
                deadline: float | None = None) -> bytes:
    """The bytes of the image a task's data.image names (see the module), at most
    policy.max_bytes; UnusableImage with the reason when it cannot be had. deadline: a
    time.monotonic() instant a URL's fetch must end by (also bounded by serve.fetch.timeout)."""
    served = served_path(value, ls_url)
    if served is not None:
        try:
            return fetch(served, policy.max_bytes)
        except ActiveLearnError as exc:
            raise UnusableImage(str(exc)) from None
    if value[:5].lower() == "data:":
        return data_uri_bytes(value, policy.max_bytes)
    if _URL.match(value):
        return fetch_url(value, policy, deadline)
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise UnusableImage(f"{shown!r} is not a data: URI, an http(s):// or s3:// URL or a "
                        f"file Label Studio serves ({', '.join(SERVED_PATHS)})")


def served_path(value: str, ls_url: str) -> str | None:
    """The path of a file Label Studio serves (also given as a URL under ls_url), or None."""
    base = ls_url.rstrip("/")
    if base and value.startswith(base + "/"):
        value = value[len(base):]
    return value if value.startswith(SERVED_PATHS) else None


def data_uri_bytes(uri: str, max_bytes: int) -> bytes:
    """The bytes of a data: URI (RFC 2397); UnusableImage when it is malformed or holds
    more than max_bytes."""
    header, comma, payload = uri.partition(",")
    if not comma:
        raise UnusableImage("a data: URI without a comma")
    if len(payload) > 2 * max_bytes:  # base64 is 4/3 of the bytes, %XX up to 3x
        raise UnusableImage(f"too large: a data: URI of {len(payload)} characters")
    if header.lower().endswith(";base64"):
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise UnusableImage("a data: URI whose base64 is malformed") from None
    else:
        data = unquote_to_bytes(payload)
    if not data:
        raise UnusableImage("an empty data: URI")
    if len(data) > max_bytes:
        raise UnusableImage(f"too large: {len(data)} bytes (at most {max_bytes})")
    return data
