"""Data sources: real Fashion-MNIST from the Debian package, generated PNG folders, manifests."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelearn.config import FASHION_MNIST_CLASSES, DataConfig
from activelearn.data.imageset import as_tensor
from activelearn.data.sources import available_sources, fashion_mnist, load_source
from activelearn.data.sources.limits import round_robin
from activelearn.errors import ConfigError, DataError, UnknownNameError
from activelearn.kinds import UNKNOWN_LABEL
from support.threads import within

CLASSES = ["cat", "dog", "bird"]
SIZE = (6, 8)  # [height, width]: not square, so a swapped height/width shows up
COLORS = {"cat": (200, 10, 10), "dog": (10, 200, 10), "bird": (10, 10, 200)}


# ---------------------------------------------------------------- fixture helpers

def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = SIZE) -> Path:
    """A solid-colour PNG of size [height, width]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size[1], size[0]), color).save(path)
    return path


def write_truncated_png(path: Path) -> Path:
    """A PNG cut in the middle of its pixel data (noise, so the data does not compress away)."""
    pixels = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def make_folder(root: Path) -> Path:
    """cat: 3 good; dog: 2 good + nested, corrupt, truncated, wrong size; 1 unlabeled; noise."""
    for i in range(3):
        write_png(root / "cat" / f"c{i}.png", COLORS["cat"])
    for i in range(2):
        write_png(root / "dog" / f"d{i}.png", COLORS["dog"])
    write_png(root / "dog" / "sub" / "d9.png", COLORS["dog"])
    (root / "dog" / "corrupt.png").write_bytes(np.random.default_rng(1).bytes(300))
    write_truncated_png(root / "dog" / "truncated.png")
    write_png(root / "dog" / "big.png", COLORS["dog"], size=(10, 12))
    write_png(root / "0001.png", (7, 7, 7))
    (root / "notes.txt").write_text("not an image, ignored")
    write_png(root / ".hidden" / "x.png", COLORS["cat"])  # hidden folders are ignored
    return root


def folder_cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(source="imagefolder", root=str(root), image_size=SIZE, **kw)


# ---------------------------------------------------------------- registry and limits

def test_unknown_source_lists_available():
    with pytest.raises(UnknownNameError) as err:
        load_source(DataConfig(source="mnist"), CLASSES)
    assert "'mnist'" in str(err.value)
    for name in ["cifar10", "fashion-mnist", "imagefolder", "manifest"]:
        assert name in str(err.value)
        assert name in available_sources()


def test_round_robin_serves_each_class_before_repeating():
    labels = np.array([0, 0, 0, 1, 1, UNKNOWN_LABEL])
    assert round_robin(labels).tolist() == [0, 3, 5, 1, 4, 2]
    assert round_robin(np.zeros(0, dtype=np.int64)).tolist() == []


# ---------------------------------------------------------------- Fashion-MNIST

@pytest.fixture(scope="module")
def fmnist_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fmnist")


@pytest.fixture(scope="module")
def fmnist(fmnist_root):
    # An empty root: the files must come from the Debian package (the fallback path).
    return load_source(DataConfig("fashion-mnist", root=str(fmnist_root)), FASHION_MNIST_CLASSES)


