"""What runs in the background process `serve` starts for a cycle: `activelearn cycle`,
then `activelearn report`, with the output in WORK_DIR/serve/cycle.log.

`serve` forks these processes from a forkserver that imported this module (and with it
the cycle's code and torch) once: a cycle starts in milliseconds, not in the seconds an
interpreter takes to import torch.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from activelearn.config.load import load_config
from activelearn.errors import ActiveLearnError, StateError, redact
from activelearn.loop.run import run_cycle
from activelearn.project import Project
from activelearn.reporting.report import project_report

# the exit code of a cycle that found another one holding the project's lock
LOCKED = 75


def append_journal(path: Path, record: dict[str, Any]) -> None:
    """One JSON line appended to the cycles journal (one write: lines never mix)."""
    append_line(path, (json.dumps(record, sort_keys=True) + "\n").encode())


JOURNAL_TAIL = 1 << 20  # bytes of the journal read back at start-up for the last number


def resume_journal(path: Path) -> int:
    """The highest cycle number in the journal's last JOURNAL_TAIL bytes (0: none, or
    no journal), with a last line that a crash left without its newline ended first, so
    the next record starts a line of its own. Lines that are torn, not JSON or without a
    whole-number "cycle" are skipped; the highest number counts, so a journal edited to
    go backwards never makes a number repeat."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - JOURNAL_TAIL))
            tail = f.read()
        if tail and not tail.endswith(b"\n"):
            append_line(path, b"\n")
    except FileNotFoundError:
        return 0
    except OSError as exc:  # a folder in its place, no permission
        raise StateError(f"{path}: the cycles journal cannot be read ({exc.strerror}); "
                         "fix it or move it away (serve starts a new one)") from None
    found = 0
    for raw in tail.splitlines():
        try:
            number = json.loads(raw).get("cycle")
        except (ValueError, AttributeError, RecursionError):  # torn, garbage, no object
            continue
        if type(number) is int and 0 < number < 2**53:
            found = max(found, number)
    return found


def append_line(path: Path, data: bytes) -> None:
    """data appended to the file in one write (records of processes never mix)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def run_cycle_process(config_path: str, journal: str, log_path: str, number: int) -> None:
    """The process's body: records its start, runs one cycle and the report, and exits
    0 (done or nothing to do), LOCKED (another cycle held the lock), or the error's exit
    code (the error's line is in the log)."""
    append_journal(Path(journal), {"event": "start", "cycle": number, "at": time.time(),
                                   "pid": os.getpid()})
    with open(log_path, "a", buffering=1) as out:
        sys.stdout = sys.stderr = out
        logging.basicConfig(stream=out, level=logging.WARNING, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")

        def echo(line: str = "") -> None:
            print(line, file=out, flush=True)

        echo(f"== cycle {number} (pid {os.getpid()}) at "
             f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        code = 0
        try:
            project = Project(load_config(config_path))
            if not run_cycle(project, echo, progress=False):
                code = LOCKED
            else:
                written = project_report(project)
                echo(f"wrote {written.page}")
        except ActiveLearnError as exc:
            echo(f"error: {exc}")
            code = exc.exit_code
        except Exception:  # the log gets the whole story; serve reports exit 1
            echo(redact(traceback.format_exc()))  # no token an error echoed
            code = 1
    sys.exit(code)


def warm_up() -> None:
    """A no-op: starting it makes the forkserver import this module ahead of a cycle."""
