"""How many processes FileImages decodes in (data/imageset.py): never nested inside a
DataLoader worker of batches() (a daemon process may not start any), and several for
images fetched over the network whatever the cores."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from activelearn.data.imageset import FileImages, as_tensor, batches, slices


def pictures(folder, count: int, side: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (side, side), (i, 255 - i, 7)).save(folder / f"{i}.png")
    return [f"{i}.png" for i in range(count)]


def test_large_images_in_loader_workers_on_many_cores_decode_without_nesting(
        tmp_path, monkeypatch):
    names = pictures(tmp_path / "photos", 128, 100)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # as on a GPU machine
    images = FileImages([str(tmp_path / "photos" / n) for n in names], (100, 100), 3)
    assert images.loader_workers() > 0 and images._decode_processes(64) > 0
    # each DataLoader worker decodes its 64 images itself (it used to start processes
    # of its own: "daemonic processes are not allowed to have children")
    loaded = np.concatenate([b.numpy() for b in batches(images, slices(128, 64))])
    assert loaded[:, 0, 0, 0].tolist() == list(range(128))


def test_images_over_the_network_decode_in_several_processes(http_folder, monkeypatch):
    names = pictures(http_folder.root, 64, 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    remote = FileImages([f"{http_folder.url}/{n}" for n in names], (8, 8), 3)
    local = FileImages([str(http_folder.root / n) for n in names], (8, 8), 3)
    assert (remote._decode_processes(64), local._decode_processes(64)) == (8, 0)
    assert (remote.loader_workers(), local.loader_workers()) == (8, 1)
    assert (as_tensor(remote).numpy() == as_tensor(local).numpy()).all()
