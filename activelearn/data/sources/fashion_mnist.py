"""The `fashion-mnist` source: torchvision's FashionMNIST (60,000 train + 10,000 test).

Where the data comes from, in order: ROOT/FashionMNIST/raw (torchvision's layout); the
Debian package dataset-fashion-mnist, unzipped into that folder; a torchvision download
when data.download is true.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np

from activelearn.config import DataConfig
from activelearn.data.sources.arrays import Part, check_classes, check_shape, pool_from_parts
from activelearn.data.sources.base import Pool
from activelearn.errors import DataError

log = logging.getLogger("activelearn.sources")

NAME = "fashion-mnist"
RAW_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)
# Where the Debian fallback looks (dpkg first, this folder when dpkg is absent).
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def load(
    cfg: DataConfig,
    classes: list[str],
    input_size: tuple[int, int] | None = None,
    state: object = None,
    fallback: Callable[[], dict[str, Path]] | None = None,
) -> Pool:
    """Load both parts as a Pool: images [70000, 1, 28, 28] uint8, ids fashion-mnist/train/00042.

    input_size: model.input_size, which must be 28x28 when set; state: unused (the
    dataset is read whole into memory, no catalogue needed).
    fallback: finds gz copies of the raw files when ROOT lacks them (None: debian_files);
    tests pass no_fallback to simulate a machine without the Debian package.
    """
    check_classes(NAME, classes, 10)
    check_shape(NAME, cfg, 1, (28, 28), input_size)
    root = Path(cfg.root).expanduser()
    raw = root / "FashionMNIST" / "raw"
    if not _has_raw(raw):
        _unpack(raw, (fallback or debian_files)())
    if not _has_raw(raw) and not cfg.download:
        raise DataError(
            f"Fashion-MNIST not found under {raw}: install the Debian package "
            f"{DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}) "
            "or set data.download: true (needs internet)"
        )
    # Imported here: torchvision takes seconds to import and only these sources need it.
    from torchvision.datasets import FashionMNIST

    parts = []
    for train, name in [(True, "train"), (False, "test")]:
        try:
            ds = FashionMNIST(str(root), train=train, download=cfg.download)
        except (OSError, RuntimeError, ValueError, AssertionError) as exc:
            # torchvision checks the file format with assert, hence AssertionError.
            raise DataError(
                f"Fashion-MNIST under {raw}: cannot read the files "
                f"({type(exc).__name__}: {exc}); delete {raw} to unpack or download them again"
            ) from exc
        images = ds.data.numpy()[:, None]  # [items, 28, 28] -> [items, 1, 28, 28]
        parts.append(Part(name, images, ds.targets.numpy().astype(np.int64)))
    return pool_from_parts(NAME, parts, classes, cfg)


def no_fallback() -> dict[str, Path]:
    """A fallback that finds nothing (a machine without the Debian package)."""
    return {}


def debian_files(package: str | None = None, directory: Path | None = None) -> dict[str, Path]:
    """The package's gz files by unzipped name ("train-images-idx3-ubyte" -> .../x.gz).

    Asks dpkg where `package` put them when dpkg exists (package "" skips dpkg); otherwise
    looks in `directory`. Defaults: DEBIAN_PACKAGE, DEBIAN_DIR.
    """
    package = DEBIAN_PACKAGE if package is None else package
    directory = DEBIAN_DIR if directory is None else directory
    candidates = _dpkg_files(package) if package and shutil.which("dpkg") else []
    if not candidates and directory.is_dir():
        candidates = sorted(directory.glob("*-idx?-ubyte.gz"))
    found = {p.name[: -len(".gz")]: p for p in candidates if p.is_file()}
    return {name: path for name, path in found.items() if name in RAW_FILES}


def _dpkg_files(package: str) -> list[Path]:
    try:
        listed = subprocess.run(
            ["dpkg", "-L", package], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if listed.returncode != 0:  # not installed
        return []
    return [Path(line) for line in listed.stdout.splitlines() if line.endswith("-ubyte.gz")]


def _has_raw(raw: Path) -> bool:
    return all((raw / name).is_file() for name in RAW_FILES)


def _unpack(raw: Path, files: dict[str, Path]) -> None:
    """Unzip the fallback's gz files into raw/ (those missing there), if it has them all."""
    missing = [name for name in RAW_FILES if not (raw / name).is_file()]
    if not all(name in files for name in missing):
        return
    log.info("unpacking Fashion-MNIST from %s into %s", files[missing[0]].parent, raw)
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _gunzip(files[name], raw / name)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot unpack Fashion-MNIST into {raw}: {exc}") from None


def _gunzip(src: Path, dst: Path) -> None:
    # Write then rename, so an interrupted unpack never leaves a short file behind.
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with gzip.open(src, "rb") as zipped, tmp.open("wb") as out:
            shutil.copyfileobj(zipped, out, length=1 << 20)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
