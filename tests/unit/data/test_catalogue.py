"""The catalogue of a file source (data/catalogue.py), the decoded cache (data/cache.py)
and lazy file images (data/imageset.py), on real files and a real state file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from activelearn.config import DataConfig
from activelearn.data.images import decode
from activelearn.data.imageset import FileImages, as_tensor, batches, slices
from activelearn.data.sources import load_source
from activelearn.data.sources.files import SourceState
from activelearn.errors import ConfigError
from activelearn.state import Store

CLASSES = ["red", "blue"]


def photo(path: Path, seed: int, size: tuple[int, int] = (90, 120)) -> Path:
    """A JPEG of random blocks (distinct per seed), of size (height, width)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(blocks).resize((size[1], size[0]), Image.Resampling.NEAREST).save(
        path, quality=90)
    return path


def folder(root: Path, count: int = 12) -> Path:
    for i in range(count):
        photo(root / CLASSES[i % 2] / f"{i:03d}.jpg", i, (60 + 10 * i, 200 - 5 * i))
    (root / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return root


def state(store: Store, tmp_path: Path, refresh: bool = True) -> SourceState:
    return SourceState(store.catalogue, tmp_path / "cache", refresh)


def cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(source="imagefolder", root=str(root), **kw)


def test_reingest_reads_only_new_or_changed_files(tmp_path, caplog):
    root = folder(tmp_path / "photos")
    with Store.open(tmp_path / "state.sqlite") as store:
        first = load_source(cfg(root), CLASSES, (16, 16), state(store, tmp_path))
        assert first.notes[0].startswith("catalogue: 13 files listed, 13 read")
        assert [s.item_id for s in first.skipped] == ["red/broken.jpg"]
        generation = store.catalogue.generation()
        again = load_source(cfg(root), CLASSES, (16, 16), state(store, tmp_path))
        assert again.notes[0].startswith("catalogue: 13 files listed, 0 read")
        assert again.item_ids == first.item_ids
        assert store.catalogue.generation() == generation  # readers keep their pools
        # one file changed, one added, one removed
        photo(root / "red" / "000.jpg", 99)
        os.utime(root / "red" / "000.jpg", ns=(1, 1))
        photo(root / "blue" / "new.jpg", 100)
        (root / "blue" / "001.jpg").unlink()
        third = load_source(cfg(root), CLASSES, (16, 16), state(store, tmp_path))
        assert third.notes[0].startswith("catalogue: 13 files listed, 2 read (new or "
                                         "changed), 1 gone")
        assert "blue/new.jpg" in third.item_ids and "blue/001.jpg" not in third.item_ids
        assert store.catalogue.generation() > generation  # readers load the pool again
        changed = third.item_ids.index("red/000.jpg")
        assert np.array_equal(third.images[changed].numpy(),
                              decode(str(root / "red" / "000.jpg"), (16, 16), 3))


def test_a_worker_takes_the_catalogue_as_the_controller_left_it(tmp_path):
    root = folder(tmp_path / "photos")
    with Store.open(tmp_path / "state.sqlite") as store:
        controller = load_source(cfg(root), CLASSES, (16, 16), state(store, tmp_path))
    photo(root / "blue" / "late.jpg", 7)  # arrives after the controller's ingest
    with Store.open(tmp_path / "state.sqlite", readonly=True) as store:
        worker = load_source(cfg(root), CLASSES, (16, 16), state(store, tmp_path, False))
    assert worker.item_ids == controller.item_ids
    assert worker.paths == controller.paths


def test_cache_holds_the_decoded_images_and_redoes_a_changed_file(tmp_path):
    root = folder(tmp_path / "photos")
    with Store.open(tmp_path / "state.sqlite") as store:
        pool = load_source(cfg(root, cache="memmap"), CLASSES, (20, 24), state(store, tmp_path))
        assert pool.images.cached.all()
        cache_file = tmp_path / "cache" / "images-3x20x24.u8"
        assert cache_file.stat().st_size >= len(pool) * 3 * 20 * 24
        for i, path in enumerate(pool.paths):
            assert np.array_equal(pool.images[i].numpy(), decode(path, (20, 24), 3)), path
        photo(Path(pool.paths[0]), 555)
        os.utime(pool.paths[0], ns=(2, 2))
        again = load_source(cfg(root, cache="memmap"), CLASSES, (20, 24),
                            state(store, tmp_path))
        assert again.notes[1].startswith(f"cache {cache_file}: 1 images decoded")
        assert np.array_equal(again.images[0].numpy(), decode(pool.paths[0], (20, 24), 3))
        # another input size: a cache of its own, built whole
        other = load_source(cfg(root, cache="memmap"), CLASSES, (8, 8), state(store, tmp_path))
        assert other.notes[1].startswith(f"cache {tmp_path / 'cache' / 'images-3x8x8.u8'}: "
                                         f"{len(other)} images decoded")


def test_cache_needs_a_project(tmp_path):
    root = folder(tmp_path / "photos")
    with pytest.raises(ConfigError, match=r"^data.cache: memmap needs a project"):
        load_source(cfg(root, cache="memmap"), CLASSES, (8, 8))


def test_file_images_index_like_a_tensor_and_batch_in_workers(tmp_path):
    paths = [str(photo(tmp_path / f"{i}.jpg", i)) for i in range(10)]
    images = FileImages(paths, (12, 12), 3)
    whole = as_tensor(images)
    assert whole.shape == (10, 3, 12, 12) and images.shape == (10, 3, 12, 12)
    subset = images[torch.tensor([7, 2])]
    assert isinstance(subset, FileImages) and torch.equal(subset.load(), whole[[7, 2]])
    assert torch.equal(images[3], whole[3])
    assert torch.equal(as_tensor(images[2:5]), whole[2:5])
    assert torch.equal(as_tensor(images[np.arange(10) % 3 == 0]), whole[[0, 3, 6, 9]])
    got = list(batches(images, slices(10, 4)))  # decoded in DataLoader workers
    assert [len(b) for b in got] == [4, 4, 2]
    assert torch.equal(torch.cat(got), whole)


def test_a_folder_of_every_mode_loads(tmp_path):
    """The modes a photo collection holds all come out as RGB at the input size."""
    root = tmp_path / "photos" / "red"
    root.mkdir(parents=True)
    rgb = np.full((30, 40, 3), (200, 20, 20), np.uint8)
    Image.fromarray(rgb).save(root / "rgb.jpg")
    Image.fromarray(rgb).convert("L").save(root / "gray.png")
    Image.fromarray(rgb).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rgb).convert("RGBA").save(root / "rgba.png")
    Image.fromarray(rgb).convert("P").save(root / "palette.png", transparency=0)
    Image.fromarray(np.full((30, 40), 40000, np.uint16)).save(root / "deep.png")
    pool = load_source(cfg(tmp_path / "photos"), CLASSES, (8, 8))
    assert sorted(pool.item_ids) == ["red/cmyk.jpg", "red/deep.png", "red/gray.png",
                                     "red/palette.png", "red/rgb.jpg", "red/rgba.png"]
    assert not pool.skipped
    assert as_tensor(pool.images).shape == (6, 3, 8, 8)


def test_a_moved_folder_is_another_source(tmp_path):
    root = folder(tmp_path / "photos")
    with Store.open(tmp_path / "state.sqlite") as store:
        load_source(cfg(root), CLASSES, (8, 8), state(store, tmp_path))
        moved = shutil.copytree(root, tmp_path / "elsewhere")
        pool = load_source(cfg(moved), CLASSES, (8, 8), state(store, tmp_path))
        assert pool.notes[0].startswith("catalogue: 13 files listed, 13 read")
        assert all(p.startswith(str(moved)) for p in pool.paths)
