"""A job kind: what the executor, the worker and `status --queues` know about one kind of
job, declared once, in the kind's own module under jobs/kinds/:

    KIND = JobKind("score", queue="gpu", timeout="score_timeout", run=run,
                   describe=lambda p: f"score {p['version']} items {p['start']}-{p['stop']}")

- queue: "gpu" (jobs.gpu_queue: training, scoring, decoding, embedding) or "cpu"
  (jobs.cpu_queue: light jobs such as selecting a batch from merged scores);
- timeout: the jobs setting with its time limit in seconds (train_timeout, score_timeout
  or select_timeout): RQ stops a job past it;
- retry: whether a failed or abandoned job (its worker killed) runs again, up to
  jobs.retries times; a training job is not retried (it fails the round, the next cycle
  trains again);
- describe: the job's one-line description (RQ's job description: what `status --queues`
  and the failure messages show);
- run: the worker side, `run(payload, progress, cache) -> dict`: a JSON payload in, a
  JSON result out, progress(done) called with the units done so far, cache the pool and
  model its process keeps between jobs (resident.WorkerCache).

rq keeps a job's queue, timeout and retries on the function (`@job(...)`); here they sit
on the kind. The kind's module also holds its controller side (the payloads it builds,
what it publishes for the job, how results are merged); kinds/__init__.py registers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activelearn.config import JobsConfig

if TYPE_CHECKING:
    from activelearn.jobs.resident import WorkerCache

Progress = Callable[[int], None]  # units (items, steps) done so far in this job
Run = Callable[[dict[str, Any], Progress, "WorkerCache"], dict[str, Any]]

QUEUES = ("gpu", "cpu")
TIMEOUTS = tuple(f.name for f in dataclasses.fields(JobsConfig) if f.name.endswith("_timeout"))


@dataclass(frozen=True)
class JobKind:
    """One kind of job; see the module."""

    name: str
    queue: str  # "gpu" or "cpu"
    timeout: str  # the JobsConfig field with the time limit, e.g. "score_timeout"
    run: Run
    describe: Callable[[dict[str, Any]], str]
    retry: bool = True

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"job kind {self.name}: queue {self.queue!r} is not one of "
                             f"{', '.join(QUEUES)}")
        if self.timeout not in TIMEOUTS:
            raise ValueError(f"job kind {self.name}: timeout {self.timeout!r} is not one of "
                             f"{', '.join(TIMEOUTS)}")

    def queue_name(self, cfg: JobsConfig) -> str:
        """The RQ queue its jobs go to (jobs.gpu_queue or jobs.cpu_queue)."""
        return str(getattr(cfg, f"{self.queue}_queue"))

    def timeout_s(self, cfg: JobsConfig) -> int:
        """Seconds a job may run before RQ stops it."""
        return int(getattr(cfg, self.timeout))

    def retries(self, cfg: JobsConfig) -> int:
        """How often a failed or abandoned job runs again."""
        return cfg.retries if self.retry else 0
