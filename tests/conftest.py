"""Shared fixtures: a small real Fashion-MNIST project (from the Debian package), and the
markers that say which real service a test needs.

Markers: `label_studio`, `redis` and `browser` are set from the fixtures a test asks for
(support/services.py: label_studio, redis_url or redis_server, chromium); `slow` marks
real training that takes more than a few seconds; `gpu` needs CUDA. A quick offline run:

    pytest -m "not label_studio and not redis and not browser and not slow"
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Idle OpenMP threads sleep instead of spinning. The tests run several torch processes at
# once (xdist workers, RQ workers, cycle and serve processes) on few cores, where spinning
# threads take the cores from the ones with work: three 2-thread trainings side by side
# take 15 s instead of 7 s on 2 cores. Results are the same (the waiting changes, not the
# sums). Set before torch is imported, for this process and every one it starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from support.project_files import write_project

pytest_plugins = ["support.services", "support.storage"]

# fixture -> the marker of the service it starts
SERVICE_MARKERS = {"label_studio": "label_studio", "redis_server": "redis", "redis_url": "redis",
                   "secure_redis": "redis", "chromium": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the services its fixtures start, so -m can leave them out."""
    for item in items:
        for fixture, marker in SERVICE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (addopts: -n 2), hand each worker one test function at a time,
    all its parametrizations together, in collection order (the integration tests, the
    long ones, first), instead of xdist's load scheduling of single tests: a module
    fixture that a function's parametrizations share (the crash points' kill chains) is
    then set up once, on one worker. xdist's own loadgroup does this by the xdist_group
    mark, but does not work with pytest 9 (it renames items through a field pytest no
    longer reads)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByFunction(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("[", 1)[0]

    config.option.loadscopereorder = False  # collection order, not the largest unit first
    return ByFunction(config, log)


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    """A data root; the source unzips the Debian package's Fashion-MNIST into it once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def project_file(tmp_path, fmnist_root):
    """Write a small Fashion-MNIST project file (tmp_path/project.yaml, its work dir
    tmp_path/work); keyword sections override its defaults (see write_project)."""

    def write(**sections) -> Path:
        return write_project(tmp_path / "project.yaml", tmp_path / "work", fmnist_root,
                             **sections)

    return write
