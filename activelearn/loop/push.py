"""The task pusher: a round's batches go to Label Studio as tasks, idempotently.

Each task carries its image (label_studio.image_mode), the item id, round, strategy,
score and kind in its data, and the model's suggestion as a prediction, so Label
Studio's uncertainty sampling serves the least confident first (unless
label_studio.show_predictions is false: then no prediction, and views sort on the
score). Label Studio is asked
which items already have tasks before the first import, so a push repeated after a
crash creates nothing twice; the tasks' overlap (how many annotators see each) is
lowered where a task wants fewer annotations than the project's maximum.

In local-files mode (LocalFiles) every pool path is resolved once, symlinks followed,
and checked against the resolved document root before anything is recorded; the task
URLs and the folders connected as Local Files storages come from the same resolved
paths, so a file that passes the check is one Label Studio serves.

In url mode a pool of remote images goes by URL: an http(s):// URI as it is, an s3://
URI presigned here at push time (label_studio.presign_expiry), since the annotators'
browsers fetch the image themselves and hold no AWS keys. Local files cannot be
fetched by a browser: check_image_mode refuses them and names local-files.

In s3-storage mode a task holds its s3:// URI as it is, and Label Studio signs it each
time the task is shown, through an S3 storage of the project (s3_storage.py) connected
before the first task of the pusher's first push: a storage Label Studio refuses fails
the push before any task is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property

from activelearn.annotation import AnnotationBackend, Suggestion, TaskSpec
from activelearn.annotation.label_studio import (
    aws_keys,
    image_reference,
    local_files_relative,
    local_files_url,
)
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.data.uris import UnusableImage, presigned_url, scheme_of
from activelearn.errors import ConfigError
from activelearn.failpoints import failpoint
from activelearn.kinds import BatchKind
from activelearn.loop.relabel import apply_relabels
from activelearn.loop.s3_storage import connect_storages, s3_problem
from activelearn.quality.overlap import task_overlap
from activelearn.state import Store

QUERY_KINDS = (BatchKind.QUERY.value, BatchKind.GOLD.value)
URL_SCHEMES = ("http", "https", "s3")  # what image_mode url can give Label Studio


class TaskPusher:
    """Pushes the batches of a project's rounds to its Label Studio project."""

    def __init__(self, cfg: Config, store: Store, backend: AnnotationBackend, pool: Pool,
                 project_id: int, echo: Callable[[str], None]) -> None:
        self.cfg, self.store, self.backend, self.pool = cfg, store, backend, pool
        self.project_id, self.echo = project_id, echo
        self.position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
        self._storages_connected = False

    def push(self, round_: int) -> None:
        """Import tasks for the round's batch members that have none, then raise the
        overlap of this round's relabel requests."""
        ls = self.cfg.label_studio
        if ls.image_mode == "local-files" and self.pool.paths:
            self._connect_folders()
        self.connect_storages()
        tasked = self.store.tasks.by_item(include_deleted=True)
        listed: dict[str, int] | None = None  # the project's tasks, listed at the first push
        for batch in self.store.batches.all(round_):
            members = self.store.batches.items(batch["batch_id"])
            items = [(i, s) for i, s in members if i not in tasked]
            if not items:
                continue
            specs = self._task_specs(round_, batch, items)
            failpoint("push:before-import")
            if listed is None:
                listed = self.backend.tasks.keys(self.project_id)
            task_ids = self.backend.tasks.push(self.project_id, specs, ls.import_chunk, listed)
            failpoint("push:imported")  # the crash between import and bookkeeping
            self.store.tasks.record(batch["batch_id"], round_, task_ids)
            self._set_overlap(batch, members, task_ids)
            if batch["model_version"] and batch["kind"] == BatchKind.QUERY.value \
                    and ls.show_predictions:  # a version no prediction carries is refused
                self.backend.projects.set_model_version(self.project_id, batch["model_version"])
            self.echo(f"  pushed {len(task_ids)} {batch['kind']} tasks: "
                      f"{self.backend.url}/projects/{self.project_id}/data")
        reopened = apply_relabels(self.store, self.backend, round_)
        if reopened:
            self.echo(f"  raised the overlap of {reopened} disputed tasks by one")

    def connect_storages(self) -> None:
        """With image_mode s3-storage, connect (or refresh) the project's S3 storages,
        once per pusher (one per cycle); nothing otherwise."""
        if self.cfg.label_studio.image_mode == "s3-storage" and not self._storages_connected:
            connect_storages(self.cfg.label_studio, self.backend, self.project_id,
                             self.pool.paths or [], self.echo)
            self._storages_connected = True

    @cached_property
    def local_files(self) -> LocalFiles:
        """The pool's files resolved against label_studio.document_root, once a pusher."""
        return LocalFiles(self.cfg.label_studio.document_root, self.pool.paths)

    def image_of(self, item_id: str) -> str:
        """The task image reference of an item (label_studio.image_mode)."""
        ls, pos = self.cfg.label_studio, self.position[item_id]
        if ls.image_mode == "local-files":
            return self.local_files.url(pos)
        if ls.image_mode == "url":
            return image_reference("url", item_id, path=self._remote_url(pos))
        if ls.image_mode == "s3-storage":  # signed by Label Studio's storage when shown
            return self.pool.paths[pos]
        return image_reference(
            ls.image_mode, item_id, path=self.pool.paths[pos] if self.pool.paths else "",
            image=self.pool.images[pos].numpy() if ls.image_mode == "data-uri" else None,
            document_root=ls.document_root, url_template=ls.url_template)

    def _remote_url(self, position: int) -> str:
        """The http(s) URL of a remote pool image: its URI, or an s3:// one presigned."""
        uri = self.pool.paths[position]
        if scheme_of(uri) != "s3":
            return uri
        try:
            return presigned_url(uri, self.cfg.label_studio.presign_expiry)
        except UnusableImage as exc:  # the AWS settings changed since check_image_mode
            raise ConfigError(f"{self.cfg.path}: label_studio.image_mode: url: {uri} "
                              f"cannot be presigned: {exc}") from None

    def _connect_folders(self) -> None:
        """Connect a Local Files storage for each of the narrowest folders that hold the
        pool's files (Label Studio serves a file only from under a storage's folder)."""
        local = self.local_files
        problem = local.problem()
        if problem:  # a file moved or relinked since check_image_mode
            raise ConfigError(f"{self.cfg.path}: label_studio.document_root: {problem}")
        for folder in local.folders():
            self.backend.projects.ensure_local_storage(self.project_id, folder)

    def _task_specs(self, round_: int, batch: dict, items: list[tuple[str, float]]
                    ) -> list[TaskSpec]:
        # the suggestions stay in state (the report's model agreement) when not shown
        suggested = self.store.batches.suggestions(batch["batch_id"]) \
            if self.cfg.label_studio.show_predictions else {}
        classes, specs = self.cfg.classes, []
        for item_id, score in items:
            guess = suggested.get(item_id)
            specs.append(TaskSpec(
                item_id=item_id, image=self.image_of(item_id), round=round_,
                strategy=batch["strategy"],
                score=score if batch["kind"] in QUERY_KINDS else None,
                # a gold task must look like the query tasks around it
                kind=BatchKind.QUERY.value if batch["kind"] in QUERY_KINDS else batch["kind"],
                suggestion=Suggestion(classes[guess[0]], guess[1], batch["model_version"])
                if guess else None))
        return specs

    def _set_overlap(self, batch: dict, members: list[tuple[str, float]],
                     task_ids: dict[str, int]) -> None:
        """Lower the overlap of the batch's tasks that want fewer annotations than the
        project's maximum (Label Studio imports every task with the maximum).
        members: the batch's (item_id, score), best first (store.batches.items)."""
        ls = self.cfg.label_studio
        ranks = {item_id: rank for rank, (item_id, _) in enumerate(members)}
        wanted: dict[int, list[int]] = {}
        for item_id, task_id in task_ids.items():
            n = task_overlap(batch["kind"], ranks.get(item_id, 0), len(ranks), ls.overlap,
                             ls.overlap_fraction, ls.holdout_overlap)
            if n != ls.max_overlap:
                wanted.setdefault(n, []).append(task_id)
        for n, tasks in wanted.items():
            self.backend.tasks.set_overlap(tasks, n)


