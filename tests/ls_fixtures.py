"""A real Label Studio server for the tests (a pytest plugin: tests/conftest.py names it
in pytest_plugins).

One server per test session, started by scripts/label_studio.sh on a free loopback port
with a data directory copied from a migrated template (seconds, not the ~40 s of a fresh
migration), and stopped by its pid at the end. Tests keep apart by using their own
project (see `ls_project_title`).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "label_studio.sh"
LS_VENV = ROOT / ".venv-ls"


class LabelStudioServer(NamedTuple):
    url: str
    token: str


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> Iterator[LabelStudioServer]:
    """(url, token) of a running Label Studio server, for the whole session."""
    if not (LS_VENV / "bin" / "label-studio").exists():
        pytest.fail(f"Label Studio is not installed in {LS_VENV}: run "
                    "`bash scripts/label_studio.sh install` once (CI does)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("label-studio")
    started = subprocess.run(["bash", str(SCRIPT), "start", "0", str(data_dir)],
                             capture_output=True, text=True, timeout=600)
    if started.returncode != 0:
        pytest.fail(f"Label Studio did not start:\n{started.stderr[-3000:]}", pytrace=False)
    pid = started.stdout.split()[-1]
    try:
        yield LabelStudioServer(url=(data_dir / "url").read_text().strip(),
                                token=(data_dir / "api_token").read_text().strip())
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", pid], capture_output=True, timeout=60)


@pytest.fixture
def ls_project_title() -> str:
    """A project title no other test uses."""
    return f"test-{uuid.uuid4().hex[:10]}"
