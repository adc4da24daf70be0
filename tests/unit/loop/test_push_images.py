"""label_studio.image_mode local-files (loop.push): every pool file checked against the
document root with symlinks followed, task URLs from the same resolved paths, and the
narrowest folders connected as Local Files storages. No Label Studio server: a fake
backend records the storages asked for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from activelearn.annotation.label_studio import image_reference
from activelearn.config import Config, config_from_dict
from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError
from activelearn.kinds import UNKNOWN_LABEL
from activelearn.loop.push import TaskPusher, check_image_mode, storage_folders
from activelearn.state import Store

PROJECT_ID = 7


class FakeProjects:
    """Records the folders the pusher connects."""

    def __init__(self) -> None:
        self.storages: list[tuple[int, str]] = []

    def ensure_local_storage(self, project_id: int, folder: str) -> None:
        self.storages.append((project_id, folder))


class FakeBackend:
    """The pusher asks nothing but the project's local storages of it when the state has
    no batch to push."""

    url = "http://label-studio.invalid"

    def __init__(self) -> None:
        self.projects = FakeProjects()

    @property
    def storages(self) -> list[tuple[int, str]]:
        return self.projects.storages


def _config(document_root: Path | str) -> Config:
    return config_from_dict(
        {"project": {"name": "t"},
         "data": {"source": "imagefolder", "root": str(document_root), "image_size": [2, 2]},
         "classes": ["a", "b"],
         "label_studio": {"image_mode": "local-files", "document_root": str(document_root)}},
        source="project.yaml")


def _pool(paths: list[Path | str]) -> Pool:
    n = len(paths)
    return Pool(item_ids=[f"item{i:06d}" for i in range(n)],
                images=torch.zeros((n, 1, 2, 2), dtype=torch.uint8),
                labels=np.full(n, UNKNOWN_LABEL, dtype=np.int64),
                is_test=np.zeros(n, dtype=bool), class_names=["a", "b"],
                paths=[str(p) for p in paths])


def _files(root: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"png")
        out.append(path)
    return out


def _pusher(cfg: Config, pool: Pool, backend: FakeBackend, store: Any = None) -> TaskPusher:
    """A pusher with the fake backend (and no state unless given: image_of needs none)."""
    return TaskPusher(cfg, store, backend, pool, PROJECT_ID, print)  # type: ignore[arg-type]


def _connected(cfg: Config, pool: Pool, tmp_path: Path) -> list[str]:
    """The folders one push connects, in the order it asks for them."""
    backend = FakeBackend()
    with Store.open(tmp_path / "state.sqlite") as store:
        _pusher(cfg, pool, backend, store).push(0)
    assert {project for project, _ in backend.storages} <= {PROJECT_ID}
    return [folder for _, folder in backend.storages]


def test_local_files_a_symlink_pointing_out_of_document_root_is_a_config_error_naming_it(tmp_path):
    root = tmp_path / "root"
    secret = _files(tmp_path / "elsewhere", "secret.png")[0]
    paths = _files(root, "a/x.png", "b/y.png")
    link = root / "a" / "link.png"
    link.symlink_to(secret)
    with pytest.raises(ConfigError) as caught:
        check_image_mode(_config(root), _pool([*paths, link]))
    message = str(caught.value)
    assert message == (
        f"project.yaml: label_studio.document_root: 1 of 3 images are not inside {root} "
        f"(symlinks followed), the first {link} -> {secret}; set document_root to a folder "
        "that holds every image, or move the images under it")
    assert "\n" not in message


def test_local_files_every_path_is_checked_not_only_the_first_thousand(tmp_path):
    root = tmp_path / "root"
    paths: list[Path | str] = [root / f"f{i // 100}" / f"{i:04d}.png" for i in range(1500)]
    paths[1199] = tmp_path / "other" / "1199.png"  # the 1,200th
    check_image_mode(_config(root), _pool(paths[:1199]))
    with pytest.raises(ConfigError, match=rf"1 of 1,500 images .* the first {paths[1199]};"):
        check_image_mode(_config(root), _pool(paths))


def test_local_files_the_check_counts_every_file_outside(tmp_path):
    root = tmp_path / "root"
    paths = [root / "in" / "a.png", tmp_path / "out" / "b.png", root / ".." / "c.png"]
    with pytest.raises(ConfigError, match=rf"2 of 3 images .* the first {paths[1]};"):
        check_image_mode(_config(root), _pool(paths))


def test_local_files_a_file_directly_in_document_root_is_a_config_error(tmp_path):
    # Label Studio 1.23 refuses a storage on its document root itself, so such a file
    # can never be served: say so before the batch is recorded, not at every push
    paths = _files(tmp_path, "a/x.png", "loose.png")
    with pytest.raises(ConfigError, match=rf"1 of 2 images lie directly in {tmp_path}, "
                                          rf"the first {paths[1]}; .*move them into a folder"):
        check_image_mode(_config(tmp_path), _pool(paths))


def test_local_files_document_root_slash_holds_every_file(tmp_path):
    paths = _files(tmp_path, "a/x.png", "b/y.png")
    cfg, pool = _config("/"), _pool(paths)
    check_image_mode(cfg, pool)
    pusher = _pusher(cfg, pool, FakeBackend())
    real = os.path.realpath(paths[0])
    assert pusher.image_of("item000000") == "/data/local-files/?d=" + real.lstrip("/")
    assert _connected(cfg, pool, tmp_path) == [os.path.realpath(tmp_path / "a"),
                                               os.path.realpath(tmp_path / "b")]


def test_local_files_the_narrowest_folders_are_connected_none_inside_another(tmp_path):
    root = tmp_path / "root"
    paths = _files(root, "a/x.png", "a/b/y.png", "c/z.png", "c/w.png")
    assert _connected(_config(root), _pool(paths), tmp_path) == [str(root / "a"),
                                                                 str(root / "c")]


def test_local_files_a_symlinked_file_connects_the_folder_of_its_target(tmp_path):
    root = tmp_path / "root"
    target, plain = _files(root, "a/target.png", "b/y.png")
    link = root / "links" / "x.png"
    link.parent.mkdir()
    link.symlink_to(target)
    assert _connected(_config(root), _pool([plain, link]), tmp_path) == [str(root / "a"),
                                                                         str(root / "b")]


def test_local_files_storage_folders_keep_siblings_and_drop_nested():
    assert storage_folders(["/r/a/b/1.png", "/r/a/c/2.png"]) == ["/r/a/b", "/r/a/c"]
    assert storage_folders(["/r/a/b/1.png", "/r/a/b/c/2.png"]) == ["/r/a/b"]
    # a string sort would put a/b-c between a/b and a/b/c and keep a/b/c
    assert storage_folders(["/r/a/b/1.png", "/r/a/b-c/2.png", "/r/a/b/c/3.png"]) == \
        ["/r/a/b", "/r/a/b-c"]
    assert storage_folders(["/x.png", "/r/a/1.png"]) == ["/"]
    assert storage_folders([]) == []


def test_local_files_task_urls_are_what_image_reference_gives(tmp_path, monkeypatch):
    real_root = tmp_path / "real"
    paths = _files(real_root, "a/x y.png", "a/b/z%.png", "c/w.png")
    (real_root / "linked").symlink_to(real_root / "c", target_is_directory=True)
    (real_root / "a" / "link.png").symlink_to(paths[2])
    root = tmp_path / "root-link"  # document_root spelled through a symlink
    root.symlink_to(real_root, target_is_directory=True)
    pool = _pool([root / "a" / "x y.png", paths[1], root / "linked" / "w.png",
                  real_root / "a" / "link.png", "root-link/c/w.png"])
    cfg = _config(root)
    monkeypatch.chdir(tmp_path)  # the last path is relative
    check_image_mode(cfg, pool)
    pusher = _pusher(cfg, pool, FakeBackend())
    urls = [pusher.image_of(item_id) for item_id in pool.item_ids]
    assert urls == [image_reference("local-files", item_id, path, document_root=str(root))
                    for item_id, path in zip(pool.item_ids, pool.paths)]
    assert urls == ["/data/local-files/?d=a/x%20y.png", "/data/local-files/?d=a/b/z%25.png",
                    *["/data/local-files/?d=c/w.png"] * 3]
    # the folders as the server spells them: under document_root as configured
    assert _connected(cfg, pool, tmp_path) == [str(root / "a"), str(root / "c")]


def test_local_files_a_file_relinked_after_the_check_fails_the_push_before_any_storage(tmp_path):
    root = tmp_path / "root"
    paths = _files(root, "a/x.png")
    link = root / "b" / "y.png"
    link.parent.mkdir()
    link.symlink_to(paths[0])
    cfg, pool = _config(root), _pool([*paths, link])
    check_image_mode(cfg, pool)
    link.unlink()
    link.symlink_to(_files(tmp_path, "outside/y.png")[0])
    backend = FakeBackend()
    with Store.open(tmp_path / "state.sqlite") as store, \
            pytest.raises(ConfigError, match=rf"the first {link} -> "):
        _pusher(cfg, pool, backend, store).push(0)
    assert backend.storages == []
