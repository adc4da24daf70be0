"""Writing files so that nobody ever reads half of one: the one atomic writer, and CSV.

A job whose output exists is done, a results file is read while simulate runs, a
checkpoint is loaded by workers: each is written to a temporary file in the same folder
and renamed into place, so a crash, Ctrl-C or a second writer leaves either the old
complete file or the new one.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path


def write_atomically(path: Path | str, write: Callable[[Path], object],
                     exclusive: bool = False) -> Path:
    """Call write(tmp) with a temporary path next to `path` (same folder and suffix, so
    np.savez and friends keep the name), flush it to disk, then rename it onto `path`.
    The temporary file is removed when write fails. Returns `path`.

    exclusive: publish only if `path` does not exist yet (FileExistsError otherwise), so
    two processes never both write one file: the first complete one stays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if path exists: put-if-absent
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path | str, text: str) -> Path:
    """Write text (UTF-8) atomically; see write_atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_csv(path: Path | str, rows: Sequence[Sequence[object]]) -> str:
    """Write rows (the header first) as CSV atomically. Returns the file name (for the
    report's links)."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    return write_atomically(path, write).name