def check_image_mode(cfg: Config, pool: Pool) -> None:
    """ConfigError when label_studio.image_mode cannot work with this pool: file modes
    need image files, local-files needs every one of them (symlinks followed) inside
    label_studio.document_root, in a folder below it, url needs every one to be an
    http(s):// or s3:// URI, and the s3:// ones to be presignable (AWS settings),
    s3-storage every one to be an s3:// URI (and the AWS keys to hand over set:
    BackendAuthError otherwise)."""
    ls = cfg.label_studio
    if ls.image_mode == "data-uri":
        return
    if not pool.paths:
        raise ConfigError(f"{cfg.path}: label_studio.image_mode: {ls.image_mode} "
                          f"needs image files, and the {cfg.data.source} source has "
                          "none; use data-uri")
    if ls.image_mode == "local-files":
        problem = LocalFiles(ls.document_root, pool.paths).problem()
        if problem:
            raise ConfigError(f"{cfg.path}: label_studio.document_root: {problem}")
    if ls.image_mode == "url":
        problem = url_problem(pool.paths, ls.presign_expiry)
        if problem:
            raise ConfigError(f"{cfg.path}: label_studio.image_mode: url: {problem}")
    if ls.image_mode == "s3-storage":
        problem = s3_problem(pool.paths)
        if problem:
            raise ConfigError(f"{cfg.path}: label_studio.image_mode: s3-storage: {problem}")
        if ls.storage_credentials == "environment":
            aws_keys()  # none set: one line now, before the round changes anything


