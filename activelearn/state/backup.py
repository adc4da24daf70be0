"""Backups of the state: a consistent copy taken while the state is in use, the backup
folder's manifest with checksums, its verification, and putting a copy in place.

    folder/
        manifest.json          format, release, schema version, sha256 of every file
        state.sqlite           the copy (the live file's name), one self-contained file
        artifacts/models/...   the models the state names (added by the project's backup)

The copy is made with SQLite's online backup API in one step, under one read
transaction: it is the state as of one commit, even while a cycle writes (WAL readers
do not block the writer), never a torn file. It is checked (PRAGMA integrity_check)
before the manifest names it. A backup is read back only after every checksum and the
copy's integrity were verified, so nothing is replaced by a damaged or tampered copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from activelearn import __version__
from activelearn.errors import StateError
from activelearn.files import write_text
from activelearn.state.schema import SCHEMA_VERSION

MANIFEST = "manifest.json"
FORMAT = "activelearn-backup/1"
ARTIFACTS = "artifacts"  # the folder of the models' files inside a backup


@dataclass(frozen=True)
class Backup:
    """A verified backup folder (see the module)."""

    folder: Path
    state: str  # the copy's file name in folder
    schema_version: int
    artifacts: tuple[str, ...]  # artifact names; their files are under folder/artifacts
    created_at: str
    release: str

    @property
    def state_file(self) -> Path:
        return self.folder / self.state

    def artifact_file(self, name: str) -> Path:
        return self.folder / ARTIFACTS / name


def copy_state(db: sqlite3.Connection, target: Path, source: Path | None = None) -> int:
    """Copy the open state db (the file source, for the messages) into the new file
    target (see the module); returns the copy's schema version. StateError when the
    copy is not sound."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        copy = sqlite3.connect(tmp)
        try:
            db.backup(copy)  # every page in one step: a single read transaction
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            version = _sound(copy, target, "the state itself is damaged; restore an "
                             "earlier backup")
        finally:
            copy.close()
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        if any(w in str(exc) for w in ("not a database", "malformed", "corrupt")):
            raise StateError(f"{source or target}: damaged ({exc}); restore an earlier "
                             "backup") from None
        raise StateError(f"{target}: the copy of the state failed ({exc}); check the "
                         "folder and free space, then run again") from None
    finally:
        tmp.unlink(missing_ok=True)
    return version


def _sound(db: sqlite3.Connection, where: Path, fix: str = "use another backup") -> int:
    """The schema version of a state copy that passes PRAGMA integrity_check."""
    problems = [r[0] for r in db.execute("PRAGMA integrity_check(3)")]
    if problems != ["ok"]:
        detail = " ".join("; ".join(map(str, problems)).split())[:160]
        raise StateError(f"{where}: the state copy is damaged ({detail}); {fix}")
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return 1 if row is None else int(row[0])  # none: an early release's first open
    except (sqlite3.Error, ValueError):
        raise StateError(f"{where}: not an activelearn state (no schema version)") from None


