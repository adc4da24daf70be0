"""Linking a project's state to its Label Studio project (`activelearn init`), finding the
linked project again without changing anything (`activelearn bot`), and relinking after
the project was recreated or the server moved (`activelearn init --relink`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from activelearn.annotation import AnnotationBackend
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.errors import BackendError
from activelearn.learn.checkpoints import model_version
from activelearn.loop.pull import CURSOR_KEY
from activelearn.loop.push import TaskPusher
from activelearn.loop.review import push_reviews, review_specs
from activelearn.project import Project
from activelearn.state import ReviewState, Store

PROJECT_ID_KEY = "label_studio_project_id"
URL_KEY = "label_studio_url"


@dataclass
class LinkedProject:
    project_id: int
    how: str  # "found by stored id" | "found by title" | "created"


def init_project(backend: AnnotationBackend, store: Store, title: str, classes: list[str],
                 instructions: str, relink: bool = False) -> LinkedProject:
    """Find the Label Studio project by the id stored in state, else by title, else create
    it; record its id and the server URL in state. Running it again changes nothing.

    A project linked before that is gone (deleted, or the server moved) is not replaced
    silently, which would leave every waiting item without a task: that is a
    BackendError, unless relink, which links the project of this title on this server
    (made when missing) and forgets the old project's tasks (see forget_old_tasks); the
    waiting items are then pushed again (push.repush_pending)."""
    stored = store.meta.get(PROJECT_ID_KEY)
    linked = _find(backend, store, title)
    moved = stored is not None and (linked is None or linked.project_id != int(stored)
                                    or store.meta.get(URL_KEY) != backend.url)
    if moved and not relink:
        raise BackendError(
            f"the Label Studio project {stored} linked in state (at "
            f"{store.meta.get(URL_KEY)}) is gone from {backend.url}; run `activelearn init "
            "--relink` to link a new one and push the items still waiting to it again")
    if linked is None:
        linked = LinkedProject(backend.projects.ensure(title, classes, instructions), "created")
    else:
        backend.projects.check_classes(linked.project_id, classes)
    if moved:
        forget_old_tasks(store)
        linked = LinkedProject(linked.project_id, f"{linked.how}, relinked")
    store.meta.set(PROJECT_ID_KEY, str(linked.project_id))
    store.meta.set(URL_KEY, backend.url)
    return linked


def forget_old_tasks(store: Store) -> None:
    """After a relink: the old project's tasks of labelled items stay as history (marked
    deleted), those of items still waiting for a label are forgotten so they get a task
    again, unanswered review tasks are to be pushed again, and the pull starts over."""
    labelled = store.labels.current()
    tasks = store.tasks.by_item()
    store.tasks.mark_deleted([i for i in tasks if i in labelled])
    store.tasks.forget([i for i in store.tasks.by_item(include_deleted=True)
                        if i not in labelled])
    store.reviews.unpush_unanswered()
    store.meta.set(CURSOR_KEY, "")


def linked_project(project: Project) -> LinkedProject:
    """The annotation project `init_project` linked (the id stored in state, for this
    server), else the one with the configured title; a BackendError when there is none.
    Reads only: a missing state is not created."""
    backend, ls = project.backend, project.cfg.label_studio
    title = ls.project_title or project.cfg.project.name
    linked = None
    if project.has_state():
        with project.store(readonly=True) as store:
            linked = _find(backend, store, title)
    else:
        found = backend.projects.find(title)
        linked = LinkedProject(found, "found by title") if found is not None else None
    if linked is None:
        raise BackendError(f"no Label Studio project {title!r} at {backend.url}; "
                           "run activelearn init")
    return linked


def _find(backend: AnnotationBackend, store: Store, title: str) -> LinkedProject | None:
    """The project by the id stored in state (when it is for this server and still there),
    else by title; None when neither finds one."""
    stored = store.meta.get(PROJECT_ID_KEY)
    if stored is not None and store.meta.get(URL_KEY) == backend.url \
            and backend.projects.exists(int(stored)):
        return LinkedProject(int(stored), "found by stored id")
    # ensure_project finds by title itself; asking first only tells the user which it was
    existing = backend.projects.find(title)
    return LinkedProject(existing, "found by title") if existing is not None else None


def repush_pending(cfg: Config, store: Store, backend: AnnotationBackend, pool: Pool,
                   project_id: int, echo: Callable[[str], None]) -> int:
    """Push every batch item still waiting for a label that has no task, round by round,
    and the unanswered review tasks (after a relink), the new project's S3 storages
    connected first (image_mode s3-storage). Returns how many tasks it made."""
    before = len(store.tasks.by_item(include_deleted=True))
    pusher = TaskPusher(cfg, store, backend, pool, project_id, echo)
    pusher.connect_storages()  # also when nothing waits: a project found by title has tasks
    for round_ in sorted({b["round"] for b in store.batches.all()}):
        pusher.push(round_)
    made = len(store.tasks.by_item(include_deleted=True)) - before
    ls = cfg.label_studio
    for round_ in sorted({r["round"] for r in store.reviews.rows()
                          if r["state"] == ReviewState.SELECTED.value}):
        specs = review_specs(store.reviews.rows(round_), list(cfg.classes),
                             model_version(cfg.project.name, round_), pusher.image_of)
        made += push_reviews(backend, project_id, store, round_, specs, ls.import_chunk,
                             ls.max_overlap)
    return made
