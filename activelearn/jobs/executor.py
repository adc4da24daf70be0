"""Running jobs: inline in this process (the embedded default) or as RQ jobs on Redis.

The controller hands an executor a job kind (jobs/kinds/: a JobKind, or its name) and
JSON payloads and gets the jobs' JSON results back in order, whichever executor it is.
With RQ, jobs go to the queue their kind declares, with its timeout and retries, use RQ's
JSON serializer, and are waited for with a progress bar fed from job meta. A job that
fails, times out or is abandoned by a killed worker is retried (when its kind allows,
`jobs.retries` times) or fails the round with one line naming the job; nothing waits
forever.

With worker.py, the only code that imports rq and redis.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tqdm import tqdm

from activelearn.config import JobsConfig
from activelearn.config.service_checks import mask_password
from activelearn.errors import JobError
from activelearn.failpoints import failpoint
from activelearn.jobs.affinity import assign, is_personal, personal_queue
from activelearn.jobs.kind import JobKind
from activelearn.jobs.kinds import get_kind, queue_names
from activelearn.jobs.resident import WorkerCache

log = logging.getLogger("activelearn.jobs")

PERFORM = "activelearn.jobs.executor.perform"  # what RQ calls: perform(kind, payload)
PASSWORD_FILE_ENV = "ACTIVELEARN_REDIS_PASSWORD_FILE"  # a file holding Redis's password
# a field of each resident worker's RQ hash: its decoded cache's stats (JSON; worker.py)
DECODED_FIELD = "activelearn_decoded"
POLL = 0.05  # seconds between status checks while waiting
CLEANUP_EVERY = 5.0  # seconds between checks for abandoned jobs
META_EVERY = 0.5  # seconds between progress updates a worker writes to job meta


class Executor:
    """Runs jobs; subclasses decide where."""

    name = "inline"

    def run(self, kind: JobKind | str, payloads: Sequence[dict[str, Any]], total: int = 0,
            desc: str = "", progress: bool = False) -> list[dict[str, Any]]:
        """Results of the jobs in payload order. total: units of progress of all jobs."""
        raise NotImplementedError


def as_kind(kind: JobKind | str) -> JobKind:
    """A kind, or the registered kind of that name (UnknownNameError listing them)."""
    return get_kind(kind) if isinstance(kind, str) else kind


class InlineExecutor(Executor):
    """Every job in this process, one after the other, through the same job functions;
    the pool and model they load stay in this executor's cache for the next job."""

    def __init__(self) -> None:
        self.cache = WorkerCache()

    def run(self, kind, payloads, total=0, desc="", progress=False):
        kind = as_kind(kind)
        bar = tqdm(total=total or None, desc=desc or kind.name, leave=False,
                   disable=not progress)
        results = []
        try:
            for payload in payloads:
                before = bar.n

                def report(done: int, base: int = before) -> None:
                    bar.update(base + done - bar.n)

                results.append(kind.run(dict(payload), report, self.cache))
        finally:
            bar.close()
        return results


# the cache of the resident worker running the current job (worker.py sets it around
# each job, as rq sets the current job); None: a worker of rq's own classes
_worker_cache: ContextVar[WorkerCache | None] = ContextVar("worker_cache", default=None)


@contextmanager
def keeping(cache: WorkerCache) -> Iterator[None]:
    """Jobs performed in the with block use cache (a resident worker's own)."""
    token = _worker_cache.set(cache)
    try:
        yield
    finally:
        _worker_cache.reset(token)