def digest(path: Path) -> str:
    """The sha256 of a file, in hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def write_manifest(folder: Path, state: str, schema_version: int,
                   artifacts: list[str], missing: list[str] | None = None) -> Backup:
    """Write folder/manifest.json naming the state copy and the artifacts' files (already
    in folder) with their checksums; the last file written, so a folder without it is
    not a backup."""
    files = [state] + [f"{ARTIFACTS}/{name}" for name in artifacts]
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest = {"format": FORMAT, "created_at": created, "release": __version__,
                "schema_version": schema_version, "state": state,
                "artifacts": artifacts, "missing_artifacts": missing or [],
                "files": {rel: {"sha256": digest(folder / rel),
                                "bytes": (folder / rel).stat().st_size} for rel in files}}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return Backup(folder, state, schema_version, tuple(artifacts), created, __version__)


def snapshot(db: sqlite3.Connection, state_name: str, folder: Path) -> Backup:
    """A backup of the state alone (what an upgrade takes first) in the new folder."""
    folder.mkdir(parents=True, exist_ok=False)
    try:
        version = copy_state(db, folder / state_name)
        return write_manifest(folder, state_name, version, [])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half backup left to mistake
        raise


def read_backup(folder: Path) -> Backup:
    """The backup in folder after verifying it: the manifest, every file's sha256, the
    state copy's integrity and a schema this release reads. StateError (one line) naming
    what is wrong; nothing is written."""
    manifest = _manifest(folder)
    files = manifest["files"]
    for rel, entry in files.items():
        path = folder / _safe(folder, rel)
        if not path.is_file() or path.is_symlink():
            raise StateError(f"{folder}: {rel} is missing from the backup; use another "
                             "backup")
        if not isinstance(entry, dict) or digest(path) != entry.get("sha256"):
            raise StateError(f"{folder}: {rel} does not match its checksum in {MANIFEST} "
                             "(changed or damaged); use another backup")
    state, artifacts = manifest["state"], manifest["artifacts"]
    if state not in files or any(f"{ARTIFACTS}/{a}" not in files for a in artifacts):
        raise StateError(f"{folder}: {MANIFEST} names files without checksums; not a "
                         "backup activelearn wrote")
    version = check_copy(folder / state)
    if version > SCHEMA_VERSION:
        raise StateError(f"{folder}: the backup's state is schema {version}, newer than "
                         f"this release's {SCHEMA_VERSION}; restore it with the release "
                         f"that made it ({manifest.get('release')})")
    return Backup(folder, state, version, tuple(artifacts),
                  str(manifest.get("created_at")), str(manifest.get("release")))


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise StateError(f"{folder}: no backup folder here; name a folder `activelearn "
                         "backup` wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise StateError(f"{folder}: no readable {MANIFEST}: not a backup activelearn "
                         "wrote (or a damaged one); name another folder") from None
    ok = (isinstance(manifest, dict) and manifest.get("format") == FORMAT
          and isinstance(manifest.get("files"), dict)
          and isinstance(manifest.get("state"), str)
          and isinstance(manifest.get("artifacts"), list)
          and all(isinstance(a, str) for a in manifest["artifacts"]))
    if not ok:
        raise StateError(f"{folder}: {MANIFEST} is not an activelearn backup manifest "
                         f"({FORMAT}); name another folder")
    return manifest


def _safe(folder: Path, rel: object) -> str:
    """A manifest path that stays inside the backup folder."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel \
            or ".." in PurePosixPath(rel).parts:
        raise StateError(f"{folder}: {MANIFEST} names a file outside the backup "
                         f"({str(rel)[:80]!r}); not a backup activelearn wrote")
    return rel


def check_copy(path: Path) -> int:
    """The schema version of the state copy at path (read without writing anything)
    after PRAGMA integrity_check; StateError when it is damaged or not a state."""
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1",
                             uri=True)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot be read ({exc})") from None
    try:
        return _sound(db, path)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: the state copy is damaged ({exc}); use another "
                         "backup") from None
    finally:
        db.close()


def install(copy: Path, live: Path, aside: Path | None) -> None:
    """Put the verified state copy in place of the state file live, atomically (a rename
    in live's folder): live and its -wal/-shm files are first moved into the folder
    aside (kept; None: there is no live state), and the copy's lock rows are cleared
    (the processes they name are not running this state; a state of an early schema 1,
    such as an upgrade's backup of one, has no locks table yet)."""
    tmp = live.with_name(f".{live.name}.{os.getpid()}.restore")
    try:
        shutil.copyfile(copy, tmp)
        db = sqlite3.connect(tmp)
        try:
            with db:
                if db.execute("SELECT 1 FROM sqlite_master WHERE type='table'"
                              " AND name='locks'").fetchone():
                    db.execute("DELETE FROM locks")
        finally:
            db.close()
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        if aside is not None:
            aside.mkdir(parents=True, exist_ok=False)
            for suffix in ("", "-wal", "-shm"):  # a WAL left beside would be replayed
                old = live.with_name(live.name + suffix)
                if old.exists():
                    os.replace(old, aside / old.name)
        os.replace(tmp, live)
    except sqlite3.Error as exc:
        raise StateError(f"{live}: the restore failed ({exc}); nothing was replaced") \
            from None
    finally:
        tmp.unlink(missing_ok=True)


def named_models(copy: Path) -> tuple[list[str], dict[str, str]]:
    """What a state copy names: the model versions its rounds trained, oldest first, and
    its meta facts (key -> value)."""
    db = sqlite3.connect(f"file:{quote(str(copy.resolve()))}?mode=ro&immutable=1", uri=True)
    try:
        versions = [r[0] for r in db.execute(
            "SELECT model_version FROM rounds WHERE model_version IS NOT NULL"
            " GROUP BY model_version ORDER BY MIN(round)")]
        return versions, dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as exc:
        raise StateError(f"{copy}: the state copy cannot be read ({exc})") from None
    finally:
        db.close()
