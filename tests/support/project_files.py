"""The small Fashion-MNIST project file most tests start from (the project_file fixture
writes it into the test's tmp_path; fixtures of a wider scope call write_project)."""

from __future__ import annotations

from pathlib import Path

import yaml

from activelearn.config import FASHION_MNIST_CLASSES


def write_project(path: Path, work_dir: Path, data_root: Path, **sections) -> Path:
    """Write a small Fashion-MNIST project file at path; keyword sections override its
    defaults (a dict updates that section, anything else replaces it)."""
    raw = {
        "project": {"name": "t", "work_dir": str(work_dir), "seed": 0},
        "data": {"source": "fashion-mnist", "root": str(data_root),
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def thirteen_image_project(project_file, tmp_path: Path, rows: list[str], **label_studio
                           ) -> Path:
    """A project over a manifest of 13 images of classes red and dark (rows: "id,path"
    lines after the header) whose first cycle pushes them all: holdout 3, initial 10;
    label_studio: the image mode and its keys."""
    manifest = tmp_path / "images.csv"
    manifest.write_text("\n".join(["id,path", *rows]) + "\n")
    return project_file(
        data={"source": "manifest", "root": str(manifest), "image_size": [8, 8],
              "channels": 3},
        classes=["red", "dark"], loop={"initial": 10, "batch": 2, "budget": 20},
        label_studio={"holdout": 3, **label_studio})
