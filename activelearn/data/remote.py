"""fsspec's side of reading http(s):// and s3:// URIs: the filesystem class of a scheme
(fsspec imported on first use; a missing package is a ConfigError naming what to
install), its options (HTTP timeouts; S3's settings are the usual AWS ones), the errors
the remote libraries raise, and one short line saying why for each (uris.py turns them
into UnusableImages, artifacts.py into ArtifactErrors)."""

from __future__ import annotations

import asyncio
from typing import Any

from activelearn.errors import ConfigError

# What to install for a scheme fsspec cannot serve without an optional package.
INSTALL = {"http": "pip install 'fsspec[http]'", "https": "pip install 'fsspec[http]'",
           "s3": "pip install 'activelearn[s3]'"}
# Timeouts (seconds): to connect, and between two reads of the answer (HTTP and S3).
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
# S3 tries per request: botocore's (the first included; "standard" mode retries throttling
# and transient errors with backoff) and s3fs's own loop around them, which by default
# (5) multiplies botocore's: a store that accepts and never answers held a call for
# 5 x 5 x 60 s. Bounded here, one S3 request takes at most
# S3_ATTEMPTS x (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) = 140 s plus backoff; callers that
# need less pass a deadline of their own (artifacts.py: jobs.store_timeout).
S3_ATTEMPTS = 2
S3FS_TRIES = 1
_S3_CODES = {"NoSuchBucket": "no such bucket", "NoSuchKey": "not found",
             "AccessDenied": "access denied", "InvalidAccessKeyId": "access denied (key id)",
             "SignatureDoesNotMatch": "access denied (secret key)"}
_MAX_REASON = 200  # characters of a library's message kept in a reason


def filesystem_class(scheme: str) -> Any:
    """fsspec's filesystem class for the scheme; ConfigError naming what to install."""
    try:
        import fsspec

        return fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        raise ConfigError(
            f"reading {scheme}:// URIs needs a package that is not installed ({exc}): "
            f"{INSTALL.get(scheme, 'pip install fsspec')}") from None


def options(scheme: str) -> dict[str, Any]:
    """The filesystem's keyword arguments for the scheme: the timeouts, and for S3 the
    tries (endpoint, credentials and region come from the AWS settings)."""
    if scheme in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S,
                                        sock_read=READ_TIMEOUT_S)
        return {"client_kwargs": {"timeout": timeout}}
    if scheme == "s3":
        return {"config_kwargs": {"connect_timeout": CONNECT_TIMEOUT_S,
                                  "read_timeout": READ_TIMEOUT_S,
                                  "retries": {"max_attempts": S3_ATTEMPTS,
                                              "mode": "standard"}}}
    return {}


def bounded(fs: Any) -> Any:
    """fs with s3fs's own retry loop cut to S3FS_TRIES (see S3_ATTEMPTS); returns fs."""
    if hasattr(fs, "retries"):
        fs.retries = S3FS_TRIES
    return fs


def remote_errors(scheme: str) -> tuple[type[BaseException], ...]:
    """What the remote libraries raise when a server, a network or an object fails.
    OSError covers fsspec's FileNotFoundError / PermissionError and refused connections;
    ValueError a URI that names no object (s3://bucket) or a server that ignores ranges;
    asyncio.TimeoutError fsspec's FSTimeoutError (not an OSError before Python 3.11)."""
    import aiohttp

    errors: list[type[BaseException]] = [OSError, ValueError, asyncio.TimeoutError,
                                         aiohttp.ClientError]
    if scheme == "s3":
        import botocore.exceptions

        errors += [botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError]
    return tuple(errors)


def remote_reason(exc: BaseException) -> str:
    """Why a remote read failed, in a few words (HTTP status, S3 error code, ...)."""
    if isinstance(exc, FileNotFoundError) and exc.__cause__ is not None:
        # fsspec's HTTP filesystem reports any failure to learn a file's size so
        return remote_reason(exc.__cause__)
    status = getattr(exc, "status", None)  # aiohttp.ClientResponseError
    if status == 404:
        return "not found (HTTP 404)"
    if isinstance(status, int):
        return f"HTTP {status} {getattr(exc, 'message', '')}".strip()
    response = getattr(exc, "response", None)  # botocore's ClientError: a dict
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in _S3_CODES:
        return _S3_CODES[code]
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return f"access denied: {short_reason(exc)}"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionError) or type(exc).__name__.startswith(
            ("ClientConnect", "EndpointConnection", "ConnectTimeout")):
        return f"cannot connect: {short_reason(exc)}"
    return f"cannot read: {short_reason(exc)}"


def short_reason(exc: BaseException) -> str:
    """A library's message on one line of at most _MAX_REASON characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
