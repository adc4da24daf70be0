"""A worker's scratch folder kept flat: the copies of remote artifacts it fetched (and of
those it published) are removed once the store no longer has them (the controller's
retention removed them, see loop/retention.py).

    pruner = ScratchPruner.from_environment()    # in the worker, after run_worker's setup
    pruner.after_job()                           # after each job: cheap, lists rarely

A remote store's copies lie in SCRATCH/fetched/<digest of its URL>/NAME
(ArtifactStore.copies). After each job the pruner looks, locally, for a new model
checkpoint among them (a new round reached this worker: the store has just been pruned)
and otherwise counts jobs; on either a new model or every `every` jobs it lists each
store this worker serves once and removes the copies of names the store no longer
holds, along with writers' temporary files left by a killed process. A copy written
after the listing began is never removed (a job of another process may have just
fetched it). The decoded cache (SCRATCH/decoded) has its own bound (--cache-size) and is
not touched here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from activelearn.config.service_checks import mask_password
from activelearn.data.artifacts import TIMEOUT_S, ArtifactStore
from activelearn.errors import ActiveLearnError

log = logging.getLogger("activelearn.scratch")

EVERY_JOBS = 50  # jobs between two listings of the stores, without a new model
STALE_TEMP = 3600.0  # seconds: a writer's temporary file older than this was abandoned


def prune_copies(store: ArtifactStore, present: Iterable[str],
                 before: float | None = None) -> tuple[int, int]:
    """Remove the store's local copies (store.copies) whose names are not in `present`
    (what a listing of the store showed), written before `before` (unix seconds; None:
    any), and temporary files older than STALE_TEMP; empty folders go too. Returns
    (files, bytes) removed."""
    root = store.copies
    keep = set(present)
    files = freed = 0
    now = time.time()
    for folder, _dirs, names in os.walk(root, topdown=False):
        for file in names:
            path = Path(folder) / file
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            name = path.relative_to(root).as_posix()
            if file.startswith("."):  # a download or upload in progress, or abandoned
                gone = info.st_mtime < now - STALE_TEMP
            else:
                gone = name not in keep and (before is None or info.st_mtime < before)
            if gone:
                path.unlink(missing_ok=True)
                files, freed = files + 1, freed + info.st_size
        if Path(folder) != root:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty
    return files, freed


def folder_bytes(path: Path) -> int:
    """The bytes of the files under a folder (0 when there is none)."""
    total = 0
    for folder, _dirs, names in os.walk(path):
        for file in names:
            try:
                total += (Path(folder) / file).stat().st_size
            except FileNotFoundError:
                continue
    return total


class ScratchPruner:
    """Prunes a worker's fetched copies after its jobs; see the module.

    scratch: the worker's --scratch folder; stores: the remote store URLs it serves (its
    --artifacts, credentials included: they are only used to list); every: jobs between
    two listings when no new model appeared."""

    def __init__(self, scratch: Path, stores: Iterable[str], every: int = EVERY_JOBS,
                 timeout: float | None = None) -> None:
        self.every = max(1, every)
        made = [ArtifactStore(url.rstrip("/"), Path(scratch), timeout or TIMEOUT_S)
                for url in stores if url]
        self.stores = [s for s in made if not s.local]
        self.jobs = 0
        self.models: set[str] = set()
        self.warned = False

    @classmethod
    def from_environment(cls) -> ScratchPruner:
        """The pruner of the worker this process runs (run_worker's environment: its
        scratch folder and the stores it serves)."""
        from activelearn.jobs.inputs import ARTIFACTS_ENV, SCRATCH_ENV

        scratch = os.environ.get(SCRATCH_ENV) or "."
        return cls(Path(scratch), os.environ.get(ARTIFACTS_ENV, "").splitlines())

    def after_job(self) -> tuple[int, int]:
        """Count a job; when due (see the module), prune. Returns (files, bytes) removed.
        A store that cannot be listed is said once in the log and tried again later:
        pruning never fails a worker."""
        self.jobs += 1
        models = {str(p) for s in self.stores for p in (s.copies / "models").glob("*.pt")}
        fresh = bool(models - self.models)
        self.models = models
        if not self.stores or not (fresh or self.jobs >= self.every):
            return 0, 0
        self.jobs = 0
        return self.prune()

    def prune(self) -> tuple[int, int]:
        """List every store now and remove the copies of what it no longer holds."""
        files = freed = 0
        for store in self.stores:
            started = time.time()
            try:
                present = {a.name for a in store.list()}
                n, size = prune_copies(store, present, before=started)
            except (ActiveLearnError, OSError) as exc:
                if not self.warned:
                    log.warning("scratch: cannot prune the copies of %s (%s); trying "
                                "again later", mask_password(store.url), exc)
                    self.warned = True
                continue
            files, freed = files + n, freed + size
        if files:
            log.info("scratch: removed %d fetched copies (%d bytes) the stores no longer "
                     "hold", files, freed)
        return files, freed
