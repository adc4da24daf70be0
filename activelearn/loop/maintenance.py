"""A project's upkeep: upgrading its state to this release's schema, backing it up while
it is in use, and restoring a backup (`activelearn upgrade`, `backup`, `restore`).

A backup folder holds a consistent copy of the state (SQLite's online backup API: the
state as of one commit, even while a cycle writes), the models the state names (each
round's checkpoint and metrics, the pool's pretrained weights) copied out of the
artifact store, and a manifest with their sha256 (state.backup). A restore verifies all
of it before it changes anything, refuses while a cycle runs, puts the models back into
the artifact store first and then the state in one rename; the state it replaces is
kept in WORK_DIR/backups/replaced-TIME.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from activelearn.errors import StateError
from activelearn.learn.checkpoints import checkpoint_name, metrics_name
from activelearn.loop.lock import CYCLE_LOCK, is_stale
from activelearn.project import PRETRAINED_KEY, Project
from activelearn.state import (
    Backup,
    Store,
    Upgraded,
    copy_to,
    install,
    named_models,
    read_backup,
    read_holder,
)
from activelearn.state.backup import ARTIFACTS, write_manifest


@dataclass
class Restored:
    """What a restore did."""

    backup: Backup
    models: int  # model files put back into the artifact store
    replaced: Path | None  # where the state it replaced was kept


@dataclass
class BackedUp:
    """What a backup wrote."""

    backup: Backup
    state_bytes: int
    missing: list[str] = field(default_factory=list)  # models the state names, not found


def refuse_running(path: Path, doing: str) -> None:
    """StateError when a live cycle holds the project's lock (a damaged state has no
    readable lock: nobody can be running on it)."""
    try:
        holder = read_holder(path, CYCLE_LOCK)
    except StateError:
        return
    if holder is not None and not is_stale(holder):
        raise StateError(f"{path}: a cycle is running (pid {holder.pid} on {holder.host}); "
                         f"{doing} when it has ended (stop serve and the cron job first)")


def check_state(project: Project) -> None:
    """StateError (one line) now when this release cannot read the project's state
    (an earlier schema: naming `activelearn upgrade`): what a command that only reads
    checks before it writes anything of its own (report, serve)."""
    if project.has_state():
        with project.store(readonly=True):
            pass


def upgrade_state(project: Project) -> None:
    """Bring a state of an earlier schema to this release's (a backup first, one warning
    line): what a command that writes the state but reads it first does before."""
    if project.has_state():
        with project.store():
            pass


def upgrade_project(project: Project, backup_dir: Path | None = None) -> Upgraded | None:
    """Upgrade the project's state to this release's schema after a backup into
    backup_dir (default WORK_DIR/backups); None when it was current already."""
    path = project.state_path
    if not path.is_file():
        raise StateError(f"{path}: no state here, nothing to upgrade; check project.work_dir")
    refuse_running(path, "upgrade")
    with Store.open(path, backups=backup_dir or project.paths.backups,
                    announce=False) as store:
        return store.upgraded


def backup_project(project: Project, out: Path) -> BackedUp:
    """Back the project up into the new folder out (see the module). The folder appears
    whole or not at all: it is written under a temporary name and renamed."""
    path = project.state_path
    if not path.is_file():
        raise StateError(f"{path}: no state here, nothing to back up; check "
                         "project.work_dir")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StateError(f"{out}: exists and is not an empty folder; name a new folder for "
                         "the backup")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise StateError(f"{out}: cannot write the backup there ({exc.strerror}); name a "
                         "writable folder") from None
    try:
        version = copy_to(path, tmp / path.name)
        names, missing = _copy_models(project, tmp / path.name, tmp / ARTIFACTS)
        written = write_manifest(tmp, path.name, version, names, missing)
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = Backup(out, written.state, version, written.artifacts, written.created_at,
                    written.release)
    return BackedUp(backup, backup.state_file.stat().st_size, missing)


def _copy_models(project: Project, copy: Path, into: Path) -> tuple[list[str], list[str]]:
    """Copy the artifacts the state copy names into the folder into; returns the names
    copied and the names missing from the artifact store."""
    versions, meta = named_models(copy)
    wanted = [name for v in versions for name in (checkpoint_name(v), metrics_name(v))]
    if meta.get(PRETRAINED_KEY):
        wanted.append(meta[PRETRAINED_KEY])
    copied, missing = [], []
    for name in wanted:
        if not project.artifacts.exists(name):
            missing.append(name)
            continue
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.artifacts.fetch(name), target)
        copied.append(name)
    return copied, missing


def restore_project(project: Project, folder: Path, force: bool = False) -> Restored:
    """Restore the backup in folder into the project (see the module). Refused, with
    nothing changed, when the backup does not verify, a cycle holds the lock, or a state
    is there and not force."""
    backup = read_backup(folder)
    live = project.state_path
    aside = None
    if live.exists():
        refuse_running(live, "restore")
        if not force:
            raise StateError(f"{live}: a state is here already; `restore --force` replaces "
                             f"it (the current one is kept in {project.paths.backups})")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        aside = project.paths.backups / f"replaced-{stamp}-{os.getpid()}"
    live.parent.mkdir(parents=True, exist_ok=True)  # a new machine: no work dir yet
    models = 0
    for name in backup.artifacts:  # first: the state never names a model not there
        if not project.artifacts.exists(name):
            project.artifacts.publish(name, _copier(backup.artifact_file(name)))
            models += 1
    install(backup.state_file, live, aside)
    return Restored(backup, models, aside)


def _copier(source: Path) -> Callable[[Path], object]:
    """A publish() writer that copies source."""
    return lambda tmp: shutil.copyfile(source, tmp)
