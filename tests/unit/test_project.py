"""The Project: one project's paths and handles, built once per command."""

from __future__ import annotations

import pytest

from activelearn.config import load_config
from activelearn.errors import BackendError, StateError
from activelearn.jobs.controller import ProjectHandles
from activelearn.jobs.executor import InlineExecutor
from activelearn.project import STATE_FILE, Project, state_path


@pytest.fixture
def project(project_file) -> Project:
    return Project(load_config(project_file()))


def test_every_path_lies_in_the_work_dir(project: Project) -> None:
    work = project.cfg.work_dir
    assert project.work_dir == work
    assert project.state_path == state_path(work) == work / STATE_FILE
    assert project.cache_dir == work / "cache"
    paths = project.paths
    assert {p.parent for p in (paths.report, paths.simulate, paths.serve, paths.clean)} \
        == {work}
    assert len({paths.report, paths.simulate, paths.serve, paths.clean,
                project.cache_dir}) == 5


def test_handles_are_built_once_and_connect_only_when_used(project: Project) -> None:
    # neither Redis nor Label Studio is configured: building the project touches neither
    assert project.artifacts is project.artifacts
    assert project.artifacts.url == str(project.work_dir.resolve())
    assert isinstance(project.executor, InlineExecutor)
    assert project.executor is project.executor
    with pytest.raises(BackendError, match="no Label Studio URL"):
        _ = project.backend  # asked for, then connected: and its error is one line


def test_the_store_is_created_by_a_writer_and_never_by_a_reader(project: Project) -> None:
    assert not project.has_state()
    with pytest.raises(StateError), project.store(readonly=True):
        pass
    assert not project.has_state()
    with project.store() as store:
        store.meta.set("k", "v")
    assert project.has_state()
    with project.store(readonly=True) as store:
        assert store.meta.get("k") == "v"


def test_published_is_per_project(project_file, project: Project) -> None:
    other = Project(load_config(project_file()))
    project.published[("x",)] = "name"
    assert other.published == {}


def test_the_project_gives_the_job_kinds_what_they_need(project: Project) -> None:
    needed = [name for name in vars(ProjectHandles) if not name.startswith("_")]
    assert sorted(needed) == ["artifacts", "cfg", "executor", "published"]
    assert all(getattr(project, name) is not None for name in needed)
