"""The `imagefolder` source: class subfolders of labeled images, loose files unlabeled.

    root/cat/001.png      -> id "cat/001.png", label "cat"
    root/dog/x/002.jpg    -> id "dog/x/002.jpg", label "dog" (nested folders keep the class)
    root/0042.png         -> id "0042.png", unlabeled

An image name that is no regular file (a FIFO, a socket, a device, a broken symbolic
link) is kept as a candidate and then skipped with the reason when decoded
(decode.decode_file never opens one), so the pool's `skipped` lists it.
"""

from __future__ import annotations

import os
from pathlib import Path

from activelearn.config import DataConfig
from activelearn.data.sources.base import Pool
from activelearn.data.sources.files import FileItem, image_spec, pool_from_files
from activelearn.errors import DataError
from activelearn.kinds import UNKNOWN_LABEL

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def load(cfg: DataConfig, classes: list[str]) -> Pool:
    """Load every image under cfg.root; see the module docstring for the layout."""
    spec = image_spec(cfg, "imagefolder")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DataError(f"imagefolder {root}: not a folder (set data.root to the image folder)")
    items = scan(root, classes)
    return pool_from_files(items, classes, spec, cfg, f"imagefolder {root}")


def scan(root: Path, classes: list[str]) -> list[FileItem]:
    """The image files under root, labeled by their top-level class folder.

    Hidden entries and files without an image suffix are ignored (any other entry with an
    image suffix is a candidate, regular file or not); a folder that is not a class
    raises DataError, since it usually means a typo in `classes` or the folder.
    """
    index = {name: i for i, name in enumerate(classes)}
    items: list[FileItem] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in index:
                raise DataError(
                    f"imagefolder {root}: folder {entry.name!r} is not a class "
                    f"(classes: {', '.join(classes)})"
                )
            items += _files(root, entry, index[entry.name])
        elif _has_image_suffix(entry):
            items.append(FileItem(entry.name, str(entry), UNKNOWN_LABEL))
    return items


def _files(root: Path, folder: Path, label: int) -> list[FileItem]:
    # os.walk rather than Path.rglob: it learns file/folder from the directory listing
    # instead of a stat() per file, which matters for folders of many small images.
    found = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_dir = Path(here).relative_to(root).as_posix()
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(FileItem(f"{rel_dir}/{name}", os.path.join(here, name), label))
    return sorted(found, key=lambda it: it.item_id)


def _has_image_suffix(path: Path) -> bool:
    # Folders were taken out before. No is_file() here: a FIFO or a broken link named
    # x.png would vanish silently; decoding skips it with the reason instead.
    return path.suffix.lower() in IMAGE_SUFFIXES
