"""The `imagefolder` source: class subfolders of labeled images, loose files unlabeled.

    root/cat/001.png      -> id "cat/001.png", label "cat"
    root/dog/x/002.jpg    -> id "dog/x/002.jpg", label "dog" (nested folders keep the class)
    root/0042.png         -> id "0042.png", unlabeled

root is a local folder, a file:// URI, an http(s):// folder whose server lists it (as
python -m http.server does) or an s3://bucket/prefix (uris.list_folder). An image name
that is no regular file (a FIFO, a socket, a device, a broken symbolic link) is kept as a
candidate and then skipped with the reason when read (the catalogue never opens one), so
the pool's `skipped` lists it.
"""

from __future__ import annotations

from pathlib import Path

from activelearn.config import DataConfig
from activelearn.data.catalogue import Candidate
from activelearn.data.sources.base import Pool
from activelearn.data.sources.files import SourceState, decode_size, pool_from_files
from activelearn.data.uris import list_folder, local_path, scheme_of
from activelearn.errors import DataError
from activelearn.kinds import UNKNOWN_LABEL

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def load(cfg: DataConfig, classes: list[str], input_size: tuple[int, int] | None = None,
         state: SourceState | None = None) -> Pool:
    """Load every image under cfg.root; see the module docstring for the layout."""
    root = cfg.root
    if scheme_of(root) == "file":
        root = str(Path(local_path(root)).expanduser())
    return pool_from_files(lambda: scan(root, classes), classes, cfg,
                           decode_size(cfg, input_size), f"imagefolder {root}", state)


def scan(root: str, classes: list[str]) -> list[Candidate]:
    """The image files under root, labeled by their top-level class folder.

    Hidden entries and files without an image suffix are ignored; a top-level folder
    that is not a class raises DataError, since it usually means a typo in `classes` or
    the folder.
    """
    index = {name: i for i, name in enumerate(classes)}
    try:
        listed = list_folder(root)
    except DataError as exc:
        raise DataError(f"imagefolder {exc} (set data.root to the image folder)") from None
    folders = {f.relative.split("/")[0] for f in listed if "/" in f.relative}
    if scheme_of(root) == "file":  # empty class folders too (a listing shows only files)
        folders |= {e.name for e in Path(root).iterdir()
                    if e.is_dir() and not e.name.startswith(".")}
    for folder in sorted(folders):
        if folder not in index:
            raise DataError(
                f"imagefolder {root}: folder {folder!r} is not a class "
                f"(classes: {', '.join(classes)})"
            )
    items: list[Candidate] = []
    for f in listed:
        parts = f.relative.split("/")
        name = parts[-1]
        if name[name.rfind("."):].lower() not in IMAGE_SUFFIXES:  # no "." : not a suffix
            continue
        label = index[parts[0]] if len(parts) > 1 else UNKNOWN_LABEL
        items.append(Candidate(f.relative, f.uri, label, False, f.size, f.version))
    return items

