"""The `manifest` source: a CSV or JSONL file listing images.

CSV: a header with `id,path` and optionally `label` and `split` columns.
JSONL: one object per line, {"id": ..., "path": ..., "label": ..., "split": ...}.
A path is a local path (relative ones are relative to the manifest's folder) or a
file://, http(s):// or s3:// URI. An empty or missing label means
unlabeled; `split: test` puts the item in the source's test part. A row whose path is
missing or no regular file (a FIFO, a device) is skipped with the reason, like an
unreadable image.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from activelearn.config import DataConfig
from activelearn.data.catalogue import Candidate
from activelearn.data.sources.base import Pool
from activelearn.data.sources.files import SourceState, decode_size, pool_from_files
from activelearn.data.uris import scheme_of
from activelearn.errors import ConfigError, DataError
from activelearn.kinds import UNKNOWN_LABEL

SPLITS = ("", "train", "test")  # "train" and "" both mean the pool


def load(cfg: DataConfig, classes: list[str], input_size: tuple[int, int] | None = None,
         state: SourceState | None = None) -> Pool:
    """Load the images a manifest file (cfg.root: .csv or .jsonl) lists."""
    path = Path(cfg.root).expanduser()
    return pool_from_files(lambda: read_manifest(path, classes), classes, cfg,
                           decode_size(cfg, input_size), f"manifest {path}", state)


def read_manifest(path: Path, classes: list[str]) -> list[Candidate]:
    """Parse and check a manifest; raises DataError naming the line of the first problem."""
    readers = {".csv": _csv_rows, ".jsonl": _jsonl_rows}
    if path.suffix.lower() not in readers:
        raise ConfigError(f"manifest {path}: expected a .csv or .jsonl file (set data.root)")
    if not path.is_file():  # is_file() is False for a FIFO too, which would block a read
        what = "not a regular file" if path.exists() else "file not found"
        raise DataError(f"manifest {path}: {what} (set data.root)")
    index = {name: i for i, name in enumerate(classes)}
    seen: dict[str, int] = {}
    items = []
    try:
        for line, row in readers[path.suffix.lower()](path):
            item = _item(path, line, row, index)
            if item.item_id in seen:
                raise DataError(
                    f"manifest {path}: line {line}: duplicate id {item.item_id!r} "
                    f"(first on line {seen[item.item_id]})"
                )
            seen[item.item_id] = line
            items.append(item)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # csv: a field over 128 KB
        raise DataError(f"manifest {path}: cannot read: {exc}") from None
    return items


def _item(manifest: Path, line: int, row: dict[str, Any], index: dict[str, int]) -> Candidate:
    where = f"manifest {manifest}: line {line}"
    item_id = _text(row.get("id"))
    file = _text(row.get("path"))
    if not item_id or not file:
        raise DataError(f"{where}: needs a non-empty id and path")
    label = _text(row.get("label"))
    if label and label not in index:
        raise DataError(
            f"{where}: id {item_id!r}: label {label!r} is not a class "
            f"(classes: {', '.join(index)})"
        )
    split = _text(row.get("split")).lower()
    if split not in SPLITS:
        raise DataError(f"{where}: id {item_id!r}: split {split!r} must be train, test or empty")
    label_index = index[label] if label else UNKNOWN_LABEL
    if scheme_of(file) != "file" or file.startswith(("file:", "FILE:")):
        return Candidate(item_id, file, label_index, split == "test")
    resolved = Path(file).expanduser()
    if not resolved.is_absolute():
        resolved = manifest.parent / resolved
    size, version = _stat(resolved)
    return Candidate(item_id, str(resolved), label_index, split == "test", size, version)


def _stat(path: Path) -> tuple[int, str]:
    """The listing size and version of a local file ((-1, "-") for a missing one or no
    regular file: the catalogue then reads it, and gives the reason)."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, "-"
    return (st.st_size, str(st.st_mtime_ns)) if stat.S_ISREG(st.st_mode) else (-1, "-")


def _text(value: Any) -> str:
    """A manifest field as text: missing/None is empty; JSON numbers become their digits."""
    if value is None:
        return ""
    return str(value).strip()


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip() for f in reader.fieldnames or []]
        if "id" not in fields or "path" not in fields:
            raise DataError(
                f"manifest {path}: the header must name the columns id and path "
                f"(found: {', '.join(fields) or 'nothing'})"
            )
        reader.fieldnames = fields
        for row in reader:
            yield reader.line_num, row


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"manifest {path}: line {line}: not valid JSON: {exc.msg}"
                ) from None
            except RecursionError:  # a runaway [[[...: a row is one flat object
                raise DataError(f"manifest {path}: line {line}: nested too deep; a row is "
                                "one flat JSON object") from None
            if not isinstance(row, dict):
                raise DataError(f"manifest {path}: line {line}: expected a JSON object")
            yield line, row
