"""RQ against inline, and the artifact store: a round's jobs, scoring speed-up with 2
workers, dispatch latency, round time with the store on a local path and on S3.

    .venv/bin/python benchmarks/jobs_rq.py [--redis redis://127.0.0.1:6379/12]
        [--labels 1000] [--pool N] [--shard 10000] [--min-steps 400] [--threads 2]
        [--repeats 2] [--sections rounds,latency,scale,store]

By default the "default Fashion-MNIST round": a project over the whole pool (60,000
train images, `--labels` ground-truth train labels, 200 holdout labels), in a temporary
folder, its jobs on that Redis database (flushed first). A round is train + evaluate, score
the unlabeled pool in shards of `--shard`, select 500 with margin. `--pool N` scores only N
unlabeled items; a smoke run:
`--labels 200 --pool 6000 --shard 2000 --min-steps 50 --repeats 1`.

1. rounds: inline, then through RQ with one local worker with the same torch threads,
   cold (the worker's first jobs load the pool) and warm; target (issue 4): RQ <= 1.05x
   inline;
2. latency: dispatch latency, enqueue to job start, for small jobs on an idle worker;
3. scale: scoring the pool with 1 worker of one thread, then 2 such workers; target:
   >= 1.6x faster with 2;
4. store: the round inline, with 1 and with 2 workers (`--threads` each), with the
   artifact store (jobs.artifacts) on the project's work dir, then on s3://bench/bench on
   moto's S3 server (started on a free loopback port, stopped at the end). One project
   (work dir) per store; the S3 workers run from their own folder, with their own
   --scratch and --work-dir: they need nothing of the controller's disk but the dataset
   (data.root, an absolute path). Local and S3 rounds alternate (local and S3 workers
   run at once, on queues of their own) so that the machine's drift falls on both;
   median of `--repeats` warm rounds after one warm-up round each; the inline rounds
   also print the seconds spent in S3 calls. Target: the S3 store costs <= 10% of the
   round.

Label Studio is not involved: pull and push cost the same either way.
"""

from __future__ import annotations

import argparse
import functools
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from redis import Redis

from activelearn.config import FASHION_MNIST_CLASSES, Config, load_config
from activelearn.data.sources import load_source
from activelearn.data.sources.base import Pool
from activelearn.jobs.executor import Executor, InlineExecutor, RQExecutor
from activelearn.jobs.kinds import score
from activelearn.jobs.kinds.select import score_and_select
from activelearn.jobs.kinds.train import train
from activelearn.jobs.payloads import base_payload
from activelearn.kinds import Split
from activelearn.learn.checkpoints import checkpoint_name
from activelearn.project import Project as Handles
from activelearn.state import Store

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("rounds", "latency", "scale", "store")
BUCKET = "bench"
S3_STORE = f"s3://{BUCKET}/bench"
SELECT = 500
TARGET_RQ = 1.05  # RQ round / inline round
TARGET_SCALE = 1.6  # 1-worker scoring time / 2-worker scoring time
TARGET_S3 = 0.10  # (S3 round - local round) / local round
WORKER_START_S = 180  # torch import and registration, on a busy machine


class Project:
    """A benchmark project: its config file and config, the pool, the unlabeled positions
    a round scores and the labelled train positions."""

    def __init__(self, path: Path, cfg: Config, pool: Pool, unlabeled: np.ndarray,
                 labeled: np.ndarray) -> None:
        self.path, self.cfg, self.pool = path, cfg, pool
        self.unlabeled, self.labeled = unlabeled, labeled


