"""`activelearn export`: the labelled data out of a project's state, as CSV, JSONL or an
image folder that torchvision's ImageFolder reads.

    items = read_labelled(project)
    check_labels(items, classes, cfg.path)
    prepare_out(out, force)
    result = write_export(items, classes, "imagefolder", out, load_pool)

Every format writes OUT/classes.txt (one class name per line, line n = label index n)
and OUT/labels.csv or OUT/labels.jsonl: one row per labelled item with its split,
label (name and index), annotators, number of annotations, round, source and path.
`imagefolder` also writes OUT/<split>/<class folder>/<item file>: a copy of the item's
file when it has one torchvision can read, else its pool pixels as PNG; its labels.csv
names each item's file.

Every export also writes OUT/.activelearn-export.json (MANIFEST): its format, every
file it wrote and every folder it wrote into and which of those it created, as paths
relative to OUT. A non-empty --out needs --force, which removes what that manifest lists
and nothing else: the files, then the created folders once they are empty. A file the
user added is kept, and so is the folder that holds it (the next manifest still lists
that folder as created by an export). A listed file that the user changed since is
removed all the same. A non-empty folder without a manifest is refused even with
--force, and so is a manifest that names a path outside OUT: nothing is removed then.
An export never overwrites what it did not write: it stops before writing anything.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image

from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError, DataError, OptionError, StateError
from activelearn.files import write_text
from activelearn.project import Project
from activelearn.state import LabelledItem

FORMATS = ("csv", "jsonl", "imagefolder")
FIELDS = ["item_id", "split", "label", "label_index", "annotators", "annotations", "round",
          "source", "path"]
CLASSES_FILE = "classes.txt"
MANIFEST = ".activelearn-export.json"  # what an export wrote: all `force` may remove
# The parameters the errors name (OptionError): the command line shows its flags.
OPTIONS = {"out": "out", "fmt": "fmt", "force": "force"}
# torchvision's ImageFolder reads only these suffixes (datasets.folder.IMG_EXTENSIONS);
# an item file with another one (.gif) is written as PNG from the pool instead.
COPY_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff",
                           ".webp"})
MAX_NAME = 200  # bytes; file systems allow 255 per name


@dataclass
class ExportResult:
    """What write_export wrote: counts per split, top-level files, images copied/encoded."""

    out: Path
    fmt: str
    counts: dict[str, int]
    files: list[str]
    copied: int = 0
    encoded: int = 0

    def summary(self) -> str:
        """One line for the user, e.g. 'exported 40 labelled items (30 train, 10 holdout)'."""
        total = sum(self.counts.values())
        splits = ", ".join(f"{n} {split}" for split, n in sorted(self.counts.items()))
        line = (f"exported {total} labelled items{f' ({splits})' if splits else ''} "
                f"as {self.fmt} to {self.out}: {', '.join(self.files)}")
        if self.fmt == "imagefolder":
            line += f" and {self.copied} copied + {self.encoded} PNG images"
        return line


def read_labelled(project: Project) -> list[LabelledItem]:
    """The labelled items of a project's state file; StateError when there is none."""
    if not project.state_path.is_file():  # never create a state just to look into it
        raise StateError(f"no state in {project.state_path}: nothing is labelled yet; run "
                         "activelearn cycle first, or check project.work_dir")
    with project.store(readonly=True) as store:
        return store.labels.labelled_items()


def check_labels(items: list[LabelledItem], classes: list[str], where: str) -> None:
    """ConfigError when a label is no index into classes (the config's classes changed)."""
    bad = [item for item in items if not 0 <= item.label < len(classes)]
    if bad:
        raise ConfigError(f"{where}: classes: {len(bad)} labelled items have a label "
                          f"outside the {len(classes)} classes (item {bad[0].item_id!r}: "
                          f"{bad[0].label}); restore the class list they were labelled with")


def prepare_out(out: Path, force: bool) -> None:
    """Make out ready: an empty or new folder, or, with force, one whose earlier export
    (as its MANIFEST lists it) is removed; any other file stays. ConfigError otherwise."""
    if out.exists() and not out.is_dir():
        raise OptionError("{out} {path}: is a file, not a folder; choose another {out}",
                          OPTIONS, path=out)
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST).exists() and not (out / MANIFEST).is_symlink():
            raise OptionError("{out} {path}: not empty and no earlier export's manifest in "
                              "it; choose an empty folder", OPTIONS, path=out)
        if not force:
            raise OptionError("{out} {path}: folder is not empty; pass {force} to replace "
                              "an earlier export there, or choose another {out}", OPTIONS,
                              path=out)
        remove_export(out, read_manifest(out) or {})
    out.mkdir(parents=True, exist_ok=True)


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The MANIFEST in out; None when there is none, ConfigError when it is no manifest."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_manifest(out, "unreadable: {exc}", exc=exc) from None
    if not isinstance(manifest, dict):
        raise _bad_manifest(out, "not a JSON object")
    for key in ("files", "created_folders"):
        listed = manifest.get(key, [])
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise _bad_manifest(out, "{key} is not a list of paths", key=repr(key))
    return manifest


