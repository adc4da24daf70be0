"""Driving the real loop in tests: a project linked to the test Label Studio server, the
`cycle` and `bot` commands in this process or as a real subprocess (for kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
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
    """`activelearn cycle` as a real process (killed by itself at `failpoint`, if given).
    Its output is unbuffered, so a process killed with -9 has shown all it printed."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1", **env)
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


def check_tasks(p: Project) -> list:
    """Every task of the project is in state, once per item (review tasks aside); returns
    the project's tasks."""
    tasks = p.tasks()
    labelling = [t for t in tasks if t.data.get("kind") != "review"]
    items = Counter(t.data["item_id"] for t in labelling)
    assert all(n == 1 for n in items.values()), [i for i, n in items.items() if n > 1]
    with p.store() as store:
        recorded = store.tasks.by_item()
        assert {t.id for t in labelling} == set(recorded.values())
        assert set(items) == set(recorded)
    return tasks


@dataclass
class Run:
    """One run of a KillChain: how it ended, what it printed, and what it left in Label
    Studio and in state."""

    failpoint: str | None  # where it was to kill itself (None: the last run, in-process)
    code: int  # -9 when the failpoint killed it
    out: str
    tasks: list  # the Label Studio project's tasks after it
    recorded: dict[str, int]  # state's task of each item
    annotations: int
    labels: dict[str, int]
    batch_kinds: list[str]
    round_statuses: list[str]
    last_failure: object
    resumed_by: Run | None = None  # the next run of the chain

    @property
    def final(self) -> bool:
        return self.failpoint is None

    def check_tasks(self) -> list:
        """Each item has one labelling task in Label Studio, and state knows every task
        Label Studio holds, but right after a kill between import and bookkeeping (there
        it knows only some of them: the next run adopts the rest). The tasks."""
        labelling = [t for t in self.tasks if t.data.get("kind") != "review"]
        items = Counter(t.data["item_id"] for t in labelling)
        assert all(n == 1 for n in items.values()), [i for i, n in items.items() if n > 1]
        assert set(self.recorded.values()) <= {t.id for t in labelling}
        if self.failpoint != "push:imported":
            assert {t.id for t in labelling} == set(self.recorded.values())
            assert set(items) == set(self.recorded)
        return self.tasks


class KillChain:
    """One project through a chain of `cycle` runs: each a real process that kills itself
    (SIGKILL) at the next failpoint, after resuming what the run before left; the last
    run, in this process, finishes the round. What each run left is kept for the tests."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.annotated = 0  # annotations made before the chain (by the fixture)
        self.runs: list[Run] = []

    def run(self, failpoints: list[str]) -> KillChain:
        for failpoint in failpoints:
            code, out = run_cycle_process(self.project.path, failpoint=failpoint)
            self._record(failpoint, code, out)
            if code != -signal.SIGKILL:  # the chain is broken: the tests of the later kills fail
                return self
        code, out = cycle_result(self.project.path)
        self._record(None, code, out)
        return self

    def kill(self, failpoint: str) -> Run:
        found = [r for r in self.runs if r.failpoint == failpoint]
        assert found, f"the chain stopped before {failpoint}: {self.runs[-1].out}"
        assert found[0].resumed_by, f"no run after the kill at {failpoint}"
        return found[0]

    @property
    def end(self) -> Run:
        last = self.runs[-1]
        assert last.final, f"the chain stopped at {last.failpoint}: {last.out}"
        assert last.code == 0, last.out
        return last

    def _record(self, failpoint: str | None, code: int, out: str) -> None:
        p = self.project
        with p.store() as store:
            run = Run(failpoint, code, out, p.tasks(), store.tasks.by_item(),
                      store.annotations.count(), store.labels.current(),
                      [b["kind"] for b in store.batches.all()],
                      [r.status for r in store.rounds.all()], store.rounds.last_failure())
        if self.runs:
            self.runs[-1].resumed_by = run
        self.runs.append(run)
