"""The cycle lock: exclusive until released or its holder is gone; a live holder on this
host is never taken over, whatever the wall clock does; a reused pid is not a holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activelearn.loop.lock import CycleLock, is_stale, process_started
from activelearn.state import LockHolder, Store


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "state.sqlite") as opened:
        yield opened


def test_lock_is_exclusive_until_released_or_stale(store: Store) -> None:
    assert store.locks.try_take("cycle", "a", 1, "h", lambda h: False) is None
    holder = store.locks.try_take("cycle", "b", 2, "h", lambda h: False)
    assert holder is not None and holder.owner == "a"
    store.locks.release("cycle", "b")  # not b's: nothing happens
    assert store.locks.holder("cycle").owner == "a"
    assert store.locks.try_take("cycle", "b", 2, "h", lambda h: True) is None  # a went stale
    assert not store.locks.beat("cycle", "a") and store.locks.beat("cycle", "b")
    store.locks.release("cycle", "b")
    assert store.locks.holder("cycle") is None


def test_is_stale_by_pid_and_heartbeat() -> None:
    now = time.time()
    here = socket.gethostname()
    assert not is_stale(LockHolder("cycle", "a", os.getpid(), here, now, now))
    assert is_stale(LockHolder("cycle", "a", 2**22 + 12345, here, now, now))  # no such pid
    assert not is_stale(LockHolder("cycle", "a", 1, "elsewhere", now, now))
    assert is_stale(LockHolder("cycle", "a", 1, "elsewhere", now - 600, now - 600))


def test_a_live_holder_on_this_host_is_never_stale_whatever_the_clock() -> None:
    """A wall-clock jump of an hour (the heartbeat looks old) does not make it gone."""
    here, long_ago = socket.gethostname(), time.time() - 3600
    started = process_started(os.getpid())
    assert started is not None
    assert not is_stale(LockHolder("cycle", "a", os.getpid(), here, long_ago, long_ago,
                                   started))


def test_a_reused_pid_is_not_the_holder() -> None:
    here, now = socket.gethostname(), time.time()
    started = process_started(os.getpid())
    assert started is not None
    assert is_stale(LockHolder("cycle", "a", os.getpid(), here, now, now, started - 1.0))


def test_a_cycle_lock_records_its_process_and_a_second_one_waits(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with CycleLock(path) as first:
        assert first.holder is None
        with Store.open(path) as store:
            held = store.locks.holder("cycle")
        assert held is not None and held.pid == os.getpid()
        assert held.started == process_started(os.getpid())
        with CycleLock(path) as second:  # the same live process holds it
            assert second.holder is not None and second.holder.owner == first.owner
    with Store.open(path) as store:
        assert store.locks.holder("cycle") is None


def test_the_lock_of_an_ended_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with Store.open(path) as store:
        store.locks.try_take("cycle", "gone", gone.pid, socket.gethostname(),
                             lambda h: False, 12345.0)
    with CycleLock(path) as lock:
        assert lock.holder is None and lock.took_over is not None
        assert lock.took_over.pid == gone.pid
