"""Linking a project's state to its Label Studio project (`activelearn init`)."""

from __future__ import annotations

from dataclasses import dataclass

from activelearn.annotation.label_studio.client import LabelStudioBackend
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
    stored = store.get_meta(PROJECT_ID_KEY)
    if stored is not None and store.get_meta(URL_KEY) == backend.url \
            and backend.project_exists(int(stored)):
        backend.check_classes(int(stored), classes)
        return LinkedProject(int(stored), "found by stored id")
    # ensure_project finds by title itself; asking first only tells the user which it was
    existing = backend.find_project(title)
    if existing is not None:
        backend.check_classes(existing, classes)
        linked = LinkedProject(existing, "found by title")
    else:
        linked = LinkedProject(backend.ensure_project(title, classes, instructions), "created")
    store.set_meta(PROJECT_ID_KEY, str(linked.project_id))
    store.set_meta(URL_KEY, backend.url)
    return linked
