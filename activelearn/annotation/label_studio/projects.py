"""A Label Studio server's projects (`backend.projects` of a LabelStudioBackend): found
by title, created with the labelling interface over the classes, uncertainty sampling and
a Data Manager tab of the least confident tasks; their overlap, model version and Local
Files storage."""

from __future__ import annotations

import logging
import os
from typing import Any

from activelearn.annotation.label_studio.connection import Connection
from activelearn.annotation.label_studio.formats import config_classes, label_config
from activelearn.errors import BackendError

log = logging.getLogger(__name__)

SAMPLING = "Uncertainty sampling"
VIEW_TITLE = "least confident first"


class Projects:
    """The project calls, over the backend's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.client = conn.client

    def find(self, title: str) -> int | None:
        """The id of the project with exactly this title, or None."""
        with self.conn.answering("listing projects"):
            projects: list[Any] = list(self.client.projects.list(title=title))
        matching = sorted(p.id for p in projects if p.title == title and p.id is not None)
        return matching[0] if matching else None

    def ensure(self, title: str, class_names: list[str], instructions: str = "") -> int:
        """Find the project by title or create it: a Choices interface over the classes,
        the annotation rules as instructions, uncertainty sampling, and a Data Manager tab
        that lists the least confident tasks first. Returns the project id."""
        found = self.find(title)
        if found is not None:
            self.check_classes(found, class_names)
            return found
        with self.conn.answering("creating the project"):
            project = self.client.projects.create(
                title=title, label_config=label_config(class_names), sampling=SAMPLING,
                expert_instruction=instructions, show_instruction=bool(instructions),
                show_skip_button=True)
            project_id = int(self.conn.required(project.id, "the new project"))
            self.client.views.create(project=project_id, data={
                "title": VIEW_TITLE, "ordering": ["tasks:predictions_score"]})
        log.info("created Label Studio project %d %r", project_id, title)
        return project_id

    def ensure_overlap(self, project_id: int, maximum: int) -> None:
        """Let Label Studio serve a task to up to `maximum` distinct annotators.

        Label Studio 1.23 gives every imported task overlap = the project's
        maximum_annotations (tasks/serializers.py, add_tasks; a task's own "overlap" in
        the import is ignored), and with overlap_cohort_percentage below 100 it re-deals
        the overlap of *all* tasks after each import (projects/models.py,
        _rearrange_overlap_cohort). So the cohort stays at 100 and tasks that want
        fewer annotations are lowered one by one after the import (tasks.set_overlap).
        Changing maximum_annotations later raises the tasks whose overlap was above 1."""
        with self.conn.answering("reading the project"):
            project = self.client.projects.get(id=project_id)
        if project.maximum_annotations == maximum and project.overlap_cohort_percentage == 100:
            return
        with self.conn.answering("setting the project's overlap"):
            self.client.projects.update(id=project_id, maximum_annotations=maximum,
                                        overlap_cohort_percentage=100)
        log.info("project %d: up to %d annotations per task", project_id, maximum)

    def exists(self, project_id: int) -> bool:
        """Whether a project with this id is still on the server."""
        try:
            with self.conn.answering("reading the project"):
                self.client.projects.get(id=project_id)
        except BackendError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def check_classes(self, project_id: int, class_names: list[str]) -> None:
        """Refuse a project whose Choices differ from the project file's classes."""
        with self.conn.answering("reading the project"):
            config = self.client.projects.get(id=project_id).label_config or ""
        found = config_classes(config)
        if found != class_names:
            raise BackendError(
                f"Label Studio project {project_id} offers the classes {found} but the "
                f"project file has {class_names}; use another label_studio.project_title "
                "or fix the classes")

    def ensure_local_storage(self, project_id: int, folder: str) -> None:
        """Connect a Local Files storage for folder, unless a storage of the project
        already holds it (the folder itself or one above it: Label Studio serves the
        files anywhere under a storage's folder). Never synced: activelearn imports the
        tasks itself. Label Studio serves /data/local-files/ URLs only for files under a
        storage of the project, and connects only folders below its
        LOCAL_FILES_DOCUMENT_ROOT."""
        with self.conn.answering("listing the project's local storages"):
            storages = list(self.client.import_storage.local.list(project=project_id))
        wanted = os.path.normpath(folder)
        for storage in storages:
            held = os.path.normpath(storage.path) if storage.path else ""
            if held and (wanted == held or wanted.startswith(held.rstrip(os.sep) + os.sep)):
                return
        with self.conn.answering(f"connecting the local folder {folder} (it must lie below "
                                 "the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, "
                                 "which label_studio.document_root names)"):
            self.client.import_storage.local.create(
                project=project_id, path=folder, title="activelearn images",
                use_blob_urls=True)

    def set_model_version(self, project_id: int, version: str) -> None:
        """Make uncertainty sampling rank tasks by the predictions of this model version.
        Label Studio accepts only a version some prediction already carries: push first."""
        with self.conn.answering("setting the model version"):
            self.client.projects.update(id=project_id, model_version=version)