def make_project(folder: Path, args: argparse.Namespace, pool: Pool | None = None,
                 artifacts: str = "") -> Project:
    """A Fashion-MNIST project in folder (project.yaml, work/), labelled like every other
    one of this run (seed 0): args.labels train labels and 200 holdout labels."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = project_yaml(folder / "work", args.redis, args.threads, args.shard, args.min_steps,
                       artifacts)
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    if pool is None:
        pool = load_source(cfg.data, cfg.classes)
    train = np.flatnonzero(~pool.is_test)
    rng = np.random.default_rng(0)
    chosen = rng.choice(train, size=args.labels + 200, replace=False)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.items.add((item, i, None, Split.TEST.value if pool.is_test[i] else
                         Split.TRAIN.value) for i, item in enumerate(pool.item_ids))
        store.batches.add(0, *_holdout_batch(pool, chosen[args.labels:]))
        store.labels.set(((pool.item_ids[i], int(pool.labels[i])) for i in chosen), "bench", 0)
    unlabeled = np.setdiff1d(train, chosen)
    if args.pool and args.pool < len(unlabeled):
        unlabeled = np.sort(rng.choice(unlabeled, size=args.pool, replace=False))
    return Project(path, cfg, pool, unlabeled, np.sort(chosen[:args.labels]))


def project_yaml(work_dir: Path, redis_url: str, threads: int, shard: int, min_steps: int,
                 artifacts: str = "") -> dict[str, Any]:
    jobs: dict[str, Any] = {"redis_url": redis_url, "shard_size": shard}
    if artifacts:  # queues of its own: the store rounds run local and S3 workers at once
        jobs.update(artifacts=artifacts, gpu_queue="bench-s3-gpu", cpu_queue="bench-s3-cpu")
    return {"project": {"name": "bench", "work_dir": str(work_dir), "seed": 0},
            "data": {"source": "fashion-mnist", "root": str(ROOT / "data")},
            "classes": FASHION_MNIST_CLASSES,
            "training": {"threads": threads, "hflip": True, "epochs": 15,
                         "min_steps": min_steps},
            "strategy": {"name": "margin"},
            "jobs": jobs}


def _holdout_batch(pool: Pool, positions: np.ndarray) -> tuple:
    from activelearn.kinds import BatchKind

    items = [(pool.item_ids[i], 0.0) for i in positions]
    return BatchKind.HOLDOUT, "random", 0, None, items, None, Split.HOLDOUT


def one_round(executor: Executor, project: Project, version: str) -> float:
    """Seconds of a round's compute: train (and evaluate) `version`, score the unlabeled
    pool, select SELECT with margin."""
    return sum(timed_round(executor, project, version))


def timed_round(executor: Executor, project: Project, version: str) -> tuple[float, float]:
    """one_round's seconds in two: train (and evaluate), then score and select."""
    handles = handles_on(project.cfg, executor)
    with handles.store() as store:
        start = time.perf_counter()
        train(handles, store, 1, version, progress=False)
        trained = time.perf_counter()
        score_and_select(handles, store, version, project.unlabeled, project.labeled, SELECT,
                         seed=1, progress=False)
    return trained - start, time.perf_counter() - trained


def handles_on(cfg: Config, executor: Executor) -> Handles:
    """activelearn's Project of cfg (what the job kinds' controller side takes), its jobs
    on executor."""
    handles = Handles(cfg)
    handles.executor = executor
    return handles


