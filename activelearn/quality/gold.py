"""Gold items: pool items with trusted labels, read from quality.gold_file, mixed into
query batches so each annotator's accuracy can be measured (see state/quality.py).

Gold tasks look like any other query task to annotators (same kind, a score, but no
model prediction). Their annotations are stored and scored, the item keeps its trusted
label, and that label is what training uses once the task has been annotated.

The file is UTF-8 text: a CSV with the header item_id,label, or (.jsonl or .json) one
JSON object {"item_id": ..., "label": ...} per line. A label is a class name or a class
index (an integer, or its digits in a CSV). Anything else in the file is a ConfigError
that names the file and the line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from activelearn.errors import ConfigError

JSON_SUFFIXES = (".jsonl", ".json")
FIELDS = ("item_id", "label")
_DIGITS = re.compile(r"[0-9]+")  # int() would also take "+1", " 1", "1_0" and other scripts


def read_gold_file(path: str | Path, classes: Sequence[str],
                   known: set[str] | dict[str, int]) -> dict[str, int]:
    """item_id -> class index from a CSV (header item_id,label) or JSON-lines file; a
    label is a class name or index. Every item must be in `known` (the pool's ids).
    Raises ConfigError, naming the file and line, on the first malformed row."""
    path = Path(path)
    where = f"quality.gold_file {path}"
    text = _read_text(path, where)
    rows = _json_rows(text, where) if path.suffix.lower() in JSON_SUFFIXES else \
        _csv_rows(text, where)
    gold: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        at = f"{where}: line {line}"
        item_id = _item_id(row, at)
        if item_id not in known:
            raise ConfigError(f"{at}: item {item_id!r} is not in the pool; fix the id or "
                              "remove the row")
        label = _class_index(row["label"], classes, f"{at}: item {item_id!r}")
        if item_id in gold and gold[item_id] != label:
            raise ConfigError(
                f"{at}: item {item_id!r} has label {classes[label]!r} here and "
                f"{classes[gold[item_id]]!r} on line {first_line[item_id]}; keep one")
        gold[item_id] = label
        first_line.setdefault(item_id, line)
    return gold


def _read_text(path: Path, where: str) -> str:
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block
        raise ConfigError(f"{where}: not a regular file; set quality.gold_file to a CSV or "
                          "JSON-lines file")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: a BOM from a spreadsheet
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start}); save it as UTF-8 CSV or JSON lines") from None
    if "\x00" in text:
        raise ConfigError(f"{where}: not text (it holds NUL bytes); expected a CSV or "
                          "JSON-lines file")
    if not text.strip():
        raise ConfigError(f"{where}: empty; expected a CSV with the header item_id,label "
                          "or one JSON object per line")
    return text


def _json_rows(text: str, where: str) -> Iterator[tuple[int, dict]]:
    for line, chunk in enumerate(text.splitlines(), start=1):
        if not chunk.strip():
            continue
        try:
            row = json.loads(chunk)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: line {line}: not JSON ({exc.msg}); write one "
                              'object per line, {"item_id": ..., "label": ...}') from None
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: line {line}: expected a JSON object with item_id "
                              f"and label, got {_kind(row)}")
        _check_fields(row, f"{where}: line {line}")
        yield line, row


def _csv_rows(text: str, where: str) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(text.splitlines())
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        if not set(FIELDS) <= set(header):
            raise ConfigError(
                f"{where}: line {reader.line_num}: the CSV header must name the columns "
                f"item_id and label (found: {', '.join(map(repr, header)) or 'nothing'})")
        reader.fieldnames = header
        for row in reader:
            at = f"{where}: line {reader.line_num}"
            if None in row:  # DictReader's key for fields beyond the header
                raise ConfigError(f"{at}: more fields than the header's {len(header)}; "
                                  "quote a value that holds a comma")
            _check_fields(row, at)
            yield reader.line_num, row
    except csv.Error as exc:
        raise ConfigError(f"{where}: line {reader.line_num}: not CSV ({exc})") from None


def _check_fields(row: dict, at: str) -> None:
    # DictReader fills fields missing from a short row with None
    missing = [name for name in FIELDS if row.get(name) is None]
    if missing:
        raise ConfigError(f"{at}: no {' and no '.join(missing)}; every row needs item_id "
                          "and label")


def _item_id(row: dict, at: str) -> str:
    """The row's item_id as text; a JSON integer id is taken as its digits."""
    value = row["item_id"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{at}: item_id {value!r} is {_kind(value)}; expected text")
    item_id = str(value)
    if not item_id.strip():
        raise ConfigError(f"{at}: item_id is empty; every row needs a pool item's id")
    return item_id


def _class_index(label: object, classes: Sequence[str], where: str) -> int:
    """A class name or index (an int, or digits in text) -> the class index."""
    names = list(classes)
    if isinstance(label, str):
        text = label.strip()
        for name in (label, text):
            if name in names:
                return names.index(name)
        index = int(text) if _DIGITS.fullmatch(text) else -1
    elif isinstance(label, int) and not isinstance(label, bool):
        index = label
    else:
        raise ConfigError(f"{where}: label {label!r} is {_kind(label)}; expected a class "
                          f"name or an index (0..{len(names) - 1})")
    if not 0 <= index < len(names):
        raise ConfigError(f"{where}: label {label!r} is neither a class name nor an index "
                          f"(0..{len(names) - 1})")
    return index


def _kind(value: object) -> str:
    """'a float', 'a list', 'null' ... as a user reads JSON."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text",
             list: "a list", dict: "an object"}
    return names.get(type(value), f"a {type(value).__name__}")
