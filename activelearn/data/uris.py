"""Open the bytes of an image named by a local path or a file://, http(s):// or s3:// URI.

    with open_uri("s3://photos/cats/1.jpg") as handle:
        data = handle.read()

- A plain path or a file:// URI (file:///abs/path, percent-encoded) is opened with open(),
  and only when it names a regular file or a symbolic link to one: a FIFO would block the
  read until a writer comes and a device can be endless, so such a name is refused before
  it is opened.
- http:// and https:// go through fsspec's HTTP filesystem (aiohttp: `fsspec[http]`, a
  dependency); s3:// through s3fs, an optional extra (`pip install 'activelearn[s3]'`).
  fsspec is imported on first use; a missing package is a ConfigError (remote.py: the
  filesystems, their options and their errors).
- S3 settings are the usual AWS ones, read by botocore: AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ~/.aws), AWS_DEFAULT_REGION, and
  AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) for an S3-compatible server (MinIO, Ceph,
  moto). fsspec keeps one filesystem per settings and thread, so set them before the first
  s3:// URI is opened.

Whatever keeps one image from being opened or read (a missing file, HTTP 404 or 500, no
such bucket or key, a refused connection, a timeout) is an UnusableImage with a short
reason; errors raised while the caller reads inside the `with` are translated too.

presigned_url signs an s3:// URI into an http(s) URL that anyone holding it can read
for a while (for Label Studio tasks, whose annotators' browsers have no AWS keys).

These URIs are the project owner's (data.root, a manifest's paths): any host, the
service's own AWS settings. A URL someone else wrote (a hand-imported task's data.image)
is fetched through outbound.py's policy instead (serve.fetch).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO, NamedTuple
from urllib.parse import urlsplit
from urllib.request import url2pathname

from activelearn.data.remote import (
    INSTALL,
    bounded,
    filesystem_class,
    options,
    remote_errors,
    remote_reason,
    short_reason,
)
from activelearn.errors import DataError

__all__ = ["MAX_PRESIGN_S", "SCHEMES", "Listed", "UnusableImage", "list_folder",
           "local_path", "open_uri", "presigned_url", "require_backends", "scheme_of"]

SCHEMES = ("file", "http", "https", "s3")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# The longest a presigned URL may last: S3 refuses a SigV4 signature valid for longer.
MAX_PRESIGN_S = 7 * 24 * 3600


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
    for scheme in sorted({scheme_of(uri) for uri in uris} & set(INSTALL)):
        filesystem_class(scheme)


class Listed(NamedTuple):  # a tuple: 200,000 of them are made per listing
    """A file a folder listing found. relative: its path under the folder, with "/";
    size: bytes (-1 when the server does not tell); version: what changes when the file
    does (a local file's mtime in ns, an S3 ETag; "" when the server tells nothing, "-"
    for a local name that is no regular file)."""

    uri: str
    relative: str
    size: int
    version: str


def list_folder(root: str) -> list[Listed]:
    """Every file under a folder (a path, file://, http(s):// or s3:// URI), recursively,
    hidden names (".x") and their folders left out, sorted by relative path.

    Local folders are walked with os.scandir (one stat per file); an entry that is no
    regular file (a FIFO, a broken link) is listed with size -1, for the reader to
    refuse. http(s) folders are read from the server's index pages (as python -m
    http.server writes them); they tell no size or date, so a changed file there is only
    seen under a new name. Raises DataError when the folder cannot be listed.
    """
    scheme = scheme_of(root)
    if scheme == "file":
        return _list_local(_local_path(root) if _SCHEME.match(root) else root)
    fs_class = filesystem_class(scheme)
    errors = remote_errors(scheme)
    base = root.rstrip("/")
    try:
        fs = bounded(fs_class(**options(scheme)))
        fs.invalidate_cache()  # fsspec keeps listings: a second ingest must see changes
        found = fs.find(base, detail=True)
    except errors as exc:
        raise DataError(f"{root}: cannot list the folder: {remote_reason(exc)}") from None
    prefix = base.split("://", 1)[1] if scheme == "s3" else base
    listed = []
    for name, info in found.items():
        relative = name[len(prefix):].lstrip("/")
        if info.get("type") == "directory" or not relative or _hidden(relative):
            continue
        uri = f"s3://{name}" if scheme == "s3" else name
        size = info.get("size")
        version = str(info.get("ETag") or info.get("etag") or info.get("LastModified") or "")
        listed.append(Listed(uri, relative, size if isinstance(size, int) else -1, version))
    return sorted(listed, key=lambda f: f.relative)


def _list_local(root: str) -> list[Listed]:
    if not os.path.isdir(root):
        raise DataError(f"{root}: not a folder")
    listed: list[Listed] = []
    stack = [(root, "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise DataError(f"{folder}: cannot list the folder: {exc.strerror or exc}") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = f"{rel}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, relative + "/"))
                continue
            try:
                st = entry.stat()
            except OSError:  # a broken link: listed, refused when read
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):
                listed.append(Listed(entry.path, relative, st.st_size, str(st.st_mtime_ns)))
            else:
                listed.append(Listed(entry.path, relative, -1, "-"))
    return sorted(listed, key=lambda f: f.relative)


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def presigned_url(uri: str, expires_s: int) -> str:
    """An http(s) URL that lets whoever holds it GET the object an s3:// URI names, for
    expires_s seconds (1 to MAX_PRESIGN_S). Signed here with the S3 settings above, with
    no request to the server: https://... on AWS, the scheme and host of
    AWS_ENDPOINT_URL on an S3-compatible server. The object is not looked at: a
    missing key gives a URL that answers 404. The signature is SigV4 for the region of
    AWS_DEFAULT_REGION (us-east-1 when unset): on AWS it must be the bucket's region.

    Raises ValueError for a URI that is not s3:// or an expiry out of range,
    UnusableImage, with the reason, when it cannot be signed (a URI that names no object,
    no credentials), ConfigError when s3fs is not installed.
    """
    if scheme_of(uri) != "s3":
        raise ValueError(f"only an s3:// URI can be presigned, got {uri}")
    if not 1 <= expires_s <= MAX_PRESIGN_S:
        raise ValueError(f"a presigned URL lasts 1 to {MAX_PRESIGN_S} seconds, got {expires_s}")
    fs_class = filesystem_class("s3")
    try:
        # SigV4 whatever botocore's default: S3 takes nothing else in the newer regions
        # (and it is what bounds a URL's life to 7 days)
        opts = options("s3")
        opts["config_kwargs"] = {**opts.get("config_kwargs", {}), "signature_version": "s3v4"}
        fs = bounded(fs_class(**opts))
        _, key, _ = fs.split_path(uri)
        if not key:
            raise UnusableImage("names a bucket, not an object (s3://bucket/key)")
        return str(fs.url(uri, expires=expires_s))
    except remote_errors("s3") as exc:
        import botocore.exceptions

        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            raise UnusableImage("no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") from None
        raise UnusableImage(short_reason(exc)) from None


def local_path(uri: str) -> str:
    """The local path a plain path or a file:// URI names (a file:// URI of another host
    is a DataError)."""
    try:
        return _local_path(uri)
    except UnusableImage as exc:
        raise DataError(f"{uri}: {exc}") from None


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
    fs_class = filesystem_class(scheme)
    errors = remote_errors(scheme)
    try:
        fs = bounded(fs_class(**options(scheme)))
        handle = fs.open(uri, "rb")
    except errors as exc:
        raise UnusableImage(remote_reason(exc)) from None
    try:
        yield handle
    except errors as exc:
        raise UnusableImage(remote_reason(exc)) from None
    finally:
        with suppress(*errors):  # a failed close of a file only read loses nothing
            handle.close()