def test_fashion_mnist_from_debian_package(fmnist, fmnist_root):
    assert (fmnist_root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert len(fmnist) == 70000
    assert int((~fmnist.is_test).sum()) == 60000 and int(fmnist.is_test.sum()) == 10000
    assert fmnist.images.shape == (70000, 1, 28, 28)
    assert str(fmnist.images.dtype) == "torch.uint8"
    assert fmnist.labels.dtype == np.int64
    assert np.bincount(fmnist.labels).tolist() == [7000] * 10
    assert fmnist.item_ids[42] == "fashion-mnist/train/00042"
    assert fmnist.item_ids[60007] == "fashion-mnist/test/00007"
    assert len(set(fmnist.item_ids)) == 70000
    assert all(("/test/" in i) == t for i, t in zip(fmnist.item_ids, fmnist.is_test, strict=True))
    assert fmnist.labels[0] == 9  # the first training image is an ankle boot
    assert fmnist.class_names == FASHION_MNIST_CLASSES and fmnist.skipped == []


def test_fashion_mnist_reload_reads_the_unpacked_files_again(fmnist, fmnist_root):
    """The Debian package is unpacked once: a reload reads the files it left (same bytes,
    untouched) and gives the same pool (its speed is benchmarks/, not tests)."""
    raw = fmnist_root / "FashionMNIST" / "raw"
    before = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    again = load_source(DataConfig("fashion-mnist", root=str(fmnist_root)), FASHION_MNIST_CLASSES)
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == before
    assert sorted(before) == sorted(fashion_mnist.RAW_FILES)
    assert again.item_ids == fmnist.item_ids
    assert bool((again.images == fmnist.images).all())


def test_fashion_mnist_limit_is_stratified_and_deterministic(fmnist, fmnist_root):
    cfg = DataConfig("fashion-mnist", root=str(fmnist_root), limit=100, test_limit=30)
    small = load_source(cfg, FASHION_MNIST_CLASSES)
    assert np.bincount(small.labels[~small.is_test]).tolist() == [10] * 10
    assert np.bincount(small.labels[small.is_test]).tolist() == [3] * 10
    assert load_source(cfg, FASHION_MNIST_CLASSES).item_ids == small.item_ids
    position = {item_id: i for i, item_id in enumerate(fmnist.item_ids)}
    full = [position[i] for i in small.item_ids]
    assert bool((fmnist.images[full] == small.images).all())
    assert (fmnist.labels[full] == small.labels).all()


def test_fashion_mnist_missing_without_fallback(tmp_path):
    cfg = DataConfig("fashion-mnist", root=str(tmp_path))
    with pytest.raises(DataError) as err:
        fashion_mnist.load(cfg, FASHION_MNIST_CLASSES, fallback=fashion_mnist.no_fallback)
    assert str(err.value) == (
        f"Fashion-MNIST not found under {tmp_path}/FashionMNIST/raw: install the Debian "
        "package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
        "or set data.download: true (needs internet)"
    )


def test_debian_files_without_dpkg_reads_the_folder(tmp_path):
    found = fashion_mnist.debian_files(package="", directory=fashion_mnist.DEBIAN_DIR)
    assert sorted(found) == sorted(fashion_mnist.RAW_FILES)
    assert fashion_mnist.debian_files(package="", directory=tmp_path) == {}


def test_fashion_mnist_needs_ten_class_names(tmp_path):
    with pytest.raises(ConfigError, match=r"^classes: fashion-mnist has 10 classes"):
        load_source(DataConfig("fashion-mnist", root=str(tmp_path)), CLASSES)


def test_fashion_mnist_corrupt_raw_file(fmnist, fmnist_root, tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    shutil.copytree(fmnist_root / "FashionMNIST" / "raw", raw)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\0" * 10)
    with pytest.raises(DataError, match=r"cannot read the files .*; delete .* to unpack"):
        load_source(DataConfig("fashion-mnist", root=str(tmp_path)), FASHION_MNIST_CLASSES)


def test_cifar10_incomplete(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError, match=r"cifar-10-batches-py is incomplete or corrupted: delete"):
        load_source(DataConfig("cifar10", root=str(tmp_path)), [f"c{i}" for i in range(10)])


def test_cifar10_missing(tmp_path):
    with pytest.raises(DataError) as err:
        load_source(DataConfig("cifar10", root=str(tmp_path)), [f"c{i}" for i in range(10)])
    message = str(err.value)
    assert message.startswith(f"CIFAR-10 not found under {tmp_path}/cifar-10-batches-py: ")
    assert "data.download: true" in message


# ---------------------------------------------------------------- imagefolder

def test_imagefolder_labels_unlabeled_and_skipped(tmp_path, caplog):
    root = make_folder(tmp_path / "photos")
    with caplog.at_level(logging.WARNING, logger="activelearn.catalogue"):
        pool = load_source(folder_cfg(root), CLASSES)
    # an image of another size is scaled to cover the input size and centre-cropped
    assert pool.item_ids == [
        "0001.png", "cat/c0.png", "cat/c1.png", "cat/c2.png",
        "dog/big.png", "dog/d0.png", "dog/d1.png", "dog/sub/d9.png",
    ]
    assert pool.labels.tolist() == [UNKNOWN_LABEL, 0, 0, 0, 1, 1, 1, 1]
    assert not pool.is_test.any()
    assert pool.images.shape == (8, 3, *SIZE)
    assert pool.images[1][:, 0, 0].tolist() == list(COLORS["cat"])
    assert pool.images[7][:, 5, 7].tolist() == list(COLORS["dog"])
    assert as_tensor(pool.images).shape == (8, 3, *SIZE)
    assert pool.paths[1] == str(root / "cat" / "c0.png")
    skipped = {s.item_id: s for s in pool.skipped}
    assert sorted(skipped) == ["dog/corrupt.png", "dog/truncated.png"]
    assert skipped["dog/corrupt.png"].path == str(root / "dog" / "corrupt.png")
    warnings = [r.getMessage() for r in caplog.records if r.name == "activelearn.catalogue"
                and r.levelno == logging.WARNING]
    assert len(warnings) == 2
    for item in pool.skipped:
        assert any(item.item_id in w and item.path in w for w in warnings)


def test_imagefolder_grayscale_at_the_model_input_size(tmp_path):
    root = make_folder(tmp_path / "photos")
    cfg = DataConfig(source="imagefolder", root=str(root), channels=1)
    pool = load_source(cfg, CLASSES, input_size=SIZE)
    assert pool.images.shape == (8, 1, *SIZE)
    assert "dog/big.png" in pool.item_ids
    assert sorted(s.item_id for s in pool.skipped) == ["dog/corrupt.png", "dog/truncated.png"]


def test_imagefolder_limit_replaces_skipped_items(tmp_path):
    root = make_folder(tmp_path / "photos")
    pool = load_source(folder_cfg(root, limit=4), CLASSES)
    # Round robin over the usable items in id order: cat/c0, dog/big, 0001, cat/c1
    assert pool.item_ids == ["0001.png", "cat/c0.png", "cat/c1.png", "dog/big.png"]
    assert sorted(s.item_id for s in pool.skipped) == ["dog/corrupt.png", "dog/truncated.png"]


def test_imagefolder_unknown_class_folder(tmp_path):
    root = make_folder(tmp_path / "photos")
    write_png(root / "horse" / "h.png", (1, 2, 3))
    with pytest.raises(DataError) as err:
        load_source(folder_cfg(root), CLASSES)
    assert str(err.value) == (
        f"imagefolder {root}: folder 'horse' is not a class (classes: cat, dog, bird)"
    )


def test_imagefolder_default_input_size(tmp_path):
    root = make_folder(tmp_path / "photos")
    pool = load_source(DataConfig("imagefolder", root=str(root)), CLASSES)
    assert pool.images.shape == (8, 3, 64, 64)


def test_imagefolder_without_usable_images(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"no usable images: 1 of 1 skipped \(first: cat/bad.png"):
        load_source(folder_cfg(tmp_path), CLASSES)


# ---------------------------------------------------------------- manifest

def manifest_rows(folder: Path) -> list[dict]:
    """Rows of a manifest in `folder`: relative, absolute, unlabeled, test and missing images."""
    write_png(folder / "imgs" / "a.png", COLORS["cat"])
    write_png(folder / "imgs" / "b.png", COLORS["dog"])
    write_png(folder / "imgs" / "c.png", COLORS["bird"])
    absolute = write_png(folder.parent / "elsewhere" / "d.png", COLORS["bird"])
    return [
        {"id": "a", "path": "imgs/a.png", "label": "cat", "split": "train"},
        {"id": "b", "path": "imgs/b.png", "label": "", "split": ""},
        {"id": "c", "path": "imgs/c.png", "label": "bird", "split": "test"},
        {"id": "d", "path": str(absolute), "label": "bird", "split": ""},
        {"id": "gone", "path": "imgs/gone.png", "label": "dog", "split": ""},
    ]


def write_csv(path: Path, rows: list[dict]) -> Path:
    lines = ["id,path,label,split"] + [",".join(r.values()) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def manifest_cfg(path: Path, **kw) -> DataConfig:
    return DataConfig(source="manifest", root=str(path), image_size=SIZE, **kw)


@pytest.mark.parametrize("writer,name", [(write_csv, "m.csv"), (write_jsonl, "m.jsonl")])
def test_manifest_loads_and_skips_missing_files(tmp_path, writer, name):
    folder = tmp_path / "data"
    path = writer(folder / name, manifest_rows(folder))
    pool = load_source(manifest_cfg(path), CLASSES)
    # The pool part in id order, then the test part.
    assert pool.item_ids == ["a", "b", "d", "c"]
    assert pool.labels.tolist() == [0, UNKNOWN_LABEL, 2, 2]
    assert pool.is_test.tolist() == [False, False, False, True]
    assert pool.paths[0] == str(folder / "imgs" / "a.png")
    assert pool.paths[2] == str(folder.parent / "elsewhere" / "d.png")
    assert pool.images[1][:, 0, 0].tolist() == list(COLORS["dog"])
    assert [(s.item_id, s.path, s.reason) for s in pool.skipped] == [
        ("gone", str(folder / "imgs" / "gone.png"), "file not found")
    ]


def test_manifest_test_limit(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", manifest_rows(tmp_path))
    pool = load_source(manifest_cfg(path, test_limit=0), CLASSES)
    assert not pool.is_test.any() and "c" not in pool.item_ids


@pytest.mark.parametrize("writer,name,line", [(write_csv, "m.csv", 3), (write_jsonl, "m.jsonl", 2)])
def test_manifest_unknown_label(tmp_path, writer, name, line):
    rows = manifest_rows(tmp_path)
    rows[1]["label"] = "horse"
    path = writer(tmp_path / name, rows)
    with pytest.raises(DataError) as err:
        load_source(manifest_cfg(path), CLASSES)
    assert str(err.value) == (
        f"manifest {path}: line {line}: id 'b': label 'horse' is not a class "
        "(classes: cat, dog, bird)"
    )


def test_manifest_duplicate_ids(tmp_path):
    rows = manifest_rows(tmp_path)
    rows[3]["id"] = "a"
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    with pytest.raises(DataError, match=r"line 4: duplicate id 'a' \(first on line 1\)"):
        load_source(manifest_cfg(path), CLASSES)


def test_manifest_csv_needs_id_and_path_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("name,file\na,a.png\n")
    with pytest.raises(DataError, match=r"header must name the columns id and path"):
        load_source(manifest_cfg(path), CLASSES)


# ---------------------------------------------------------------- special files

def load_within(cfg: DataConfig, fifo: Path, seconds: float = 10.0):
    """load_source(cfg, CLASSES), failing when it takes over `seconds` (a read of the
    FIFO blocks until a writer comes). The loaded pool, or the error it raised."""
    return within(lambda: load_source(cfg, CLASSES), seconds, fifo)


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
def test_imagefolder_skips_a_fifo_among_the_images(tmp_path):
    root = make_folder(tmp_path / "photos")
    os.mkfifo(root / "cat" / "pipe.png")
    os.mkfifo(root / "loose.png")
    (root / "dog" / "dangling.png").symlink_to(root / "dog" / "nowhere.png")
    pool = load_within(folder_cfg(root), root / "cat" / "pipe.png")
    assert "cat/c0.png" in pool.item_ids and len(pool.item_ids) == 8
    skipped = {s.item_id: s for s in pool.skipped}
    assert skipped["cat/pipe.png"].reason == "not a regular file (FIFO)"
    assert skipped["cat/pipe.png"].path == str(root / "cat" / "pipe.png")
    assert skipped["loose.png"].reason == "not a regular file (FIFO)"
    assert skipped["dog/dangling.png"].reason == (
        f"broken symbolic link (to {root / 'dog' / 'nowhere.png'})")


def test_imagefolder_reads_a_symlink_to_an_image(tmp_path):
    root = make_folder(tmp_path / "photos")
    (root / "cat" / "link.png").symlink_to(root / "cat" / "c0.png")
    pool = load_within(folder_cfg(root), root / "cat" / "link.png")
    assert "cat/link.png" in pool.item_ids


@needs_fifo
@pytest.mark.parametrize("writer,name", [(write_csv, "m.csv"), (write_jsonl, "m.jsonl")])
def test_manifest_skips_a_row_naming_a_fifo(tmp_path, writer, name):
    folder = tmp_path / "data"
    rows = manifest_rows(folder)
    os.mkfifo(folder / "imgs" / "pipe.png")
    rows.append({"id": "pipe", "path": "imgs/pipe.png", "label": "cat", "split": ""})
    path = writer(folder / name, rows)
    pool = load_within(manifest_cfg(path), folder / "imgs" / "pipe.png")
    assert pool.item_ids == ["a", "b", "d", "c"]
    assert [(s.item_id, s.reason) for s in pool.skipped] == [
        ("gone", "file not found"), ("pipe", "not a regular file (FIFO)")]


@needs_fifo
def test_a_manifest_that_is_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "m.csv")
    with pytest.raises(DataError, match=r"m.csv: not a regular file \(set data.root\)"):
        load_within(manifest_cfg(tmp_path / "m.csv"), tmp_path / "m.csv")
