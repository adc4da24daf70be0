"""The newest model version for serve (service/versions.py): looked for at most once a
CHECK_EVERY, and /health never waits for a slow look longer than HEALTH_WAIT."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from activelearn.config import load_config
from activelearn.project import Project
from activelearn.service import versions
from activelearn.service.versions import LatestVersion
from activelearn.state import Store


def finish(cfg, round_: int) -> None:
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(round_)
        store.rounds.finish(round_, f"t-r{round_}", 40)


def test_a_slow_state_read_does_not_hold_health(project_file, monkeypatch):
    cfg = load_config(project_file())
    finish(cfg, 0)
    project = Project(cfg)
    latest = LatestVersion(project)
    monkeypatch.setattr(versions, "CHECK_EVERY", 0.0)
    assert latest.within() == "t-r0"
    finish(cfg, 1)
    slow = threading.Event()
    opened = project.store

    @contextmanager
    def slow_store(**kwargs):  # a state whose open takes 3 s (a large file's check)
        slow.wait(3)
        with opened(**kwargs) as store:
            yield store

    monkeypatch.setattr(project, "store", slow_store)
    started = time.monotonic()
    assert latest.within(0.3) == "t-r0"  # the version seen last, at once
    assert latest.within(0.3) == "t-r0"  # the same look still under way, not a second
    assert time.monotonic() - started < 1.0
    slow.set()
    assert latest.within(5) == "t-r1"  # the look ended: the new version
    latest.close()
