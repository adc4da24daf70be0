"""What a worker runs: only activelearn's registered jobs, only for the projects it serves,
writing only inside their work dirs, whoever writes to Redis. And Redis with a password,
over TLS, never showing the password. Real redis-server processes, real workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from activelearn.cli import main
from activelearn.jobs.executor import PERFORM, InlineExecutor, RQExecutor, redis_client
from activelearn.jobs.kinds.select import score_and_select
from activelearn.jobs.payloads import base_payload
from activelearn.project import Project
from support.jobs import Workers, controller_step, trained


@pytest.fixture
def rq_project(project_file, redis_url, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", redis_url)
    return project_file(jobs={"shard_size": 100, "heartbeat": 1, "wait_for_worker": 60})


@pytest.fixture
def workers(rq_project) -> Iterator[Workers]:
    started = Workers(rq_project)
    yield started
    started.stop()


def finished(job, timeout: float = 60) -> str:
    """Wait until the job ends; its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} did not end in {timeout} s")


def reason(job) -> str:
    result = job.latest_result()
    return result.exc_string if result else ""


def test_a_worker_refuses_jobs_that_are_not_activelearns(rq_project, workers, tmp_path):
    cfg, _ = trained(rq_project)
    workers.start()
    queue = Queue(cfg.jobs.gpu_queue, connection=redis_client(cfg.jobs.redis_url),
                  serializer=JSONSerializer)
    marker = tmp_path / "ran"
    hostile = [
        queue.enqueue("os.system", f"touch {marker}"),
        queue.enqueue("shutil.rmtree", str(cfg.work_dir)),
        queue.enqueue(PERFORM, "no-such-kind", {"config": str(rq_project)}),
    ]
    for job in hostile:
        assert finished(job) == JobStatus.FAILED
        assert "refused" in reason(job) or "unknown job" in reason(job), reason(job)
    assert not marker.exists() and cfg.work_dir.exists()


def test_a_job_never_writes_outside_its_project(rq_project, workers, tmp_path):
    cfg, _ = trained(rq_project)
    workers.start()
    outside = tmp_path / "elsewhere" / "shard.npz"
    np.save(cfg.work_dir / "positions.npy", np.arange(40, 60))
    payload = {**base_payload(Project(cfg)), "version": "t-r1", "seed": 0, "embeddings": False,
               "mc_passes": 0, "positions": "positions.npy", "start": 0, "stop": 20,
               "out": "scores/s.npz"}
    queue = RQExecutor(cfg.jobs).queue("score")
    for out in (str(outside), "../elsewhere/shard.npz", "scores/../../shard.npz"):
        job = queue.enqueue(PERFORM, "score", {**payload, "out": out})
        assert finished(job) == JobStatus.FAILED
        assert "is not a plain relative path inside the store" in reason(job), reason(job)
    assert not outside.parent.exists() and not (cfg.work_dir / "scores" / "s.npz").exists()
    # a project this worker does not serve (another work dir, another store) is refused
    other = dict(payload["config"], project={**payload["config"]["project"],
                                            "work_dir": str(tmp_path / "other-work")})
    job = queue.enqueue(PERFORM, "score", {**payload, "config": other,
                                           "artifacts": str(tmp_path / "other-work")})
    assert finished(job) == JobStatus.FAILED
    assert "is not under a folder this worker serves" in reason(job)
    job = queue.enqueue(PERFORM, "score", {**payload, "artifacts": "s3://elsewhere/x"})
    assert finished(job) == JobStatus.FAILED
    assert "artifact store s3://elsewhere/x is not one this worker serves" in reason(job)
    assert not (tmp_path / "other-work").exists()


def test_jobs_over_tls_with_a_password_select_as_inline(project_file, secure_redis,
                                                        monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", secure_redis.url)
    path = project_file(jobs={"shard_size": 100, "heartbeat": 1, "wait_for_worker": 60})
    cfg, pool = trained(path)
    started = Workers(path)
    try:
        started.start()
        candidates = np.arange(40, 240)
        rq = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "t-r1", candidates,
                             np.arange(40), 10, seed=3, progress=False)
    finally:
        started.stop()
    for shard in (cfg.work_dir / "scores" / "t-r1").glob("shard-*.npz"):
        shard.unlink()
    inline = controller_step(score_and_select, InlineExecutor(), cfg, "t-r1", candidates,
                             np.arange(40), 10, seed=3, progress=False)
    assert rq == inline and len(rq["positions"]) == 10


def test_the_password_may_come_from_a_file(project_file, secure_redis, monkeypatch,
                                           tmp_path):
    secret = tmp_path / "redis_password"
    secret.write_text(secure_redis.password + "\n")
    url = secure_redis.url.replace(f":{secure_redis.password}@", "")
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", url)
    monkeypatch.setenv("ACTIVELEARN_REDIS_PASSWORD_FILE", str(secret))
    result = CliRunner().invoke(main, ["status", "--config", str(project_file()), "--queues"])
    assert result.exit_code == 0, result.output
    assert "queue activelearn-gpu: 0 queued" in result.output


@pytest.mark.parametrize("wrong", ["not-the-password", None])
def test_a_wrong_or_missing_password_is_one_line_without_it(project_file, secure_redis,
                                                           monkeypatch, wrong):
    given = f":{wrong}@" if wrong else ""
    url = secure_redis.url.replace(f":{secure_redis.password}@", given)
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", url)
    monkeypatch.delenv("ACTIVELEARN_REDIS_PASSWORD_FILE", raising=False)
    result = CliRunner().invoke(main, ["status", "--config", str(project_file()), "--queues"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the connection's password" in lines[0], lines
    assert secure_redis.password not in result.output
    if wrong:
        assert wrong not in result.output and ":***@" in result.output


def test_the_worker_says_where_it_runs_without_the_password(project_file, secure_redis,
                                                           monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", secure_redis.url)
    path = project_file()
    started = Workers(path)
    try:
        proc = started.start()
    finally:
        started.stop()
    out = proc.stdout.read() if proc.stdout else ""
    assert "worker test-0-" in out and ":***@127.0.0.1" in out, out
    assert secure_redis.password not in out
    assert str(Path(str(path)).parent / "work") in out  # the projects it serves
