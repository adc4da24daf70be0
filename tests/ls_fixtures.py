"""A real Label Studio server for the tests (a pytest plugin: tests/conftest.py names it
in pytest_plugins).

One server per test session, started by scripts/label_studio.sh on a free loopback port
with a data directory copied from a migrated template (seconds, not the ~40 s of a fresh
migration), and stopped by its pid at the end. Tests keep apart by using their own
project (see `ls_project_title`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from activelearn.annotation.label_studio.local_server import start_label_studio
from activelearn.errors import ActiveLearnError

ROOT = Path(__file__).resolve().parent.parent
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
    try:
        server = start_label_studio(tmp_path_factory.mktemp("label-studio"), timeout=600)
    except ActiveLearnError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield LabelStudioServer(url=server.url, token=server.token)
    finally:
        server.stop()


@pytest.fixture
def ls_project_title() -> str:
    """A project title no other test uses."""
    return f"test-{uuid.uuid4().hex[:10]}"
