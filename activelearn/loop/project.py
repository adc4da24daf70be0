"""Linking a project's state to its Label Studio project (`activelearn init`), and finding
the linked project again without changing anything (`activelearn bot`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.errors import BackendError
from activelearn.state import Store

PROJECT_ID_KEY = "label_studio_project_id"
URL_KEY = "label_studio_url"


@dataclass
class LinkedProject:
    project_id: int
    how: str  # "found by stored id" | "found by title" | "created"


def init_project(backend: LabelStudioBackend, store: Store, title: str, classes: list[str],
                 instructions: str) -> LinkedProject:
    """Find the Label Studio project by the id stored in state, else by title, else create
    it; record its id and the server URL in state. Running it again changes nothing."""
    linked = _find(backend, store, title)
    if linked is None:
        linked = LinkedProject(backend.ensure_project(title, classes, instructions), "created")
    else:
        backend.check_classes(linked.project_id, classes)
    store.meta.set(PROJECT_ID_KEY, str(linked.project_id))
    store.meta.set(URL_KEY, backend.url)
    return linked


def linked_project(backend: LabelStudioBackend, state_path: Path, title: str) -> LinkedProject:
    """The project `init_project` linked (the id stored in state, for this server), else
    the one with this title; a BackendError when there is none. Reads only: a missing
    state is not created."""
    linked = None
    if state_path.exists():
        with Store.open(state_path, readonly=True) as store:
            linked = _find(backend, store, title)
    else:
        found = backend.find_project(title)
        linked = LinkedProject(found, "found by title") if found is not None else None
    if linked is None:
        raise BackendError(f"no Label Studio project {title!r} at {backend.url}; "
                           "run activelearn init")
    return linked


def _find(backend: LabelStudioBackend, store: Store, title: str) -> LinkedProject | None:
    """The project by the id stored in state (when it is for this server and still there),
    else by title; None when neither finds one."""
    stored = store.meta.get(PROJECT_ID_KEY)
    if stored is not None and store.meta.get(URL_KEY) == backend.url \
            and backend.project_exists(int(stored)):
        return LinkedProject(int(stored), "found by stored id")
    # ensure_project finds by title itself; asking first only tells the user which it was
    existing = backend.find_project(title)
    return LinkedProject(existing, "found by title") if existing is not None else None
