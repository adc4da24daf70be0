"""A Label Studio server on this machine, started by scripts/label_studio.sh (its own
environment .venv-ls, a data directory copied from a migrated template, a free loopback
port, an admin and an API token written into the data directory): the demo's server,
and the benchmarks' and tests' throwaway ones.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from activelearn.errors import ActiveLearnError

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "label_studio.sh"


@dataclass
class LocalServer:
    """A Label Studio server run by scripts/label_studio.sh: url, pid and its data
    directory (which holds url, pid, api_token and the admin's login)."""

    url: str
    pid: int
    data_dir: Path
    started: bool  # by this process (else an earlier run's, still running)

    @property
    def token_file(self) -> Path:
        return self.data_dir / "api_token"

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.pid)], capture_output=True,
                       timeout=60)


def start_label_studio(data_dir: Path, timeout: float = 900,
                       document_root: Path | None = None) -> LocalServer:
    """Start a server with its data in data_dir (a fresh directory, or one a stopped
    server left); ActiveLearnError with the script's last line when it does not start.
    document_root: the folder whose images it may serve as local files (default: the
    repository, see scripts/label_studio.sh)."""
    if not SCRIPT.exists():
        raise ActiveLearnError(f"starting Label Studio needs {SCRIPT}, which is not here: "
                               "run from a clone of the repository")
    env = dict(os.environ)
    if document_root is not None:
        env["LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"] = str(Path(document_root).resolve())
    done = subprocess.run(["bash", str(SCRIPT), "start", "0", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ActiveLearnError(f"Label Studio did not start: {why}; install it with "
                               "`bash scripts/setup.sh --label-studio`")
    return LocalServer((data_dir / "url").read_text().strip(), int(done.stdout.split()[-1]),
                       data_dir, started=True)


@contextmanager
def running_label_studio(data_dir: Path) -> Iterator[LocalServer]:
    """A server for the length of a `with` block, stopped by its pid at the end."""
    server = start_label_studio(data_dir)
    try:
        yield server
    finally:
        server.stop()
