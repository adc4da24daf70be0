"""The artifact store: where jobs publish what they make (checkpoints, metrics, score
shards, position lists, labelled snapshots, catalogue snapshots) and where the controller
and the workers read it back. The only thing besides Redis that a worker on another
machine shares with the controller (`jobs.artifacts`).

    store = ArtifactStore("s3://bucket/activelearn", scratch=Path("/tmp/worker"))
    store.publish("models/v1.pt", lambda tmp: torch.save(state, tmp), exclusive=True)
    path = store.fetch("models/v1.pt")     # a local copy (the file itself when local)

- A local store is a folder (by default the project's work dir, so the layout is the one
  a shared disk always had); a remote one any fsspec URL, s3:// through s3fs (the
  `s3` extra) with the usual AWS settings (AWS_ENDPOINT_URL for MinIO, moto, Ceph).
- Names are relative paths with "/" (no "..", nothing absolute): nothing read or
  written through a store lies outside it.
- Publication is atomic: the file is written whole in a private place first (the
  scratch folder, or a hidden temporary name beside the target), then renamed (local)
  or uploaded in one PUT (S3 shows an object only once its upload completed, multipart
  ones too). A job killed mid-write or mid-upload leaves nothing anyone would read.
  exclusive=True publishes only when the name is free (os.link; S3's If-None-Match),
  so two writers never both publish one model version.
- Names are written once: a remote artifact fetched into the scratch folder is reused
  while its name is. Content-addressed names (snapshots, positions, shards) and
  versioned ones (checkpoints) keep that true.
- A store that cannot be reached or answers with an error is one JobError line naming
  the store, the artifact and the reason; the round stops and resumes on the next run.
- Every call to a remote store ends by a deadline: `timeout` seconds (jobs.store_timeout,
  default 60) for a look-up, a listing or a removal, plus a second per MB
  (MIN_RATE) for an upload or a download, whatever botocore and s3fs would retry
  inside it (remote.py bounds those too). A store that accepts and never answers
  stops a cycle after about `timeout` seconds with "timed out"; its lock is released.
- `list` gives sizes and modification times (the store's clock) for retention
  (loop/retention.py); a reused content-addressed name is `touch`ed to now, and
  `remove(name, older_than=...)` looks at the time again just before it removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from activelearn.data.remote import (
    bounded,
    filesystem_class,
    options,
    remote_errors,
    remote_reason,
)
from activelearn.data.uris import local_path, scheme_of
from activelearn.errors import JobError
from activelearn.files import write_atomically

__all__ = ["ArtifactStore", "Listed", "content_name"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]*(/[A-Za-z0-9_][A-Za-z0-9_.=+-]*)*$")
TIMEOUT_S = 60.0  # a remote call's deadline (jobs.store_timeout), before MIN_RATE
MIN_RATE = 1_000_000  # bytes a second an upload or a download is granted on top


@dataclass(frozen=True)
class Listed:
    """One artifact as a listing shows it: its name, its bytes and when it was last
    written (unix seconds by the store's clock; None when the store does not say)."""

    name: str
    size: int
    modified: float | None


Listing = list[Listed]  # inside the class, `list` is the method


def content_name(folder: str, data: bytes, suffix: str) -> str:
    """A content-addressed name: folder/<first 20 hex digits of the sha256>suffix."""
    return f"{folder}/{hashlib.sha256(data).hexdigest()[:20]}{suffix}"


class ArtifactStore:
    """A folder or an fsspec URL holding a project's artifacts; see the module.

    url: a local path (made absolute) or e.g. s3://bucket/prefix. scratch: a local folder
    for remote artifacts fetched and for files written before their upload. timeout:
    the seconds a remote call may take (see the module)."""

    def __init__(self, url: str, scratch: Path, timeout: float = TIMEOUT_S) -> None:
        self.timeout = timeout
        self.scheme = scheme_of(url)
        self.local = self.scheme == "file"
        if self.local:
            # file:///x and file://localhost/x (jobs.artifacts is checked at load)
            self.url = str(Path(local_path(url)).expanduser().resolve())
        else:
            self.url = url.rstrip("/")
        self.scratch = Path(scratch)
        self._fs: Any = None

    @classmethod
    def of_project(cls, url: str, work_dir: Path, timeout: float = TIMEOUT_S
                   ) -> ArtifactStore:
        """A project's store as its controller (or a job on the controller's disk) sees
        it: url (jobs.artifacts), else the work dir; remote artifacts are fetched into
        WORK_DIR/fetched."""
        return cls(url or str(work_dir), Path(work_dir) / "fetched", timeout)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # -- reading ----------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        """Whether an artifact of that name was published."""
        if self.local:
            return self.path(name).is_file()
        # info, not isfile: fsspec's isfile answers False for any error, a timeout too
        try:
            info = self._call("look for", name, lambda fs, key, kw: fs.info(key, **kw))
        except FileNotFoundError:
            return False
        return info.get("type") == "file"

    def read_bytes(self, name: str) -> bytes:
        """The artifact's bytes; FileNotFoundError when there is none of that name."""
        return self.fetch(name).read_bytes()

    def read_json(self, name: str) -> Any:
        """The artifact, parsed as JSON (FileNotFoundError when missing)."""
        return json.loads(self.read_bytes(name))

    def fetch(self, name: str) -> Path:
        """A local file holding the artifact: the file itself in a local store, else a
        copy in scratch/fetched (downloaded once per name, whole before it is renamed
        into place). FileNotFoundError when there is none of that name."""
        if self.local:
            path = self.path(name)
            if not path.is_file():
                raise FileNotFoundError(2, "no such artifact", str(path))
            return path
        copy = self._copy(name)
        if copy.is_file():
            return copy
        try:
            size = self._call("look up", name, lambda fs, key, kw: fs.size(key, **kw))
            self._call("download", name, lambda fs, key, kw: write_atomically(
                copy, lambda tmp: fs.get_file(key, str(tmp), **kw)), size or 0)
        except FileNotFoundError:
            raise FileNotFoundError(2, "no such artifact", f"{self.url}/{name}") from None
        return copy

    def list(self, prefix: str = "") -> Listing:
        """Every artifact whose name starts with the folder `prefix` ("" for all; e.g.
        "models"), sorted by name. In a local store, files that are no artifact name (a
        writer's hidden temporary file, anything outside the naming rules) are left out."""
        prefix = prefix.strip("/")
        if self.local:
            return sorted(self._local_listing(prefix), key=lambda a: a.name)
        try:  # a prefix with nothing under it lists empty: not found is the bucket
            found = self._call("list", prefix, lambda fs, key, kw: fs.find(
                key.rstrip("/"), detail=True, **kw))
        except FileNotFoundError:
            raise self._no_bucket() from None
        root = self.url.split("://", 1)[1].rstrip("/") + "/"
        listed = []
        for path, info in found.items():
            name = path.split("://", 1)[-1].removeprefix(root)  # find lists under root
            if info.get("type", "file") == "file" and _NAME.fullmatch(name):
                listed.append(Listed(name, int(info.get("size") or 0), _modified(info)))
        return sorted(listed, key=lambda a: a.name)

    def usage(self, prefix: str = "") -> int:
        """The bytes of the artifacts under the folder `prefix` ("" for all)."""
        return sum(a.size for a in self.list(prefix))

    @property
    def copies(self) -> Path:
        """scratch/fetched/<digest of the URL>: this store's fetched (and own published)
        copies, by name; none for a local store, read in place."""
        return self.scratch / "fetched" / hashlib.sha256(self.url.encode()).hexdigest()[:12]

    def path(self, name: str) -> Path:
        """Where a local store keeps an artifact (ValueError for a remote store)."""
        if not self.local:
            raise ValueError(f"{self.url} is not a local folder")
        return Path(self.url) / _checked(name)

    # -- writing ----------------------------------------------------------------------
    def publish(self, name: str, write: Callable[[Path], object],
                exclusive: bool = False) -> None:
        """Call write(tmp) with a private temporary path (its suffix is the name's), then
        publish it under `name` atomically (see the module). exclusive: FileExistsError
        when the name is taken, and the artifact there stays."""
        if self.local:
            write_atomically(self.path(name), write, exclusive=exclusive)
            return
        copy = self._copy(name)
        copy.parent.mkdir(parents=True, exist_ok=True)
        tmp = copy.with_name(f".{copy.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
                             f"{copy.suffix}")
        try:
            write(tmp)
            if exclusive and self.exists(name):
                raise FileExistsError(17, "artifact exists", f"{self.url}/{name}")
            mode = "create" if exclusive and self.scheme == "s3" else "overwrite"
            self._call("upload", name,
                       lambda fs, key, kw: fs.put_file(str(tmp), key, mode=mode, **kw),
                       tmp.stat().st_size)
            os.replace(tmp, copy)  # the publisher reads its own without a download
        finally:
            tmp.unlink(missing_ok=True)

    def publish_bytes(self, name: str, data: bytes, exclusive: bool = False) -> None:
        """publish() of bytes held in memory."""
        self.publish(name, lambda tmp: Path(tmp).write_bytes(data), exclusive=exclusive)

    def publish_content(self, folder: str, data: bytes, suffix: str) -> str:
        """Publish data under its content-addressed name (content_name) unless it is
        there already; returns the name."""
        name = content_name(folder, data, suffix)
        if not self.exists(name):
            self.publish_bytes(name, data)
        else:  # reused: newer than any retention cutoff from now on (see loop/retention)
            self.touch(name)
        return name

    def touch(self, name: str) -> None:
        """Set the artifact's modification time to now, bytes unchanged (S3: a copy onto
        itself, no transfer; other remote stores: nothing). FileNotFoundError if none."""
        if self.local:
            os.utime(self.path(name))
            return
        if self.scheme in ("s3", "s3a"):
            self._call("touch", name, lambda fs, key, kw: fs.setxattr(
                key, activelearn_touched=str(int(time.time())), **kw))

    def remove(self, name: str, older_than: float | None = None) -> bool:
        """Remove an artifact and its fetched copy; whether one was. older_than: only if
        its time, looked up now, is earlier (the store's clock; unknown: it stays)."""
        if older_than is not None:
            when = self._modified_now(name)
            if when is None or when >= older_than:
                return False
        if self.local:
            found = self.path(name).is_file()
            self.path(name).unlink(missing_ok=True)
            return found
        self._copy(name).unlink(missing_ok=True)
        found = self.exists(name)
        if found:
            self._call("remove", name, lambda fs, key, kw: fs.rm_file(key, **kw))
        return found

    def check(self) -> None:
        """JobError unless the store answers and its bucket (or top folder) exists."""
        if self.local:
            return
        top = self.url.split("://", 1)[1].split("/", 1)[0]
        try:
            self._call("reach", "", lambda fs, key, kw: fs.ls(f"{self.scheme}://{top}",
                                                              detail=False, **kw))
        except FileNotFoundError:
            raise self._no_bucket() from None

    def _no_bucket(self) -> JobError:
        top = self.url.split("://", 1)[1].split("/", 1)[0]
        return JobError(f"artifact store {self.url}: there is no bucket {top}; create it, "
                        "or set jobs.artifacts to one that exists")

    # -- plumbing -----------------------------------------------------------------------
    def _copy(self, name: str) -> Path:
        return self.copies / _checked(name)

    def _local_listing(self, prefix: str) -> Listing:
        root, listed = Path(self.url), []
        for folder, dirs, files in os.walk(root / prefix if prefix else root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for file in files:
                path = Path(folder) / file
                name = path.relative_to(root).as_posix()
                with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                    if _NAME.fullmatch(name):
                        info = path.stat()
                        listed.append(Listed(name, info.st_size, info.st_mtime))
        return listed

    def _modified_now(self, name: str) -> float | None:
        """The artifact's modification time now (None: gone, or not said)."""
        if self.local:
            try:
                return self.path(name).stat().st_mtime
            except FileNotFoundError:
                return None
        try:
            info = self._call("look up", name, lambda fs, key, kw: fs.info(
                key, refresh=True, **kw))
        except FileNotFoundError:
            return None
        return _modified(info)

    def _filesystem(self) -> Any:
        if self._fs is None:
            # its own instance (fsspec shares one per set of arguments): the AWS settings
            # of now, and the retries cut for this store only
            self._fs = bounded(filesystem_class(self.scheme)(**options(self.scheme),
                                                             skip_instance_cache=True))
        return self._fs

    def _call(self, what: str, name: str, call: Callable[[Any, str, dict[str, Any]], Any],
              nbytes: int = 0) -> Any:
        """call(fs, key, kw) with kw the deadline's keyword for fsspec's async
        filesystems (their sync methods take timeout=: the call is cancelled at it)."""
        key = f"{self.url}/{_checked(name)}" if name else self.url + "/"
        fs = self._filesystem()
        deadline = self.timeout + nbytes / MIN_RATE
        kw = {"timeout": deadline} if getattr(fs, "async_impl", False) else {}
        try:
            return call(fs, key, kw)
        except (FileNotFoundError, FileExistsError):
            raise
        except remote_errors(self.scheme) as exc:
            reason = remote_reason(exc)
            if reason == "timed out":
                reason = f"no answer within {deadline:.0f} s (jobs.store_timeout)"
            raise JobError(f"artifact store {self.url}: cannot {what} "
                           f"{name or 'its root'}: {reason}; check that it is up "
                           "and reachable (AWS_ENDPOINT_URL, credentials); the round resumes "
                           "on the next run") from None


def _modified(info: dict[str, Any]) -> float | None:
    """An fsspec info's modification time in unix seconds (s3fs: LastModified)."""
    for key in ("LastModified", "last_modified", "mtime", "created"):
        value = info.get(key)
        if isinstance(value, (datetime, int, float)):
            return value.timestamp() if isinstance(value, datetime) else float(value)
    return None


def _checked(name: str) -> str:
    """The name, when it is a relative path inside the store (JobError otherwise)."""
    if not _NAME.fullmatch(name):  # each part starts with a letter, digit or _: no ".."
        raise JobError(f"refused: artifact name {name!r} is not a plain relative path "
                       "inside the store")
    return name
