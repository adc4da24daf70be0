"""A project: its config and everything derived from it, built once per command.

    project = Project(cfg)
    with project.store() as store:            # the state file, a context manager
        pool = project.open_pool(store)        # the pool, its catalogue in that store
        project.executor.run(...)              # inline or RQ, connected once
        project.artifacts.publish(...)         # the artifact store, built once
        project.backend.project(...)           # the annotation backend, connected once

Commands build a Project from the loaded config and hand it down: the cycle, the job
kinds' controller side, the service and the reporting take it instead of a config from
which each would rebuild paths and handles. What it connects to (Redis, Label Studio) is
connected when first used, so `status` or `report` never touch a service they do not
need. Per-project memos (what was already published to the artifact store) live on the
object, not in module-level dicts.

This module is the only place that names the files of a work directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activelearn.config import Config
from activelearn.errors import StateError

if TYPE_CHECKING:
    from activelearn.annotation.backend import AnnotationBackend
    from activelearn.data.artifacts import ArtifactStore
    from activelearn.data.sources.base import Pool
    from activelearn.jobs.executor import Executor
    from activelearn.jobs.kinds.pretrain import Pretrained
    from activelearn.state import Store

STATE_FILE = "state.sqlite"
# state meta: the artifact name of the pretrained weights model.weights: pool stands for
PRETRAINED_KEY = "pretrained_weights"


def state_path(work_dir: Path | str) -> Path:
    """The state file of the work directory work_dir (the project's, or a simulate run's)."""
    return Path(work_dir) / STATE_FILE


@dataclass(frozen=True)
class WorkDirPaths:
    """The folders of a work directory that commands write, each named as its field:
    clean (`activelearn clean`'s CSV files), report (the report), simulate (simulate's
    default output), serve (`activelearn serve`'s cycle log and journal), backups (the
    backups an upgrade takes first, and the states a restore replaced). The caches are
    data.sources.cache_dir's; fetched artifacts, data.artifacts.ArtifactStore's."""

    clean: Path
    report: Path
    simulate: Path
    serve: Path
    backups: Path

    @classmethod
    def of(cls, root: Path) -> WorkDirPaths:
        return cls(**{f.name: root / f.name for f in dataclasses.fields(cls)})


class Project:
    """One project's config, paths and handles; see the module docstring."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        # what this process already published to the artifact store, by key
        # (jobs: the weights file, the catalogue snapshot of a generation)
        self.published: dict[tuple, str] = {}

    # -- paths ---------------------------------------------------------------------
    @property
    def work_dir(self) -> Path:
        return self.cfg.work_dir

    @property
    def state_path(self) -> Path:
        return state_path(self.work_dir)

    @property
    def cache_dir(self) -> Path:
        """The decoded cache and the embedding cache."""
        from activelearn.data.sources import cache_dir

        return cache_dir(self.cfg)

    @cached_property
    def paths(self) -> WorkDirPaths:
        """The other folders of the work directory."""
        return WorkDirPaths.of(self.work_dir)

    # -- handles -------------------------------------------------------------------
    @contextmanager
    def store(self, readonly: bool = False) -> Iterator[Store]:
        """The project's state, open for the with block (readonly: for readers beside a
        running cycle, such as status and serve; a state of an earlier schema is then
        refused with the command that upgrades it, and upgraded otherwise, after a backup
        into WORK_DIR/backups)."""
        from activelearn.errors import OutdatedStateError
        from activelearn.state import Store

        try:
            opened = Store.open(self.state_path, readonly=readonly,
                                backups=self.paths.backups)
        except OutdatedStateError as exc:
            raise OutdatedStateError(exc.path, exc.found, exc.needed, self.cfg.path) \
                from None
        with opened as store:
            yield store

    def has_state(self) -> bool:
        return self.state_path.exists()

    @cached_property
    def artifacts(self) -> ArtifactStore:
        """The controller's view of the artifact store: jobs.artifacts, else the work dir;
        remote artifacts are fetched into WORK_DIR/fetched."""
        from activelearn.data.artifacts import ArtifactStore

        return ArtifactStore.of_project(self.cfg.jobs.artifacts, self.work_dir,
                                        self.cfg.jobs.store_timeout)

    @cached_property
    def executor(self) -> Executor:
        """RQ when jobs.redis_url is set (connected and checked now), else inline."""
        from activelearn.jobs.executor import make_executor

        return make_executor(self.cfg.jobs)

    @cached_property
    def backend(self) -> AnnotationBackend:
        """The annotation backend (Label Studio at label_studio.url), connected when first
        used and kept."""
        return self.connect_backend()

    def connect_backend(self, timeout: float | None = None) -> AnnotationBackend:
        """A new connection to the annotation backend; timeout: the seconds one request
        may take (None: the client's default; serve's image fetches use a short one).
        The one place that names the concrete backend."""
        from activelearn.annotation.label_studio.client import LabelStudioBackend

        ls = self.cfg.label_studio
        if timeout is None:
            return LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
        return LabelStudioBackend.connect(ls.url, timeout=timeout)

    def connect(self) -> Executor:
        """Connect what a cycle needs, in this order: Redis (when configured), a remote
        artifact store, the annotation backend; an outage fails here, before any change.
        Returns the executor."""
        executor = self.executor
        self.artifacts.check()
        _ = self.backend
        return executor

    def open_pool(self, store: Store | None = None, **options: Any) -> Pool:
        """The project's pool, its catalogue in store (see data.sources.open_pool for the
        options: refresh, progress, build_cache)."""
        from activelearn.data.sources import open_pool

        return open_pool(self.cfg, store, **options)

    # -- model.weights: pool -------------------------------------------------------
    def use_weights(self, name: str) -> None:
        """model.weights from now on: the local path of the artifact `name` (fetched)."""
        path = self.artifacts.fetch(name)
        model = dataclasses.replace(self.cfg.model, weights=str(path))
        self.cfg = dataclasses.replace(self.cfg, model=model)

    def resolve_weights(self, store: Store, pool: Pool | None = None, progress: bool = True,
                        ready: bool = True) -> Pretrained | None:
        """The one place model.weights: pool becomes a file: the pretrained checkpoint
        state records (kept for the project's life, whatever joins the pool later), else
        (with the pool, once `ready`: the holdout is drawn, so its items stay out) the
        one pretrain made on the train split in store, recorded. Returns what was made or
        reused now (None: nothing to do, the recorded one, or not ready). Without the
        pool (a reader of the state, such as serve), StateError (one line) when nothing
        recorded is there to use: a cycle pretrains it."""
        if not self.cfg.model.pool_weights:
            return None
        recorded = store.meta.get(PRETRAINED_KEY)
        if recorded and self.artifacts.exists(recorded):
            self.use_weights(recorded)
            return None
        if pool is None:
            raise self._not_pretrained(recorded)
        if not ready:
            return None
        made = self.pretrain(store, pool, store.items.splits(), progress)
        store.meta.set(PRETRAINED_KEY, made.name)
        return made

    def _not_pretrained(self, recorded: str | None) -> StateError:
        if recorded:
            return StateError(f"model.weights: pool: the pool's pretrained weights "
                              f"{recorded} are missing from the artifact store "
                              f"({self.artifacts.url}); run `activelearn cycle` to "
                              "pretrain them again")
        return StateError("model.weights: pool: the pool is not pretrained yet; run "
                          "`activelearn cycle` first (its first round pretrains on the pool)")

    def pretrain(self, store: Store | None, pool: Pool, splits: dict[str, str],
                 progress: bool = True, restart: bool = False,
                 inline: bool = False) -> Pretrained:
        """Self-supervised pretraining on pool's train items (splits: item id -> split),
        reused when this pool and recipe were pretrained before; with model.weights: pool
        the project uses the result from now on. inline: in this process even with
        jobs.redis_url (simulate)."""
        from activelearn.jobs.executor import InlineExecutor
        from activelearn.jobs.kinds.pretrain import pretrain

        made = pretrain(self, store, pool, splits, progress, restart,
                        InlineExecutor() if inline else None)
        if self.cfg.model.pool_weights:
            self.use_weights(made.name)
        return made
