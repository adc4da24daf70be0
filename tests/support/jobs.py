"""RQ in tests: `activelearn worker` processes started and stopped by the test, a project
with a model trained inline, and the jobs a queue finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activelearn.config import load_config
from activelearn.data.sources import load_source
from activelearn.failpoints import ENV as FAILPOINT_ENV
from activelearn.jobs.executor import Executor, InlineExecutor, redis_client
from activelearn.jobs.kinds.train import train
from activelearn.kinds import Split
from activelearn.project import Project
from activelearn.state import Store
from support import ROOT


class Workers:
    """`activelearn worker` processes of a test; stopped by pid at the end."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.procs: list[subprocess.Popen] = []

    def start(self, failpoint: str | None = None, name: str | None = None, threads: int = 1,
              device: str = "cpu", *args: str, **environ: str) -> subprocess.Popen:
        env = dict(os.environ, **environ)
        env.pop(FAILPOINT_ENV, None)
        if failpoint:
            env[FAILPOINT_ENV] = failpoint
        name = name or f"test-{len(self.procs)}-{os.getpid()}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "activelearn.cli", "worker", "--config", str(self.config),
             "--threads", str(threads), "--device", device, "--name", name, *args],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        self._wait_registered(name, proc)
        return proc

    def _wait_registered(self, name: str, proc: subprocess.Popen) -> None:
        from rq import Worker

        cfg = load_config(self.config)
        client = redis_client(cfg.jobs.redis_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(w.name == name for w in Worker.all(connection=client)):
                return
            if proc.poll() is not None:
                pytest.fail(f"worker exited: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.1)
        pytest.fail("worker did not register in 60 s")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()



def trained(path: Path, version: str | None = "t-r1"):
    """A project with 40 train labels and (unless version is None) that model version,
    trained inline."""
    cfg = load_config(path)
    pool = load_source(cfg.data, cfg.classes)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.items.add((item, i, None, Split.TRAIN.value) for i, item in enumerate(pool.item_ids))
        store.labels.set(zip(pool.item_ids[:40], pool.labels[:40].tolist()), "test", 0)
    if version is not None:
        controller_step(train, InlineExecutor(), cfg, 1, version, progress=False)
    return cfg, pool


def controller_step(step, executor: Executor, cfg, *args, **kwargs):
    """step(project, store, *args, **kwargs): a job kind's controller side (train,
    score_and_select, ...) for the project of cfg with its jobs on executor, its state
    open for the call."""
    project = Project(cfg)
    project.executor = executor
    with project.store() as store:
        return step(project, store, *args, **kwargs)


def finished_jobs(cfg) -> list:
    """The finished jobs of the project's training/scoring queue, and of the workers'
    own queues beside it (jobs/affinity.py)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    connection = redis_client(cfg.jobs.redis_url)
    queues = [q for q in Queue.all(connection=connection, serializer=JSONSerializer)
              if q.name == cfg.jobs.gpu_queue or q.name.startswith(cfg.jobs.gpu_queue + "@")]
    return [q.fetch_job(j) for q in queues for j in q.finished_job_registry.get_job_ids()]
