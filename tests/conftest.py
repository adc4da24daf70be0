"""Shared fixtures: a small real Fashion-MNIST project (from the Debian package)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activelearn.config import FASHION_MNIST_CLASSES

# The `label_studio` fixture: a real Label Studio server (scripts/label_studio.sh).
pytest_plugins = ["ls_fixtures"]


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    """A data root; the source unzips the Debian package's Fashion-MNIST into it once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def project_file(tmp_path, fmnist_root):
    """Write a small Fashion-MNIST project file; keyword sections override its defaults."""

    def write(**sections) -> Path:
        raw = {
            "project": {"name": "t", "work_dir": str(tmp_path / "work"), "seed": 0},
            "data": {"source": "fashion-mnist", "root": str(fmnist_root),
                     "limit": 600, "test_limit": 300},
            "classes": list(FASHION_MNIST_CLASSES),
            "model": {"name": "small_cnn"},
            "training": {"epochs": 3, "min_steps": 60, "batch_size": 32, "lr": 0.05,
                         "threads": 2},
            "strategy": {"name": "margin", "mc_passes": 5},
            "loop": {"initial": 40, "batch": 40, "budget": 120},
            "splits": {"validation_fraction": 0.2},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key].update(value)
            else:
                raw[key] = value
        path = tmp_path / "project.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    return write