def remove_export(out: Path, manifest: dict[str, Any]) -> None:
    """Remove the files a manifest lists, then the folders it created that are empty
    then. Every path is checked first: one outside out (or reached through a symbolic
    link to elsewhere) is a ConfigError and nothing is removed."""
    files = [_inside(out, p) for p in manifest.get("files", []) if p != MANIFEST]
    folders = [_inside(out, p) for p in manifest.get("created_folders", [])]
    for file in files:
        if file.is_dir() and not file.is_symlink():
            raise OptionError("{out} {path}: {file} was a file of the earlier export and "
                              "is now a folder; nothing was removed: move it away, or choose "
                              "an empty folder", OPTIONS, path=out, file=file.relative_to(out))
    for file in files:
        file.unlink(missing_ok=True)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()


def _inside(out: Path, listed: str) -> Path:
    """out / listed, when listed is a relative path that stays inside out."""
    posix, windows = PurePosixPath(listed), PureWindowsPath(listed)
    path = out / posix
    # the parent is resolved, not the path: a listed symbolic link is removed itself
    outside = (not posix.parts or posix.is_absolute() or ".." in posix.parts
               or bool(windows.drive or windows.root)
               or not path.parent.resolve().is_relative_to(out.resolve()))
    if outside:
        raise _bad_manifest(out, "it lists {listed}, which is not inside {out}",
                            listed=repr(listed))
    return path


def _bad_manifest(out: Path, why: str, **values: object) -> OptionError:
    """why: an OptionError template, values its fields."""
    return OptionError("{out} {path}: {manifest}: " + why + "; nothing was removed: fix or "
                       "delete it, or choose an empty folder", OPTIONS, path=out,
                       manifest=MANIFEST, **values)


def write_export(items: list[LabelledItem], classes: list[str], fmt: str, out: Path,
                 load_pool: Callable[[], Pool]) -> ExportResult:
    """Write items to out (prepared by prepare_out) in fmt, with the MANIFEST of what is
    written; load_pool is called only when an image folder needs pixels of items without
    a readable file. Nothing is written when a target is taken or the pool fails."""
    if fmt not in FORMATS:
        raise OptionError("{fmt} {value}: expected one of {formats}", OPTIONS,
                          value=repr(fmt), formats=", ".join(FORMATS))
    rows = [_row(item, classes) for item in items]
    result = ExportResult(out, fmt, dict(Counter(item.split for item in items)),
                          [f"labels.{'jsonl' if fmt == 'jsonl' else 'csv'}", CLASSES_FILE])
    images = _plan_images(items, classes) if fmt == "imagefolder" else []
    files = [*result.files, *(file for _, file in images)]
    folders = sorted({str(parent) for _, file in images
                      for parent in PurePosixPath(file).parents if parent.parts})
    _check_free(out, files, folders)
    # the pool is checked before anything is written: a failed export leaves no half
    pixels = _pool_pixels(load_pool, [item.item_id for item, (source, _) in zip(items, images)
                                      if source is None])
    # folders an earlier export made that a user's file kept stay listed as made by one
    kept = [f for f in (read_manifest(out) or {}).get("created_folders", [])
            if (out / f).is_dir()]
    made = sorted({*kept, *(f for f in folders if not (out / f).exists())})
    write_text(out / MANIFEST, json.dumps(
        {"format": fmt, "files": files, "folders": folders, "created_folders": made},
        indent=1, ensure_ascii=False) + "\n")
    if images:
        result.copied, result.encoded = _write_images(images, items, pixels, out, folders)
        for row, (_, file) in zip(rows, images):
            row["file"] = file
    if fmt == "jsonl":
        _write_jsonl(out / "labels.jsonl", rows)
    else:
        _write_csv(out / "labels.csv", rows, with_file=fmt == "imagefolder")
    (out / CLASSES_FILE).write_text("".join(f"{name}\n" for name in classes))
    return result