def perform(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The function RQ workers run: the kind's job function, with progress written to job
    meta."""
    from rq import get_current_job

    run = get_kind(kind).run
    job = get_current_job()
    last, latest = 0.0, 0

    def report(done: int) -> None:
        nonlocal last, latest
        latest = done
        if job is not None and time.monotonic() - last >= META_EVERY:
            last = time.monotonic()
            job.meta["done"] = done
            job.save_meta()

    failpoint(f"job:{kind}")  # tests: a worker killed with -9 while it holds a job
    result = run(payload, report, _worker_cache.get() or WorkerCache())
    if job is not None:
        job.meta["done"] = latest
        job.save_meta()
    return result


class RQExecutor(Executor):
    """Jobs on RQ queues; see the module docstring."""

    name = "rq"

    def __init__(self, cfg: JobsConfig) -> None:
        self.cfg = cfg
        self.redis = redis_client(cfg.redis_url)

    def queue(self, kind: JobKind | str):
        """The RQ queue of a kind's jobs."""
        return self.named_queue(as_kind(kind).queue_name(self.cfg))

    def named_queue(self, name: str):
        from rq import Queue
        from rq.serializers import JSONSerializer

        return Queue(name, connection=self.redis, serializer=JSONSerializer)

    def run(self, kind, payloads, total=0, desc="", progress=False):
        from rq import Retry

        kind = as_kind(kind)
        queue = self.queue(kind)
        retries = kind.retries(self.cfg)
        keys = [p.get("affinity") for p in payloads]
        owners = assign(keys, self._alive(queue.name) if any(k is not None for k in keys)
                        else [])
        jobs = [self.named_queue(personal_queue(queue.name, owner) if owner else queue.name)
                .enqueue(PERFORM, kind.name, dict(p), job_timeout=kind.timeout_s(self.cfg),
                         retry=Retry(max=retries) if retries else None,
                         result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
                         description=kind.describe(p))
                for p, owner in zip(payloads, owners, strict=True)]
        log.info("enqueued %d %s jobs on %s (%d for a worker of their own)", len(jobs),
                 kind.name, queue.name, sum(o is not None for o in owners))
        return self._wait(queue, jobs, total, desc or kind.name, progress)

    def _alive(self, queue: str) -> list[str]:
        """The workers listening on queue that take jobs of their own (affinity.py)."""
        from rq import Worker

        return [w.name for w in Worker.all(connection=self.redis)
                if queue in w.queue_names()
                and personal_queue(queue, w.name) in w.queue_names()]

    def _unclaimed(self, queue, pending: dict[str, Any]) -> None:
        """Jobs waiting in the personal queue of a worker that is gone: moved to the
        shared queue, for whichever worker is there (a retried job of a killed worker
        comes back to its personal queue too)."""
        from rq.job import JobStatus

        alive = set(self._alive(queue.name))
        for job in pending.values():
            origin = job.origin
            if not is_personal(origin) or origin.rpartition("@")[2] in alive \
                    or job.get_status(refresh=True) != JobStatus.QUEUED:
                continue
            self.named_queue(origin).remove(job)
            queue.enqueue_job(job)
            log.warning("job %s: its worker %s is gone; moved to queue %s", job.id,
                        origin.rpartition("@")[2], queue.name)

    def _wait(self, queue, jobs: list, total: int, desc: str, progress: bool) -> list[dict]:
        from rq.job import JobStatus

        bar = tqdm(total=total or None, desc=f"{desc} ({queue.name})", leave=False,
                   disable=not progress)
        waiting_since = {job.id: time.monotonic() for job in jobs}
        last_cleanup = time.monotonic()
        pending = {job.id: job for job in jobs}
        try:
            while pending:
                done = 0
                for job_id, job in list(pending.items()):
                    job.refresh()
                    status = job.get_status(refresh=False)
                    if status == JobStatus.FINISHED:
                        del pending[job_id]
                    elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                        raise JobError(self._failure(job))
                    elif status == JobStatus.STARTED:
                        waiting_since[job_id] = time.monotonic()
                    elif time.monotonic() - waiting_since[job_id] > self.cfg.wait_for_worker:
                        raise JobError(
                            f"no worker took job {job_id} ({job.description}) from queue "
                            f"{queue.name} in {self.cfg.wait_for_worker} s; start one with "
                            f"`activelearn worker --queue {queue.name}`; the next run resumes")
                    done += int(job.meta.get("done", 0))
                bar.update(max(0, done - bar.n))
                if time.monotonic() - last_cleanup > CLEANUP_EVERY:
                    # a killed worker's job: retried or failed once its heartbeat expired
                    for origin in {job.origin for job in pending.values()} | {queue.name}:
                        self.named_queue(origin).started_job_registry.cleanup()
                    self._unclaimed(queue, pending)
                    last_cleanup = time.monotonic()
                if pending:
                    time.sleep(POLL)
        finally:
            bar.close()
        return [job.return_value(refresh=True) for job in jobs]

    def _failure(self, job) -> str:
        reason = _job_error(job)
        worker = f" on worker {job.worker_name}" if job.worker_name else ""
        return f"job {job.id} ({job.description}) failed{worker}: {reason}"


def redis_client(url: str):
    """A checked connection to the Redis at url (redis://, rediss:// for TLS, unix://).
    The password may be in the URL or, when $ACTIVELEARN_REDIS_PASSWORD_FILE is set, in
    that file (as the compose file passes it); it is never shown in a message."""
    from redis import Redis
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    shown = mask_password(url)
    options: dict[str, Any] = {"socket_connect_timeout": 5, "health_check_interval": 30}
    password_file = os.environ.get(PASSWORD_FILE_ENV, "").strip()
    if password_file:
        options["password"] = _read_password(password_file)
    try:
        client = Redis.from_url(url, **options)
        client.ping()
    except (AuthenticationError, ResponseError) as exc:
        if "auth" not in str(exc).lower() and "pass" not in str(exc).lower():
            raise JobError(f"Redis at {shown}: {_first_line(exc)}") from None
        raise JobError(f"Redis at {shown} refused the connection's password "
                       f"({_first_line(exc)}); put the right one in the URL or in "
                       f"${PASSWORD_FILE_ENV}") from None
    except (RedisError, OSError) as exc:
        raise JobError(f"Redis at {shown} did not answer: {_first_line(exc)}; start it, or "
                       "unset jobs.redis_url / ACTIVELEARN_REDIS_URL to run jobs inline"
                       ) from None
    except ValueError as exc:  # a malformed URL
        raise JobError(f"jobs.redis_url {shown}: {exc}") from None
    return client


def _read_password(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise JobError(f"{PASSWORD_FILE_ENV}={path}: cannot read the Redis password "
                       f"({type(exc).__name__})") from None


def make_executor(cfg: JobsConfig) -> Executor:
    """RQ when a Redis URL is configured, else inline."""
    return RQExecutor(cfg) if cfg.redis_url else InlineExecutor()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no reason"


def queue_status(cfg: JobsConfig) -> dict[str, Any]:
    """The RQ queues the job kinds declare, as data: per queue its depth, running jobs
    and failures (the last 5 with their reason), and the registered workers (with their
    decoded cache's stats, when they have one: hits, misses, bytes, limit, evictions,
    off)."""
    from rq import Worker

    executor = RQExecutor(cfg)
    queues = []
    for name in queue_names(cfg):
        queue = executor.named_queue(name)
        running = queue.started_job_registry.get_job_ids()
        failed = queue.failed_job_registry.get_job_ids()
        queues.append({
            "name": queue.name, "queued": len(queue), "failed": len(failed),
            "running": [{"id": j.id, "description": j.description, "worker": j.worker_name}
                        for j in _fetch(queue, running)],
            "recent_failures": [{"id": j.id, "description": j.description,
                                 "error": _job_error(j)} for j in _fetch(queue, failed[-5:])]})
    workers = [{"name": w.name, "state": str(w.get_state()), "queues": w.queue_names(),
                "decoded": _decoded(executor.redis, w.key)}
               for w in Worker.all(connection=executor.redis)]
    return {"redis_url": mask_password(cfg.redis_url), "queues": queues, "workers": workers}


def _decoded(redis, key: str) -> dict[str, Any] | None:
    raw = redis.hget(key, DECODED_FIELD)
    return json.loads(raw) if raw else None


def _job_error(job) -> str:
    result = job.latest_result()
    return _last_line(result.exc_string) if result and result.exc_string else "no reason"


def _fetch(queue, job_ids: list[str]) -> list:
    from rq.job import Job

    return [job for job in Job.fetch_many(job_ids, connection=queue.connection,
                                          serializer=queue.serializer) if job is not None]
