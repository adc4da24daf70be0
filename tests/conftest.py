"""Shared fixtures: a small real Fashion-MNIST project (from the Debian package), and the
markers that say which real service a test needs.

Markers: `label_studio`, `redis` and `browser` are set from the fixtures a test asks for
(support/services.py: label_studio, redis_url or redis_server, chromium); `slow` marks
real training that takes more than a few seconds; `gpu` needs CUDA. A quick offline run:

    pytest -m "not label_studio and not redis and not browser and not slow"
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