def _check_free(out: Path, files: list[str], folders: list[str]) -> None:
    """ConfigError when a path the export writes is taken by something it did not write
    (prepare_out removed what the earlier export wrote)."""
    for folder in folders:
        path = out / folder
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise OptionError("{out} {path}: {folder} is in the way (not a folder an export "
                              "made); move it away, or choose an empty folder", OPTIONS,
                              path=out, folder=folder)
    for file in files:
        if (out / file).exists() or (out / file).is_symlink():
            raise OptionError("{out} {path}: {file} is in the way (not from an earlier "
                              "export); move it away, or choose an empty folder", OPTIONS,
                              path=out, file=file)


def _row(item: LabelledItem, classes: list[str]) -> dict:
    return {"item_id": item.item_id, "split": item.split, "label": classes[item.label],
            "label_index": item.label, "annotators": list(item.annotators),
            "annotations": item.annotations, "round": item.round, "source": item.source,
            "path": item.path}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(path: Path, rows: list[dict], with_file: bool) -> None:
    """Annotators are joined with ',' (state keeps them that way); no path is ''."""
    fields = FIELDS + (["file"] if with_file else [])
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "annotators": ",".join(row["annotators"]),
                             "path": row["path"] or ""})


# -- image folder -----------------------------------------------------------------------
def class_folders(classes: list[str]) -> list[str]:
    """A folder name per class: its name with '/' and other unsafe characters as '_'
    ("T-shirt/top" -> "T-shirt_top"), made distinct with the class index when needed."""
    names = [re.sub(r"[^\w.-]+", "_", name).strip("._") or "class" for name in classes]
    repeated = {n for n, k in Counter(name.lower() for name in names).items() if k > 1}
    return [f"{name}-{i}" if name.lower() in repeated else name for i, name in enumerate(names)]


def file_stem(item_id: str) -> str:
    """A file name for an item id: percent-encoded, so distinct ids never share a file
    ("fashion-mnist/train/00042" -> "fashion-mnist%2Ftrain%2F00042"); long ids are
    shortened and keep a hash of the id."""
    stem = quote(item_id, safe="-_.")
    if len(stem) > MAX_NAME:
        digest = hashlib.sha1(item_id.encode("utf-8")).hexdigest()[:16]
        stem = f"{stem[:MAX_NAME - 17]}-{digest}"
    return stem


def _copyable(path: str | None) -> Path | None:
    if not path:
        return None
    file = Path(path)
    return file if file.suffix.lower() in COPY_SUFFIXES and file.is_file() else None


def _plan_images(items: list[LabelledItem], classes: list[str]) -> list[tuple[Path | None, str]]:
    """Per item (in order): the file to copy (None: encode its pool pixels as PNG) and
    where it goes, out/<split>/<class folder>/<file stem><suffix> relative to out."""
    folders = class_folders(classes)
    plan = []
    for item in items:
        source = _copyable(item.path)
        suffix = source.suffix.lower() if source else ".png"
        plan.append((source, f"{item.split}/{folders[item.label]}/"
                             f"{file_stem(item.item_id)}{suffix}"))
    return plan


def _write_images(images: list[tuple[Path | None, str]], items: list[LabelledItem],
                  pixels: dict[str, np.ndarray], out: Path, folders: list[str]
                  ) -> tuple[int, int]:
    """Copy or encode each planned image; returns how many were copied and encoded."""
    for folder in folders:
        (out / folder).mkdir(parents=True, exist_ok=True)
    for item, (source, file) in zip(items, images):
        if source is not None:
            shutil.copyfile(source, out / file)
        else:
            _png(pixels[item.item_id]).save(out / file, format="PNG")
    copied = sum(source is not None for source, _ in images)
    return copied, len(images) - copied


def _pool_pixels(load_pool: Callable[[], Pool], item_ids: list[str]) -> dict[str, np.ndarray]:
    """item_id -> [channels, height, width] uint8 pixels from the pool (loaded only when
    item_ids is not empty); DataError when an item is not in it."""
    if not item_ids:
        return {}
    pool = load_pool()
    position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
    absent = [item_id for item_id in item_ids if item_id not in position]
    if absent:
        raise DataError(f"{len(absent)} labelled items are not in the data source's pool "
                        f"(first: {absent[0]!r}): the data or data.limit changed since they "
                        "were labelled; restore them, or export csv or jsonl")
    return {item_id: pool.images[position[item_id]].numpy() for item_id in item_ids}


def _png(image: np.ndarray) -> Image.Image:
    """image: [1 or 3, height, width] uint8 -> a grayscale or RGB PIL image."""
    if image.shape[0] == 1:
        return Image.fromarray(image[0])
    return Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)))
