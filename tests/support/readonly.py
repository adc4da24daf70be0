"""A folder nobody may write to, for the tests of read-only work dirs (root included:
root ignores permission bits, so it gets the immutable attribute instead)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """folder made unwritable for the length of the block (its files too, for root)."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        assert chattr, "chattr (e2fsprogs) is needed to make a folder read-only for root"
        subprocess.run([chattr, "+i", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield folder
        finally:
            folder.chmod(mode)
