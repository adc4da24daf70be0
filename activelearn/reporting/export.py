"""`activelearn export`: the labelled data out of a project's state, as CSV, JSONL or an
image folder that torchvision's ImageFolder reads.

    items = read_labelled(work_dir / "state.sqlite")
    check_labels(items, classes, cfg.path)
    prepare_out(out, force)
    result = write_export(items, classes, "imagefolder", out, load_pool)

Every format writes OUT/classes.txt (one class name per line, line n = label index n)
and OUT/labels.csv or OUT/labels.jsonl: one row per labelled item with its split,
label (name and index), annotators, number of annotations, round, source and path.
`imagefolder` also writes OUT/<split>/<class folder>/<item file>: a copy of the item's
file when it has one torchvision can read, else its pool pixels as PNG; its labels.csv
names each item's file.
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
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

from activelearn.data.sources.base import Pool
from activelearn.errors import ConfigError, DataError, StateError
from activelearn.kinds import Split
from activelearn.state import LabelledItem, Store

FORMATS = ("csv", "jsonl", "imagefolder")
FIELDS = ["item_id", "split", "label", "label_index", "annotators", "annotations", "round",
          "source", "path"]
CLASSES_FILE = "classes.txt"
# What an export writes; --force removes these (and only these) before writing again.
OUTPUT_NAMES = ("labels.csv", "labels.jsonl", CLASSES_FILE, *(s.value for s in Split))
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


def read_labelled(state_path: Path) -> list[LabelledItem]:
    """The labelled items of a project's state file; StateError when there is none."""
    if not state_path.is_file():  # never create a state just to look into it
        raise StateError(f"no state in {state_path}: nothing is labelled yet; run "
                         "activelearn cycle first, or check project.work_dir")
    with Store.open(state_path) as store:
        return store.labels.labelled_items()


def check_labels(items: list[LabelledItem], classes: list[str], where: str) -> None:
    """ConfigError when a label is no index into classes (the config's classes changed)."""
    bad = [item for item in items if not 0 <= item.label < len(classes)]
    if bad:
        raise ConfigError(f"{where}: classes: {len(bad)} labelled items have a label "
                          f"outside the {len(classes)} classes (item {bad[0].item_id!r}: "
                          f"{bad[0].label}); restore the class list they were labelled with")


def prepare_out(out: Path, force: bool) -> None:
    """Make out ready: refuse a non-empty folder unless force, which removes what an
    earlier export wrote there (OUTPUT_NAMES) and leaves any other file alone."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out {out}: folder is not empty; pass --force to replace "
                              "an earlier export there, or choose another --out")
        for name in OUTPUT_NAMES:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def write_export(items: list[LabelledItem], classes: list[str], fmt: str, out: Path,
                 load_pool: Callable[[], Pool]) -> ExportResult:
    """Write items to out (prepared by prepare_out) in fmt; load_pool is called only when
    an image folder needs pixels of items without a readable file."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    rows = [_row(item, classes) for item in items]
    result = ExportResult(out, fmt, dict(Counter(item.split for item in items)), [])
    if fmt == "imagefolder":
        files, result.copied, result.encoded = _write_images(items, classes, out, load_pool)
        for row, file in zip(rows, files):
            row["file"] = file
    if fmt == "jsonl":
        _write_jsonl(out / "labels.jsonl", rows)
    else:
        _write_csv(out / "labels.csv", rows, with_file=fmt == "imagefolder")
    (out / CLASSES_FILE).write_text("".join(f"{name}\n" for name in classes))
    result.files = [f"labels.{'jsonl' if fmt == 'jsonl' else 'csv'}", CLASSES_FILE]
    return result


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


def _write_images(items: list[LabelledItem], classes: list[str], out: Path,
                  load_pool: Callable[[], Pool]) -> tuple[list[str], int, int]:
    """Each item's image under out/<split>/<class folder>/; returns the files (relative
    to out, in item order) and how many were copied and encoded."""
    folders = class_folders(classes)
    sources = [_copyable(item.path) for item in items]
    files = []
    for item, source in zip(items, sources):
        suffix = source.suffix.lower() if source else ".png"
        files.append(f"{item.split}/{folders[item.label]}/{file_stem(item.item_id)}{suffix}")
    to_encode = [(item.item_id, file) for item, source, file in zip(items, sources, files)
                 if source is None]
    # the pool is checked before anything is written: a failed export leaves no half
    pixels = _pool_pixels(load_pool, [item_id for item_id, _ in to_encode])
    for folder in {str(Path(file).parent) for file in files}:
        (out / folder).mkdir(parents=True, exist_ok=True)
    for source, file in zip(sources, files):
        if source is not None:
            shutil.copyfile(source, out / file)
    for item_id, file in to_encode:
        _png(pixels[item_id]).save(out / file, format="PNG")
    return files, len(items) - len(to_encode), len(to_encode)


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
