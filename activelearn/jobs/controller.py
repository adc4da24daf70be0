"""What the job kinds' controller side needs of a project. `activelearn.project.Project`
provides it; the jobs sit below the project and never import it (dependency runs one
way: the project builds the executor, the kinds are handed the project)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from activelearn.config import Config
    from activelearn.data.artifacts import ArtifactStore
    from activelearn.jobs.executor import Executor


class ProjectHandles(Protocol):
    """A project as the controller side of a job kind sees it."""

    @property
    def cfg(self) -> Config:
        """The project's config."""

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store, built once: what jobs read is published there."""

    @property
    def executor(self) -> Executor:
        """Where the jobs run: inline or on RQ."""

    @property
    def published(self) -> dict[tuple, str]:
        """What this process already published, by key (the weights file, a catalogue
        snapshot), so it is published once."""