def url_problem(paths: Sequence[str], presign_expiry: int) -> str | None:
    """Why image_mode url cannot give Label Studio these images, one line naming the
    first and how many; None when it can. One s3:// URI is presigned (no request to the
    server): what fails for one, missing credentials, fails for all."""
    schemes = [scheme_of(uri) for uri in paths]
    local = [i for i, scheme in enumerate(schemes) if scheme == "file"]
    if local:
        return (f"{len(local):,} of {len(paths):,} images are local files, the first "
                f"{paths[local[0]]}; an annotator's browser cannot fetch a file of this "
                "machine by URL: use image_mode local-files (with document_root) for "
                "local images")
    other = [i for i, scheme in enumerate(schemes) if scheme not in URL_SCHEMES]
    if other:
        return (f"{len(other):,} of {len(paths):,} images have a URI scheme url cannot "
                f"give Label Studio, the first {paths[other[0]]}; url takes http://, "
                "https:// and s3:// URIs")
    s3 = next((i for i, scheme in enumerate(schemes) if scheme == "s3"), None)
    if s3 is not None:
        try:
            presigned_url(paths[s3], presign_expiry)
        except UnusableImage as exc:
            return f"{paths[s3]} cannot be presigned: {exc}"
    return None


class LocalFiles:
    """A pool's image files as Label Studio serves them in local-files mode.

    Each path is resolved once (symlinks followed, as the server opens the file) and
    taken relative to the resolved document root: the check (problem), the task URLs
    (url) and the storage folders (folders) all read these, so they cannot disagree.
    paths: per pool position, as the source gave them."""

    def __init__(self, document_root: str, paths: Sequence[str]) -> None:
        # The server joins a URL's path to its document root as its settings spell it,
        # and compares storage folders with that spelling: the folders use it too.
        self.document_root = os.path.abspath(document_root)
        self.real_root = os.path.realpath(document_root)
        self.paths = paths
        self.real_paths = resolve_paths(paths)
        self.relative = [local_files_relative(p, self.real_root) for p in self.real_paths]

    def problem(self) -> str | None:
        """Why some files cannot be served, one line naming the first and how many;
        None when every file can be."""
        outside = [i for i, rel in enumerate(self.relative) if rel is None]
        if outside:
            return (f"{len(outside):,} of {len(self.paths):,} images are not inside "
                    f"{self._root()} (symlinks followed), the first "
                    f"{self._shown(outside[0])}; set document_root to a folder that holds "
                    "every image, or move the images under it")
        # Label Studio refuses a storage on its document root itself (a security rule)
        direct = [i for i, rel in enumerate(self.relative) if rel and os.sep not in rel]
        if direct:
            return (f"{len(direct):,} of {len(self.paths):,} images lie directly in "
                    f"{self._root()}, the first {self._shown(direct[0])}; Label Studio "
                    "serves local files only from folders below its document root: move "
                    "them into a folder, or set document_root to a folder above")
        return None

    def url(self, position: int) -> str:
        """The task URL of the file at a pool position."""
        relative = self.relative[position]
        if relative is None:
            raise ValueError(f"{self.paths[position]} is outside document_root "
                             f"{self.document_root}")
        return local_files_url(relative)

    def folders(self) -> list[str]:
        """The folders to connect as storages, as the server spells them (storage_folders
        of the files inside the document root)."""
        return storage_folders(os.path.join(self.document_root, rel)
                               for rel in self.relative if rel is not None)

    def _root(self) -> str:
        if self.real_root == self.document_root:
            return self.document_root
        return f"{self.document_root} (resolved: {self.real_root})"

    def _shown(self, position: int) -> str:
        path, real = self.paths[position], self.real_paths[position]
        return path if os.path.abspath(path) == real else f"{path} -> {real}"


def resolve_paths(paths: Iterable[str]) -> list[str]:
    """os.path.realpath of each path, a folder resolved once: a pool has few folders
    and many files, so a file costs one lstat (is it a symlink?) instead of one per
    folder of its path (200,000 files: 0.7 s instead of 3.3 s)."""
    folders: dict[str, str] = {}
    resolved = []
    for path in paths:
        head, name = os.path.split(path)
        if name in ("", os.curdir, os.pardir):
            resolved.append(os.path.realpath(path))
            continue
        real_head = folders.get(head)
        if real_head is None:
            real_head = folders[head] = os.path.realpath(head or os.curdir)
        real = os.path.join(real_head, name)
        resolved.append(os.path.realpath(real) if os.path.islink(real) else real)
    return resolved


def storage_folders(files: Iterable[str]) -> list[str]:
    """The distinct folders holding the files, none inside another kept one (a/b and
    a/b/c -> a/b; a/b and a/c stay two), sorted. files: normalised paths.

    Sorted by their parts, a folder's subfolders come right after it (a plain string
    sort would put a/b-c between a/b and a/b/c), so one sweep against the last kept
    folder drops every folder that a kept one holds."""
    parents = sorted({os.path.dirname(f) for f in files}, key=lambda d: d.split(os.sep))
    kept: list[str] = []
    for folder in parents:
        if kept and _holds(kept[-1], folder):
            continue
        kept.append(folder)
    return kept


def _holds(folder: str, other: str) -> bool:
    """Whether other is folder or lies inside it (normalised paths)."""
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    return other == folder or other.startswith(prefix)