# -- processes: workers and moto's server, always stopped by their pid -------------------
def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM (an RQ worker finishes its job first), then SIGKILL after 30 s, or at once
    when interrupted meanwhile."""
    try:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 30
        for proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@contextmanager
def workers(n: int, threads: int, config: Path, logs: Path, redis_url: str,
            options: tuple[str, ...] = (), cwd: Path = ROOT,
            homes: list[Path] | None = None) -> Iterator[list[subprocess.Popen]]:
    """n `activelearn worker`s (CPU, `threads` torch threads each), registered and idle
    when this yields; stopped by their pids on leaving. homes: one folder per worker,
    which gets --scratch HOME/scratch and is its cwd (instead of cwd)."""
    names = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    try:
        for k, name in enumerate(names):
            command = [sys.executable, "-m", "activelearn.cli", "worker", "--config",
                       str(config), "--threads", str(threads), "--device", "cpu",
                       "--name", name, *options]
            where = cwd
            if homes is not None:
                where = homes[k] / "scratch"
                where.mkdir(parents=True, exist_ok=True)
                command += ["--scratch", str(where)]
            with (logs / f"{name}.log").open("wb") as log:
                procs.append(subprocess.Popen(command, cwd=where, stdout=log,
                                              stderr=subprocess.STDOUT))
        _wait_registered(procs, names, logs, redis_url)
        yield procs
    finally:
        stop(procs)


def _wait_registered(procs: list[subprocess.Popen], names: list[str], logs: Path,
                     redis_url: str) -> None:
    from rq import Worker

    redis = Redis.from_url(redis_url)
    deadline = time.monotonic() + WORKER_START_S
    while True:
        keys = {k.decode() if isinstance(k, bytes) else k
                for k in Worker.all_keys(connection=redis)}
        if all(f"rq:worker:{name}" in keys for name in names):
            return
        for proc, name in zip(procs, names):
            if proc.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker {name} exited ({proc.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not registered after {WORKER_START_S} s ({logs})")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """moto's S3 server on a free loopback port (yields its endpoint URL), stopped by its
    pid on leaving."""
    beside = Path(sys.executable).with_name("moto_server")
    binary = str(beside) if beside.exists() else shutil.which("moto_server")
    if binary is None:
        raise RuntimeError("moto's server is not installed: pip install -e '.[test]'")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(endpoint + "/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start on port {port} (log: {log})")
            time.sleep(0.1)
        yield endpoint
    finally:
        stop([proc])


def use_s3(endpoint: str) -> None:
    """Point the AWS libraries of this process, and of the workers it starts (they
    inherit os.environ), at the server with dummy credentials; create the bucket."""
    import boto3
    import s3fs

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true"})
    s3fs.S3FileSystem.clear_instance_cache()
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)


# -- sections ----------------------------------------------------------------------------
def ensure_model(project: Project, version: str) -> str:
    """version, trained inline unless its checkpoint is in the project's store."""
    handles = handles_on(project.cfg, InlineExecutor())
    if not handles.artifacts.exists(checkpoint_name(version)):
        with handles.store() as store:
            train(handles, store, 1, version, progress=False)
    return version


def score_pool(cfg: Config, version: str, unlabeled: np.ndarray) -> float:
    """Seconds to score the pool through RQ, from scratch (the shards removed first)."""
    shutil.rmtree(cfg.work_dir / "scores" / version, ignore_errors=True)  # local store
    executor = RQExecutor(cfg.jobs)
    handles = handles_on(cfg, executor)
    payloads = score.shards(handles, version, unlabeled, cfg.jobs.shard_size,
                            {**base_payload(handles), "version": version, "seed": 0,
                             "embeddings": False, "mc_passes": 0})
    start = time.perf_counter()
    executor.run(score.KIND, payloads)
    return time.perf_counter() - start


def dispatch_latency(cfg: Config, version: str, n: int = 20) -> list[float]:
    executor = RQExecutor(cfg.jobs)
    queue = executor.queue(score.KIND)
    handles = handles_on(cfg, executor)
    base = score.shards(handles, version, np.arange(8), 8,
                        {**base_payload(handles), "version": version, "seed": 0,
                         "embeddings": False, "mc_passes": 0})[0]
    latencies = []
    for k in range(n):
        executor.run(score.KIND, [{**base, "out": f"latency/{k}.npz"}])
        latencies.append(_last_latency(queue))
    return latencies


def _last_latency(queue) -> float:
    finished = queue.finished_job_registry.get_job_ids()
    newest = max((queue.fetch_job(j) for j in finished), key=lambda j: j.enqueued_at)
    return (newest.started_at - newest.enqueued_at).total_seconds()


