"""Driving the real loop in tests: a project linked to the test Label Studio server, the
`cycle` and `bot` commands in this process or as a real subprocess (for kill -9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from activelearn.annotation.label_studio import choice_result
from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.sources import load_source
from activelearn.failpoints import ENV as FAILPOINT_ENV
from activelearn.loop.project import PROJECT_ID_KEY
from activelearn.state import Store
from support import ROOT


class Project:
    """What a test needs to look at a project: its config, state, truth and server."""

    def __init__(self, path: Path, server) -> None:
        self.path = path
        self.cfg = load_config(path)
        self.backend = LabelStudioBackend.connect(server.url, server.token)
        pool = load_source(self.cfg.data, self.cfg.classes)
        self.truth = dict(zip(pool.item_ids, pool.labels.tolist()))

    @property
    def project_id(self) -> int:
        with self.store() as store:
            return int(store.meta.get(PROJECT_ID_KEY) or 0)

    def store(self) -> Store:
        """The project's state, for `with p.store() as store:`."""
        return Store.open(self.cfg.work_dir / "state.sqlite")

    def tasks(self) -> list:
        """Every task of the Label Studio project."""
        return list(self.backend.client.tasks.list(project=self.project_id, fields="all"))

    def annotate(self, label_of=None, limit: int | None = None) -> int:
        """Annotate every task without an annotation (ground truth unless label_of says)."""
        done = 0
        for task in self.tasks():
            if task.total_annotations or (limit is not None and done >= limit):
                continue
            item = task.data["item_id"]
            label = label_of(item) if label_of else self.cfg.classes[self.truth[item]]
            self.backend.client.annotations.create(id=task.id, result=choice_result(label))
            done += 1
        return done


def cycle(path: Path, expect: int | None = 0) -> str:
    """`activelearn cycle` in this process; asserts its exit code (expect None: any) and
    returns what it printed."""
    code, out = cycle_result(path)
    if expect is not None:
        assert code == expect, f"cycle exited {code}, expected {expect}:\n{out}"
    return out


def cycle_result(path: Path) -> tuple[int, str]:
    """`activelearn cycle` in this process: (exit code, output)."""
    result = CliRunner().invoke(main, ["cycle", "--config", str(path), "--no-progress"])
    return result.exit_code, result.output


def cycle_process(path: Path, failpoint: str | None = None, **env: str) -> subprocess.Popen:
    """`activelearn cycle` as a real process (killed by itself at `failpoint`, if given)."""
    environ = dict(os.environ, **env)
    environ.pop(FAILPOINT_ENV, None)
    if failpoint:
        environ[FAILPOINT_ENV] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "activelearn.cli", "cycle", "--config", str(path),
         "--no-progress"], env=environ, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def run_cycle_process(path: Path, failpoint: str | None = None) -> tuple[int, str]:
    """cycle_process to its end: (exit code, -9 for a failpoint's kill; output)."""
    proc = cycle_process(path, failpoint)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out + err


def bot(path: Path, *args: str) -> str:
    """`activelearn bot`, which must succeed; returns what it printed."""
    result = CliRunner().invoke(main, ["bot", "--config", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.output
