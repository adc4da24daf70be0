"""A real `activelearn serve` process for tests: started on a free port, waited for,
stopped by its pid; its cycles journal read back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from multiprocessing import forkserver
from pathlib import Path

import httpx
import pytest

from support import ROOT

SECRET = "test-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A running `activelearn serve` (see start_serve)."""

    def __init__(self, proc: subprocess.Popen, url: str, work_dir: Path) -> None:
        self.proc = proc
        self.url = url
        self.journal = work_dir / "serve" / "cycles.jsonl"
        self.log = work_dir / "serve" / "cycle.log"

    def records(self, event: str | None = None) -> list[dict]:
        if not self.journal.exists():
            return []
        found = [json.loads(line) for line in self.journal.read_text().splitlines()]
        return [r for r in found if event is None or r["event"] == event]

    def wait_for(self, event: str, count: int, timeout: float = 120) -> list[dict]:
        """Wait until the journal holds `count` records of `event`; returns them."""
        deadline = time.monotonic() + timeout
        while len(self.records(event)) < count:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}"
            assert time.monotonic() < deadline, (
                f"{count} {event} records not seen in {timeout} s: {self.records()}; "
                f"log: {self.log.read_text() if self.log.exists() else ''}")
            time.sleep(0.05)
        return self.records(event)

    def status(self) -> dict:
        return httpx.get(f"{self.url}/status", timeout=30).json()

    def metric(self, name: str) -> float | None:
        for line in httpx.get(f"{self.url}/metrics", timeout=30).text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


def start_serve(config: Path, work_dir: Path, timeout: float = 180, **env: str) -> Served:
    """`activelearn serve --config CONFIG` on a free port, once it answers /metrics."""
    port = free_port()
    environ = dict(os.environ, ACTIVELEARN_WEBHOOK_SECRET=SECRET, **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "activelearn.cli", "serve", "--config", str(config),
         "--port", str(port)], env=environ, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stdout.read()}")
        try:
            if httpx.get(f"{url}/metrics", timeout=2).status_code == 200:
                return Served(proc, url, work_dir)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"serve did not answer in {timeout} s")
        time.sleep(0.2)


@pytest.fixture(autouse=True)
def own_forkserver():
    """A forkserver of the test's own (import it into a test module; it is autouse there):
    serve's cycle processes get the environment the forkserver started with, so one
    started by an earlier test (another token, say) must not serve this one."""
    forkserver._forkserver._stop()
    yield
    forkserver._forkserver._stop()