def rounds_and_latency(project: Project, args: argparse.Namespace, logs: Path,
                       sections: set[str]) -> str | None:
    """Sections rounds and latency (one worker of args.threads threads); returns the
    model version they trained, if any."""
    version = None
    if "rounds" in sections:
        inline = [one_round(InlineExecutor(), project, f"inline-{k}") for k in range(2)]
        print(f"round inline: {inline[0]:.2f} s, again {inline[1]:.2f} s", flush=True)
    with workers(1, args.threads, project.path, logs, args.redis):
        if "rounds" in sections:
            rq = [one_round(RQExecutor(project.cfg.jobs), project, f"rq-{k}")
                  for k in range(2)]
            version = "rq-1"
            best = min(inline)
            print(f"round via RQ, 1 worker: cold {rq[0]:.2f} s ({rq[0] / best:.3f}x), warm "
                  f"{rq[1]:.2f} s ({rq[1] / best:.3f}x inline; target <= {TARGET_RQ}x)",
                  flush=True)
        if "latency" in sections:
            version = version or ensure_model(project, "base")
            latency = dispatch_latency(project.cfg, version)
            print(f"dispatch latency (enqueue -> start, idle worker, {len(latency)} jobs): "
                  f"median {statistics.median(latency) * 1000:.1f} ms, max "
                  f"{max(latency) * 1000:.1f} ms", flush=True)
    return version


def scale(project: Project, version: str, logs: Path, redis_url: str) -> None:
    times = {}
    n_items = len(project.unlabeled)
    for n in (1, 2):
        with workers(n, 1, project.path, logs, redis_url):
            score_pool(project.cfg, version, project.unlabeled)  # warm: pool, model loaded
            times[n] = score_pool(project.cfg, version, project.unlabeled)
        print(f"score {n_items} items (shards of {project.cfg.jobs.shard_size}), {n} worker(s) "
              f"x 1 thread: {times[n]:.2f} s ({n_items / times[n]:.0f} items/s)", flush=True)
    print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x (target >= {TARGET_SCALE}x)",
          flush=True)


EXECUTORS = ("inline", "1 worker", "2 workers")


def store_section(folder: Path, pool: Pool, args: argparse.Namespace) -> None:
    """Round seconds per store (local, s3) and executor, the two stores' rounds
    interleaved (local, s3, local, s3, ...) so that drift in the machine's speed falls on
    both; the S3 overhead per executor, and the seconds the inline rounds spent in S3
    calls (the overhead itself, measured without the noise of training)."""
    with moto_server(folder / "moto.log") as endpoint:
        use_s3(endpoint)
        print(f"artifact store: local = the project's work dir; s3 = {S3_STORE} on moto at "
              f"{endpoint}", flush=True)
        projects = {store: make_project(folder / f"store-{store}", args, pool,
                                        S3_STORE if store == "s3" else "")
                    for store in ("local", "s3")}
        seconds: dict[tuple[str, str], list[float]] = {}
        for executor in EXECUTORS:
            with _executors(folder, projects, executor, args) as make:
                for k in range(args.repeats + 1):  # round 0 warms up: pool, torch loaded
                    for store in ("local", "s3"):
                        with _s3_calls() as spent:
                            train, select = timed_round(make[store](), projects[store],
                                                        f"{store}-{executor[0]}-{k}")
                        if k:
                            seconds.setdefault((store, executor), []).append(train + select)
                        in_s3 = f", {spent[0]:.2f} s in S3 calls" if spent[0] else ""
                        print(f"  {executor:9} {store:5} round {k}{' (warm-up)' if not k else ''}"
                              f": {train + select:.2f} s (train {train:.2f} + score, select "
                              f"{select:.2f}{in_s3})", flush=True)
        _check_remote(projects["s3"])
    print(f"\nround seconds (median of {args.repeats} warm round(s), interleaved; train on "
          f"{len(projects['s3'].labeled)} labels, score {len(projects['s3'].unlabeled)}, "
          f"select {SELECT}; {args.threads} torch thread(s) per process)")
    print(f"{'executor':10} {'local':>8} {'s3':>8}  s3 overhead (target <= {TARGET_S3:.0%})")
    worst = -1.0
    for executor in EXECUTORS:
        local, s3 = (statistics.median(seconds[store, executor]) for store in ("local", "s3"))
        overhead = (s3 - local) / local
        worst = max(worst, overhead)
        verdict = "ok" if overhead <= TARGET_S3 else "OVER TARGET"
        spread = ", ".join(f"{store} {min(seconds[store, executor]):.2f}-"
                           f"{max(seconds[store, executor]):.2f}" for store in ("local", "s3"))
        print(f"{executor:10} {local:8.2f} {s3:8.2f}  {overhead:+7.1%}  {verdict} ({spread})")
    print(f"S3 overhead, worst of the executors: {worst:+.1%} "
          f"({'meets' if worst <= TARGET_S3 else 'misses'} the <= {TARGET_S3:.0%} target)",
          flush=True)


