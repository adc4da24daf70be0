"""The RQ worker that runs activelearn jobs: `activelearn worker` (launchers in workers/).

Worker class: ResidentWorker, an RQ SimpleWorker that runs each job in the worker process
itself. RQ's default Worker forks a child per job, and CUDA initialised in a parent does
not survive a fork (even torch.cuda.is_available() initialises it); SpawnWorker is
CUDA-safe but starts a new interpreter per job (torch import, pool load: seconds each).
Running jobs in-process needs no fork at all, so CUDA is safe, and the pool and the
latest model stay loaded between jobs (the worker's WorkerCache, resident.py).

What SimpleWorker lacks is a heartbeat during a job: it announces job timeout + 60 s
once, so a killed worker's job would look alive for up to hours. ResidentWorker beats
from a thread every `jobs.heartbeat` seconds with a short time to live instead, so the
controller finds the job abandoned within seconds and retries it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from activelearn.config.service_checks import mask_password
from activelearn.data.decoded import DECODED_ENV, CacheStats, DecodedCache, format_size
from activelearn.errors import JobError
from activelearn.jobs.affinity import personal_queue
from activelearn.jobs.executor import DECODED_FIELD, PERFORM, keeping, redis_client
from activelearn.jobs.inputs import (
    ARTIFACTS_ENV,
    DEVICE_ENV,
    SCRATCH_ENV,
    WORK_DIRS_ENV,
    public_url,
)
from activelearn.jobs.kinds import all_kinds, available_kinds
from activelearn.jobs.resident import WorkerCache
from activelearn.jobs.scratch import ScratchPruner

log = logging.getLogger("activelearn.worker")

DEFAULT_CACHE_SHARE = 0.25  # of the free space where the decoded cache goes, by default
DEFAULT_CACHE_CAP = 4 * 10**9  # ... and at most this many bytes


class ResidentWorker(SimpleWorker):
    """SimpleWorker with heartbeats from a thread while a job runs, and a WorkerCache its
    jobs share (see the module). After each job it prunes its scratch folder's fetched
    copies (jobs/scratch.py) and writes its decoded cache's stats to Redis."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cache = WorkerCache()
        self.scratch = ScratchPruner.from_environment()  # fetched copies the store dropped
        decoded = DecodedCache.from_environment()  # what run_worker set up, if anything
        self.decoded = DecodedReport(decoded) if decoded is not None else None

    def register_birth(self) -> None:
        super().register_birth()
        self.report_decoded()  # status --queues shows the cache before the first job

    def report_decoded(self) -> None:
        """The decoded cache's stats (DecodedReport) into this worker's Redis hash, under
        DECODED_FIELD: they live and expire with the worker's registration."""
        if self.decoded is None:
            return
        summary = self.decoded.update(self.cache.loaded_pool())
        try:
            self.connection.hset(self.key, DECODED_FIELD, json.dumps(summary))
        except RedisError as exc:  # the stats are for people; Redis may be back next time
            log.warning("decoded cache stats not written to Redis: %s", exc)

    def subscribe(self) -> None:
        """rq's subscription to worker commands (stop, kill), its listener thread waking
        every second instead of rq's 60: with redis-py 8 that thread waits its whole sleep
        for the subscription to be confirmed, and stopping the worker waits for the thread,
        so a worker stopped in its first minute took up to 60 s to exit."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return 3 * int(self.job_monitoring_interval) + 5

    def prepare_job_execution(self, job, *args, **kwargs) -> None:
        """Refuse (fail, without running it) any job but a registered kind's: whoever can
        write to Redis must not choose what this process runs."""
        allowed = job.func_name == PERFORM and len(job.args) == 2 \
            and job.args[0] in available_kinds() and isinstance(job.args[1], dict)
        if not allowed:
            log.error("refused job %s: %s is not an activelearn job", job.id, job.func_name)
            raise JobError(f"refused: {job.func_name} is not one of activelearn's jobs "
                           f"({', '.join(available_kinds())}); this worker runs only those")
        super().prepare_job_execution(job, *args, **kwargs)

    def execute_job(self, job, queue) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception:  # a missed beat is not fatal; Redis may be back next time
                    log.exception("heartbeat failed")

        beating = threading.Thread(target=beat, daemon=True, name="rq-heartbeat")
        beating.start()
        try:
            with keeping(self.cache):
                self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beating.join()
        self.scratch.after_job()  # never raises for a store or disk error (logged once)
        self.report_decoded()
        self.set_state(WorkerStatus.IDLE)


class DecodedReport:
    """What status --queues shows of a worker's decoded cache: the folder's bytes and
    limit, and what the pools of its jobs did with it, summed over the jobs (a pool's
    counts are kept when another project's pool replaces it)."""

    def __init__(self, cache: DecodedCache) -> None:
        self.cache, self.total = cache, CacheStats()
        self._seen: tuple[DecodedCache, CacheStats] | None = None

    def update(self, pool: object) -> dict[str, object]:
        """The summary after a job whose pool (the one the worker holds) is pool."""
        used = getattr(getattr(pool, "images", None), "decoded", None)
        if isinstance(used, DecodedCache):
            seen = self._seen
            self.total.add(used.stats.since(seen[1]) if seen and seen[0] is used
                           else used.stats)
            self._seen = (used, used.stats.copy())
            self.cache.off = self.cache.off or used.off
        return {**self.cache.summary(), **vars(self.total)}


def describe_device(device: str) -> str:
    """The device a worker uses, in words; initialises CUDA (fine: no fork follows)."""
    import torch

    from activelearn.learn.checkpoints import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        return f"{resolved} ({torch.cuda.get_device_name(index)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"


def run_worker(redis_url: str, queues: list[str], device: str, threads: int, burst: bool,
               heartbeat: int, work_dirs: list[str], name: str | None = None,
               announce: Callable[[str], None] = log.info, artifacts: tuple[str, ...] = (),
               scratch: str | None = None, cache_size: int | None = None,
               cache_dir: str | None = None) -> bool:
    """Work on the queues until stopped (or, with burst, until they are empty); announce
    gets one line naming the worker, its queues and its device. A job runs only for a
    project whose local artifact store and work dir lie under one of work_dirs (a shared
    disk), or whose remote store is one of artifacts; it writes only there and into
    scratch (default: a new temporary folder); see inputs.open_job. With artifacts, the
    pools of its jobs keep what they decode in a decoded cache (decoded_cache)."""
    import torch

    os.environ[DEVICE_ENV] = device  # the job functions use it instead of training.device
    os.environ[WORK_DIRS_ENV] = os.pathsep.join(str(Path(d).resolve()) for d in work_dirs)
    os.environ[ARTIFACTS_ENV] = "\n".join(a.rstrip("/") for a in artifacts)
    folder = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="activelearn-worker-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[SCRATCH_ENV] = str(folder.resolve())
    decoded = decoded_cache(folder, bool(artifacts), cache_size, cache_dir)
    if threads > 0:
        torch.set_num_threads(threads)
    all_kinds()  # their modules imported now, not within the first job's time limit
    # torch's optimizers import torch._dynamo at their first step (about 1 s). Imported
    # inside a job, a timeout that interrupts it leaves the module half-initialised for
    # every later job of this resident process ("partially initialized module").
    import torch._dynamo  # noqa: F401
    connection = redis_client(redis_url)
    name = name or uuid.uuid4().hex  # rq's default, chosen here: it names our own queues
    # its own queues first (jobs that read what this worker cached, affinity.py), then
    # the shared ones
    listened = [*(personal_queue(q, name) for q in queues), *queues]
    worker = ResidentWorker([Queue(q, connection=connection, serializer=JSONSerializer)
                             for q in listened], connection=connection, name=name,
                            serializer=JSONSerializer, job_monitoring_interval=heartbeat)
    serves = [*work_dirs, *map(public_url, artifacts)]  # no credentials in the line
    announce(f"worker {worker.name} on {mask_password(redis_url)}, queues "
             f"{', '.join(queues)}, device {describe_device(device)}, projects of "
             f"{', '.join(serves)}, scratch {folder}, " + (
                 f"decoded cache {decoded.folder} ({format_size(decoded.limit)})"
                 if decoded is not None else "no decoded cache"))
    return worker.work(burst=burst, logging_level="WARNING")


def decoded_cache(scratch: Path, remote: bool, size: int | None,
                  folder: str | None) -> DecodedCache | None:
    """The worker's decoded cache (data/decoded.py), prepared and handed to the pools its
    jobs open through the environment (DECODED_ENV): in folder (default SCRATCH/decoded),
    bounded by size bytes (default: a quarter of the free space there, at most 4 GB; 0:
    none). Only with a remote store: on a shared disk the controller's memmap cache
    serves. None when there is none, or its folder cannot be written (said once)."""
    os.environ.pop(DECODED_ENV, None)
    if not remote or size == 0:
        return None
    where = Path(folder) if folder else scratch / "decoded"
    if size is None:
        free = next(shutil.disk_usage(p).free for p in (where, *where.parents) if p.exists())
        size = min(DEFAULT_CACHE_CAP, int(free * DEFAULT_CACHE_SHARE))
    cache = DecodedCache(where, size)
    cache.prepare()
    if cache.off is not None:
        return None
    os.environ[DECODED_ENV] = cache.environment()
    return cache
