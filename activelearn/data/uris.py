"""Open the bytes of an image named by a local path or a file://, http(s):// or s3:// URI.

    with open_uri("s3://photos/cats/1.jpg") as handle:
        data = handle.read()

- A plain path or a file:// URI (file:///abs/path, percent-encoded) is opened with open(),
  and only when it names a regular file or a symbolic link to one: a FIFO would block the
  read until a writer comes and a device can be endless, so such a name is refused before
  it is opened.
- http:// and https:// go through fsspec's HTTP filesystem (aiohttp: `fsspec[http]`, a
  dependency); s3:// through s3fs, an optional extra (`pip install 'activelearn[s3]'`).
  fsspec is imported on first use; a missing package is a ConfigError.
- S3 settings are the usual AWS ones, read by botocore: AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ~/.aws), AWS_DEFAULT_REGION, and
  AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) for an S3-compatible server (MinIO, Ceph,
  moto). fsspec keeps one filesystem per settings and thread, so set them before the first
  s3:// URI is opened.

Whatever keeps one image from being opened or read (a missing file, HTTP 404 or 500, no
such bucket or key, a refused connection, a timeout) is an UnusableImage with a short
reason; errors raised while the caller reads inside the `with` are translated too.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from activelearn.errors import ConfigError

__all__ = ["SCHEMES", "UnusableImage", "open_uri", "require_backends", "scheme_of"]

SCHEMES = ("file", "http", "https", "s3")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# What to install for a scheme fsspec cannot serve without an optional package.
_INSTALL = {"http": "pip install 'fsspec[http]'", "https": "pip install 'fsspec[http]'",
            "s3": "pip install 'activelearn[s3]'"}
# HTTP timeouts (seconds): to connect, and between two reads of the answer. s3fs has its
# own (5 s to connect, 15 s a read) and retries a failed call a few times.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
_S3_CODES = {"NoSuchBucket": "no such bucket", "NoSuchKey": "not found",
             "AccessDenied": "access denied", "InvalidAccessKeyId": "access denied (key id)",
             "SignatureDoesNotMatch": "access denied (secret key)"}
_MAX_REASON = 200  # characters of a library's message kept in a reason


class UnusableImage(Exception):
    """One image cannot be used; the message is the reason a user reads.

    Defined here, where an image can first prove unusable (it cannot be opened), and
    re-exported by activelearn.data.images.
    """


def scheme_of(uri: str) -> str:
    """The URI's scheme, lower-cased ("file" for a plain path)."""
    match = _SCHEME.match(uri)
    return match.group(1).lower() if match else "file"


@contextmanager
def open_uri(uri: str) -> Iterator[BinaryIO]:
    """A binary file object reading the image `uri` names; closed when the `with` ends.

    Raises UnusableImage when it cannot be opened or read, ConfigError when its scheme
    needs a package that is not installed.
    """
    scheme = scheme_of(uri)
    if scheme == "file":
        opened = _open_local(_local_path(uri))
    elif scheme in SCHEMES:
        opened = _open_remote(uri, scheme)
    else:
        raise UnusableImage(
            f"unsupported URI scheme {scheme!r} (supported: {', '.join(SCHEMES)})")
    with opened as handle:
        yield handle


def require_backends(uris: Iterable[str]) -> None:
    """ConfigError when one of the URIs needs a package that is not installed (checked
    once per scheme, before any work starts)."""
    for scheme in sorted({scheme_of(uri) for uri in uris} & set(_INSTALL)):
        _filesystem_class(scheme)


# ---------------------------------------------------------------- local files

def _local_path(uri: str) -> str:
    if not _SCHEME.match(uri):
        return uri
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise UnusableImage(f"a file:// URI names no other host ({parts.netloc!r})")
    return url2pathname(parts.path)


@contextmanager
def _open_local(path: str) -> Iterator[BinaryIO]:
    try:
        handle = _open_regular(path)
    except FileNotFoundError:
        raise UnusableImage("file not found") from None
    except PermissionError:
        raise UnusableImage("permission denied") from None
    except OSError as exc:
        raise UnusableImage(f"cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            yield handle
        except OSError as exc:
            raise UnusableImage(f"cannot read: {exc.strerror or exc}") from None


def _open_regular(path: str) -> BinaryIO:
    """Open a regular file (or a symlink to one); UnusableImage for a FIFO, socket,
    device or broken link. The kind is checked before the open; the open itself does not
    block (O_NONBLOCK) and the handle is checked again, in case the path changed meanwhile."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnusableImage(f"broken symbolic link (to {os.readlink(path)})") from None
        raise
    if not stat.S_ISREG(mode):
        raise UnusableImage(f"not a regular file ({_file_kind(mode)})")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnusableImage(f"not a regular file ({_file_kind(mode)})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
             (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")]
    return next((name for test, name in kinds if test(mode)), f"mode {mode:o}")


# ---------------------------------------------------------------- http(s) and s3

@contextmanager
def _open_remote(uri: str, scheme: str) -> Iterator[BinaryIO]:
    fs_class = _filesystem_class(scheme)
    errors = _remote_errors(scheme)
    try:
        fs = fs_class(**_options(scheme))
        handle = fs.open(uri, "rb")
    except errors as exc:
        raise UnusableImage(_remote_reason(exc)) from None
    try:
        yield handle
    except errors as exc:
        raise UnusableImage(_remote_reason(exc)) from None
    finally:
        with suppress(*errors):  # a failed close of a file only read loses nothing
            handle.close()


def _filesystem_class(scheme: str) -> Any:
    """fsspec's filesystem class for the scheme; ConfigError naming what to install."""
    try:
        import fsspec

        return fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        raise ConfigError(
            f"reading {scheme}:// URIs needs a package that is not installed ({exc}): "
            f"{_INSTALL.get(scheme, 'pip install fsspec')}") from None


def _options(scheme: str) -> dict[str, Any]:
    if scheme in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S,
                                        sock_read=READ_TIMEOUT_S)
        return {"client_kwargs": {"timeout": timeout}}
    return {}  # s3: endpoint, credentials and region from the AWS settings


def _remote_errors(scheme: str) -> tuple[type[BaseException], ...]:
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


def _remote_reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.__cause__ is not None:
        # fsspec's HTTP filesystem reports any failure to learn a file's size so
        return _remote_reason(exc.__cause__)
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
        return f"access denied: {_short(exc)}"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionError) or type(exc).__name__.startswith(
            ("ClientConnect", "EndpointConnection", "ConnectTimeout")):
        return f"cannot connect: {_short(exc)}"
    return f"cannot read: {_short(exc)}"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