@contextmanager
def _s3_calls() -> Iterator[list[float]]:
    """[seconds] this process spends in the artifact store's remote calls meanwhile."""
    from activelearn.data.artifacts import ArtifactStore

    spent = [0.0]
    call = ArtifactStore._call

    def timed(self: ArtifactStore, *a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(self, *a, **kw)
        finally:
            spent[0] += time.perf_counter() - start

    ArtifactStore._call = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        ArtifactStore._call = call  # type: ignore[method-assign]


@contextmanager
def _executors(folder: Path, projects: dict[str, Project], executor: str,
               args: argparse.Namespace) -> Iterator[dict[str, Callable[[], Executor]]]:
    """store -> a maker of the executor; for n workers, n local-store workers and n
    S3-store workers run meanwhile (on queues of their own)."""
    if executor == "inline":
        yield {"local": InlineExecutor, "s3": InlineExecutor}
        return
    n, tag = int(executor.split()[0]), executor.split()[0]
    logs = folder / "logs" / f"store-{tag}"
    # on "another machine": own folders, config, work dir and scratch, another cwd
    homes = [folder / "s3-workers" / f"{tag}-{k}" for k in range(n)]
    config = homes[0] / "project.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(project_yaml(homes[0] / "work", args.redis, args.threads,
                                                  args.shard, args.min_steps, S3_STORE)))
    options = ("--artifacts", S3_STORE, "--work-dir", str(homes[0] / "work"))
    with workers(n, args.threads, projects["local"].path, logs / "local", args.redis), \
            workers(n, args.threads, config, logs / "s3", args.redis, options, homes=homes):
        yield {store: functools.partial(RQExecutor, projects[store].cfg.jobs)
               for store in ("local", "s3")}


def _check_remote(project: Project) -> None:
    """Say what the S3 rounds left in the bucket; fail if an artifact went to the
    controller's work dir instead."""
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="bench/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    local = [p for p in ("models", "scores", "snapshots") if (project.cfg.work_dir / p).exists()]
    if local:
        raise RuntimeError(f"S3 rounds wrote {', '.join(local)} into the work dir")
    print(f"  {S3_STORE}: {len(keys)} objects "
          f"({sum(k.startswith('bench/models/') for k in keys)} checkpoints); nothing "
          "published into the controller's work dir", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=0,
                        help="score only this many unlabeled items (default: all)")
    parser.add_argument("--shard", type=int, default=10_000, help="jobs.shard_size")
    parser.add_argument("--min-steps", type=int, default=400,
                        help="training.min_steps (15 epochs, at least this many steps)")
    parser.add_argument("--threads", type=int, default=2,
                        help="controller and round worker(s)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="warm rounds per store and executor (their median)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated, of {', '.join(SECTIONS)}")
    args = parser.parse_args()
    # SIGTERM as Ctrl-C: the finally blocks stop the workers and moto's server
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not sections or sections - set(SECTIONS):
        parser.error(f"--sections: choose from {', '.join(SECTIONS)}")
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]), flush=True)
    Redis.from_url(args.redis).flushdb()
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        folder = Path(tmp)
        project = make_project(folder / "main", args)
        print(f"pool {len(project.pool)}, train labels {len(project.labeled)}, unlabeled "
              f"scored {len(project.unlabeled)}, shards of {args.shard}, sections "
              f"{', '.join(s for s in SECTIONS if s in sections)}", flush=True)
        version = None
        if sections & {"rounds", "latency"}:
            version = rounds_and_latency(project, args, folder / "logs" / "rounds", sections)
        if "scale" in sections:
            version = version or ensure_model(project, "base")
            scale(project, version, folder / "logs" / "scale", args.redis)
        if "store" in sections:
            store_section(folder, project.pool, args)


if __name__ == "__main__":
    main()
