"""Rounds on remote workers at photo scale: seconds and bytes read from S3 per worker per
round, against the same round with the pool on local disk (issue 28, "must show").

    .venv/bin/python benchmarks/remote_round.py [--count 20000] [--root /work/bench/photos_N]
        [--work /work/bench/remote_round_N] [--redis redis://127.0.0.1:6379/14]
        [--cache-size 2GB] [--change 0.01] [--rounds 3] [--no-local] [--out FILE.json]

A smoke run (2-4 min on 2 busy cores): `--count 1000 --labels 200 --select 100
--shard 250 --no-local`. The full run took 8-13 min on 2 cores shared with other work
(load 3-12) with the decoded cache (upload 1 min, the controller's first ingest of the
bucket 3-4.5 min, round 1 2.7-5 min, rounds 2 and 3 under 30 s each, the local
comparison 1 min), 22 min without it (every S3 round 4.5-5 min). It needs Redis on
127.0.0.1:6379 (database 14 is flushed first; the server has 16) and moto's server
(`pip install -e '.[test]'`). To measure a given commit without the working tree's edits:
`git archive COMMIT | tar -x -C /tmp/al && cd /tmp/al && PYTHONPATH=/tmp/al
/work/main/.venv/bin/python benchmarks/remote_round.py` (the workers inherit PYTHONPATH).

1. The synthetic collection of --count photos (benchmarks/photo_collection.py: JPEG/PNG
   of many modes and sizes, a few corrupt) is generated into --root, or reused.
2. moto's S3 server starts on a free loopback port (stopped at the end); the photos are
   uploaded to s3://bench/photos. Each S3 client goes through a counting TCP forwarder
   of its own on another loopback port (its AWS_ENDPOINT_URL names it): the controller
   (this process) and each worker, so the bytes each reads from S3 (HTTP responses,
   headers included) are counted exactly.
3. The S3 project: data.source imagefolder, data.root s3://bench/photos (data.cache:
   none: the controller builds no decoded cache the workers could not read anyway),
   jobs.artifacts s3://bench/store, its jobs on --redis. Two `activelearn worker`s, each
   in its own folder (cwd, config, --scratch) with `--artifacts s3://bench/store` and
   `--cache-size` (when the worker has that option: before issue 28 it had not), each
   its own decoded cache in its scratch (two machines), or with --shared-cache one
   --cache-dir for both (two processes on one machine).
   The controller ingests the bucket (catalogue), then labels --labels random items and a
   holdout of --holdout from the ground truth (photo_collection.plan).
4. Rounds 1 to --rounds, each as benchmarks/jobs_rq.py runs one: the controller's train
   job, the score jobs over the unlabeled pool in shards of --shard, one select job of
   --select with margin. Between rounds the selected batch gets its ground-truth labels,
   and --change of the photos are rewritten (new content: photo_collection's next
   variant) and uploaded again, and the controller re-ingests (it reads the changed files
   only). Printed per round: seconds, load average; per worker: jobs, seconds in jobs,
   MiB read from S3.
5. The local comparison (unless --no-local): the same collection on local disk (a
   hard-linked copy, the same changes applied), data.cache --local-cache (memmap: the
   decoded cache on the disk the workers share), the work dir as the artifact store, two
   workers with --work-dir; round 1, then round 2 on exactly the S3 run's labels.

Targets (issue 28): round 2 reads <= 5% of round 1's bytes (both workers together);
round 2 on S3 takes <= 1.2x the local round 2. Timings drift with the machine's load:
the load average is printed beside each round. Writes the figures to --out [default:
WORK/results.json].
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import photo_collection as photos  # benchmarks/ is on sys.path when run as a script
import yaml
from _remote import CountingProxy
from jobs_rq import BUCKET, _wait_registered, moto_server, stop, use_s3
from photo_pool import ensure_collection
from redis import Redis

from activelearn.config import Config, load_config
from activelearn.jobs.executor import RQExecutor
from activelearn.jobs.kinds.select import score_and_select
from activelearn.jobs.kinds.train import train
from activelearn.kinds import BatchKind, Split
from activelearn.project import Project

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = f"s3://{BUCKET}/photos"
STORE = f"s3://{BUCKET}/store"
TARGET_BYTES = 0.05  # round 2's bytes / round 1's bytes
TARGET_TIME = 1.2  # S3 round 2 / local round 2
MIB = 2**20


# -- the projects --------------------------------------------------------------------------
def project_yaml(work_dir: Path, root: str, args: argparse.Namespace, cache: str,
                 artifacts: str = "") -> dict[str, Any]:
    jobs: dict[str, Any] = {"redis_url": args.redis, "shard_size": args.shard}
    if artifacts:
        jobs["artifacts"] = artifacts
    return {"project": {"name": "remote-round", "work_dir": str(work_dir), "seed": 0},
            "data": {"source": "imagefolder", "root": root, "cache": cache},
            "classes": photos.CLASSES,
            "model": {"name": "small_cnn", "input_size": [args.input_size] * 2},
            "training": {"epochs": args.epochs, "min_steps": args.min_steps,
                         "batch_size": 64, "threads": args.threads},
            "strategy": {"name": "margin"},
            "jobs": jobs}


def write_config(folder: Path, raw: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def truth(item_id: str, seed: int) -> int:
    """The ground-truth class of a photo, loose (unlabeled) ones too."""
    return photos.plan(seed, int(Path(item_id).stem)).label


def ingest(handles: Project, build_cache: bool) -> tuple[Any, float]:
    """The controller lists the source and reads new or changed files (and extends the
    decoded cache with data.cache: memmap); returns the pool and the seconds."""
    start = time.perf_counter()
    with handles.store() as store:
        pool = handles.open_pool(store, build_cache=build_cache)
    return pool, time.perf_counter() - start


def label_start(handles: Project, pool: Any, args: argparse.Namespace) -> None:
    """Every item a train item, a random holdout of args.holdout and args.labels random
    train labels, from the ground truth (the same draw for every project of a run)."""
    chosen = np.random.default_rng(0).choice(len(pool.item_ids), args.labels + args.holdout,
                                             replace=False)
    ids = [pool.item_ids[i] for i in chosen]
    with handles.store() as store:
        store.items.add((item, i, None, Split.TRAIN.value)
                        for i, item in enumerate(pool.item_ids))
        store.batches.add(0, BatchKind.HOLDOUT, "random", 0, None,
                          [(i, 0.0) for i in ids[args.labels:]], None, Split.HOLDOUT)
        store.labels.set(((i, truth(i, args.seed)) for i in ids), "bench", 0)


def add_labels(handles: Project, item_ids: list[str], round_: int, seed: int) -> None:
    with handles.store() as store:
        store.labels.set(((i, truth(i, seed)) for i in item_ids), "bench", round_)


# -- changed photos ------------------------------------------------------------------------
def changes(args: argparse.Namespace, round_: int, folder: Path) -> list[str]:
    """Rewrite args.change of the photos (drawn per round) as variant `round_` into folder
    (a staging copy of the layout); returns their relative paths."""
    count = photos.read_manifest(args.root)["count"]  # type: ignore[index]
    n = int(count * args.change)
    if not n:
        return []
    picked = np.random.default_rng([args.seed, 11, round_]).choice(count, n, replace=False)
    for name in photos.CLASSES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for index in sorted(picked.tolist()):
        photos.write_item(folder, args.seed, int(index), round_)
    return [photos.plan(args.seed, int(i)).relpath for i in sorted(picked.tolist())]


def upload(client: Any, root: Path, relpaths: list[str]) -> int:
    """Put root/relpath at photos/relpath in the bucket; returns the bytes."""
    def put(rel: str) -> int:
        data = (root / rel).read_bytes()
        client.put_object(Bucket=BUCKET, Key=f"photos/{rel}", Body=data)
        return len(data)

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(put, relpaths))


def apply_local(staged: Path, root: Path, relpaths: list[str]) -> None:
    """Put the staged files into the local copy, each as a new file (the copy's files
    are hard links to the collection's, which must not change)."""
    for rel in relpaths:
        target = root / rel
        target.unlink(missing_ok=True)
        shutil.copyfile(staged / rel, target)


# -- workers -------------------------------------------------------------------------------
def worker_options() -> str:
    """`activelearn worker --help`: which options this version has."""
    return subprocess.run([sys.executable, "-m", "activelearn.cli", "worker", "--help"],
                          capture_output=True, text=True, cwd=ROOT).stdout


def cache_option(size: str, shared: Path | None) -> tuple[str, ...]:
    """--cache-size SIZE when the worker has the option (issue 28's decoded cache), and
    --cache-dir shared (one folder for both workers: two processes on one machine)."""
    helped = worker_options()
    if not size or size == "0" or "--cache-size" not in helped:
        return ()
    return ("--cache-size", size) + (("--cache-dir", str(shared)) if shared else ())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@contextmanager
def workers(homes: list[Path], configs: list[Path], logs: Path, args: argparse.Namespace,
            options: tuple[str, ...], endpoints: list[str] | None) -> Any:
    """One `activelearn worker` per home (its cwd and --scratch HOME/scratch), with its
    own AWS_ENDPOINT_URL when endpoints are given; registered when this yields, stopped
    by their pids on leaving. Yields their names."""
    logs.mkdir(parents=True, exist_ok=True)
    names = [f"bench-{home.name}-{os.getpid()}" for home in homes]
    procs: list[subprocess.Popen] = []
    try:
        for k, (home, config) in enumerate(zip(homes, configs)):
            (home / "scratch").mkdir(parents=True, exist_ok=True)
            env = dict(os.environ)
            if endpoints:
                env["AWS_ENDPOINT_URL"] = endpoints[k]
            command = [sys.executable, "-m", "activelearn.cli", "worker", "--config",
                       str(config), "--threads", str(args.threads), "--device", "cpu",
                       "--name", names[k], "--scratch", str(home / "scratch"), *options]
            with (logs / f"{names[k]}.log").open("wb") as log:
                procs.append(subprocess.Popen(command, cwd=home, env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
        _wait_registered(procs, names, logs, args.redis)
        yield names
    finally:
        stop(procs)


def finished_jobs(cfg: Config, redis: Redis) -> dict[str, Any]:
    """job id -> job of every finished job on the project's queues, the workers' own
    queues too ("activelearn-gpu@worker": sticky score shards, jobs/affinity.py)."""
    from rq import Queue

    shared = {cfg.jobs.gpu_queue, cfg.jobs.cpu_queue}
    jobs = {}
    for queue in Queue.all(connection=redis):
        if queue.name.split("@")[0] not in shared:
            continue
        for job_id in queue.finished_job_registry.get_job_ids():
            job = queue.fetch_job(job_id)
            if job is not None:
                jobs[job_id] = job
    return jobs


# -- a round -------------------------------------------------------------------------------
def run_round(handles: Project, pool: Any, round_: int, version: str,
              args: argparse.Namespace, meters: dict[str, CountingProxy]) -> dict[str, Any]:
    """Train version, score the unlabeled pool, select args.select, through the workers;
    returns seconds, load, the chosen item ids and per worker its jobs, seconds in jobs
    and bytes read from S3 (meters: name -> its proxy)."""
    redis = Redis.from_url(args.redis)
    seen = set(finished_jobs(handles.cfg, redis))
    read = {name: meter.received for name, meter in meters.items()}
    load = os.getloadavg()[0]
    with handles.store() as store:
        labels = store.labels.current(Split.TRAIN.value)
        splits = store.items.splits()
        position = {item: i for i, item in enumerate(pool.item_ids)}
        labeled = np.array(sorted(position[i] for i in labels if i in position), np.int64)
        unlabeled = np.array(sorted(p for i, p in position.items()
                                    if splits.get(i) == Split.TRAIN.value and i not in labels),
                             np.int64)
        start = time.perf_counter()
        train(handles, store, round_, version, progress=False)
        trained = time.perf_counter()
        result = score_and_select(handles, store, version, unlabeled, labeled, args.select,
                                  seed=round_, progress=False)
        end = time.perf_counter()
    per_worker: dict[str, dict[str, Any]] = {}
    jobs = []
    for job_id, job in finished_jobs(handles.cfg, redis).items():
        if job_id in seen:
            continue
        mine = per_worker.setdefault(job.worker_name or "?",
                                     {"jobs": 0, "busy_s": 0.0, "kinds": {}})
        mine["jobs"] += 1
        kind = (job.description or "?").split()[0]
        mine["kinds"][kind] = mine["kinds"].get(kind, 0) + 1
        seconds = (job.ended_at - job.started_at).total_seconds()
        mine["busy_s"] += seconds
        jobs.append({"worker": job.worker_name, "job": job.description,
                     "seconds": round(seconds, 3), "queued_s": round(
                         (job.started_at - job.enqueued_at).total_seconds(), 3)})
    bytes_read = {name: meter.received - read[name] for name, meter in meters.items()}
    return {"round": round_, "version": version, "seconds": end - start,
            "train_s": trained - start, "score_select_s": end - trained,
            "load_1min": load, "load_after": os.getloadavg()[0],
            "labeled": len(labeled), "scored": len(unlabeled),
            "chosen": [pool.item_ids[i] for i in result["positions"]],
            "workers": per_worker, "bytes": bytes_read,
            "jobs": sorted(jobs, key=lambda j: str(j["job"]))}


def show_round(what: str, r: dict[str, Any], names: list[str]) -> None:
    print(f"{what} round {r['round']}: {r['seconds']:.1f} s (train {r['train_s']:.1f}, "
          f"score + select {r['score_select_s']:.1f}; {r['labeled']} labels, "
          f"{r['scored']} scored; load {r['load_1min']:.1f} -> {r['load_after']:.1f})",
          flush=True)
    for name in names:
        w = r["workers"].get(name, {"jobs": 0, "busy_s": 0.0, "kinds": {}})
        got = r["bytes"].get(name)
        mib = f", {got / MIB:9.2f} MiB read from S3" if got is not None else ""
        kinds = " ".join(f"{k} {n}" for k, n in sorted(w["kinds"].items()))
        print(f"    {name}: {w['jobs']:2d} jobs ({kinds}), {w['busy_s']:6.1f} s in jobs{mib}",
              flush=True)
    if "controller" in r["bytes"]:
        print(f"    controller: {r['bytes']['controller'] / MIB:.2f} MiB read from S3 "
              "(publishing, reading results)", flush=True)


# -- the two runs --------------------------------------------------------------------------
def s3_run(args: argparse.Namespace, client: Any, endpoint: str,
           stack: ExitStack) -> dict[str, Any]:
    """Upload, ingest, then args.rounds rounds on two remote workers (see the module)."""
    files = [str(p.relative_to(args.root)) for p in photos.list_files(args.root)]
    start = time.perf_counter()
    uploaded = upload(client, args.root, files)
    print(f"uploaded {len(files)} photos ({uploaded / MIB:.1f} MiB) to {PHOTOS} in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    port = int(endpoint.rsplit(":", 1)[1])
    meters = {name: stack.enter_context(CountingProxy(port))
              for name in ("controller", "worker-0", "worker-1")}
    os.environ["AWS_ENDPOINT_URL"] = meters["controller"].url
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    folder = args.work / "s3"
    config = write_config(folder / "controller",
                          project_yaml(folder / "controller" / "work", PHOTOS, args, "none",
                                       STORE))
    handles = Project(load_config(config))
    handles.executor = RQExecutor(handles.cfg.jobs)
    before = meters["controller"].received
    pool, seconds = ingest(handles, build_cache=False)
    print(f"controller ingest of {PHOTOS}: {len(pool.item_ids)} usable, "
          f"{len(pool.skipped)} skipped, {seconds:.1f} s, "
          f"{(meters['controller'].received - before) / MIB:.1f} MiB read", flush=True)
    label_start(handles, pool, args)
    homes = [folder / f"worker-{k}" for k in range(2)]
    configs = [write_config(home, project_yaml(home / "work", PHOTOS, args, "none", STORE))
               for home in homes]
    options = ("--artifacts", STORE, *args.cache_option)
    shared = args.work / "s3" / "decoded" if args.shared_cache else None
    shown = ["activelearn", "worker", "--config", "HOME/project.yaml", "--threads",
             str(args.threads), "--device", "cpu", "--scratch", "HOME/scratch", *options]
    print(f"workers, each with AWS_ENDPOINT_URL its own proxy: {shlex.join(shown)}",
          flush=True)
    rounds: list[dict[str, Any]] = []
    mutations: list[dict[str, Any]] = []
    with workers(homes, configs, args.work / "logs" / "s3", args,
                 options, [meters[f"worker-{k}"].url for k in range(2)]) as names:
        meter_of = {name: meters[f"worker-{k}"] for k, name in enumerate(names)}
        meter_of["controller"] = meters["controller"]
        for r in range(1, args.rounds + 1):
            if r > 1:
                add_labels(handles, rounds[-1]["chosen"], r - 1, args.seed)
                staged = args.work / "changes" / f"round-{r}"
                changed = changes(args, r - 1, staged)
                upload(client, staged, changed)
                before = meters["controller"].received
                pool, seconds = ingest(handles, build_cache=False)
                mutations.append({"round": r, "changed": len(changed), "ingest_s": seconds,
                                  "ingest_bytes": meters["controller"].received - before})
                print(f"changed {len(changed)} photos; controller re-ingest {seconds:.1f} s, "
                      f"{mutations[-1]['ingest_bytes'] / MIB:.1f} MiB read", flush=True)
            rounds.append(run_round(handles, pool, r, f"s3-r{r}", args, meter_of))
            show_round("S3", rounds[-1], names)
        queues_status(config)
    for k, home in enumerate(homes):
        print(f"worker-{k} scratch: {folder_bytes(home / 'scratch') / MIB:.1f} MiB", flush=True)
    if shared:
        print(f"shared decoded cache: {folder_bytes(shared) / MIB:.1f} MiB", flush=True)
    return {"rounds": rounds, "workers": names, "changes": mutations}


def queues_status(config: Path) -> None:
    """What `activelearn status --queues` shows of the workers (their decoded caches)."""
    shown = subprocess.run([sys.executable, "-m", "activelearn.cli", "status", "--queues",
                            "--config", str(config)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    lines = (shown.stdout + shown.stderr).strip().splitlines()
    print("activelearn status --queues (last 15 lines):\n    " + "\n    ".join(lines[-15:]),
          flush=True)


def local_run(args: argparse.Namespace, s3: dict[str, Any]) -> dict[str, Any]:
    """Rounds 1 and 2 with the pool on local disk and the work dir as the store, round 2
    on the S3 run's labels and changes."""
    folder = args.work / "local"
    photos_copy = folder / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(args.root), str(photos_copy)], check=True)
    config = write_config(folder / "controller",
                          project_yaml(folder / "controller" / "work", str(photos_copy), args,
                                       args.local_cache))
    handles = Project(load_config(config))
    handles.executor = RQExecutor(handles.cfg.jobs)
    pool, seconds = ingest(handles, build_cache=True)
    print(f"local ingest (data.cache {args.local_cache}): {len(pool.item_ids)} usable, "
          f"{seconds:.1f} s", flush=True)
    label_start(handles, pool, args)
    homes = [folder / f"worker-{k}" for k in range(2)]
    # their own caches (a shared one would hold the S3 run's rows)
    options = ("--work-dir", str(folder), *args.cache_option[:2])
    rounds = []
    with workers(homes, [config, config], args.work / "logs" / "local", args, options,
                 None) as names:
        rounds.append(run_round(handles, pool, 1, "local-r1", args, {}))
        show_round("local", rounds[-1], names)
        if args.rounds >= 2:
            add_labels(handles, s3["rounds"][0]["chosen"], 1, args.seed)
            staged = args.work / "changes" / "round-2"
            if staged.exists():
                changed = [str(p.relative_to(staged)) for p in photos.list_files(staged)]
                apply_local(staged, photos_copy, changed)
            pool, seconds = ingest(handles, build_cache=True)
            print(f"local re-ingest {seconds:.1f} s", flush=True)
            rounds.append(run_round(handles, pool, 2, "local-r2", args, {}))
            show_round("local", rounds[-1], names)
    same = rounds[0]["chosen"] == s3["rounds"][0]["chosen"]
    print(f"local round 1 selected {'the same' if same else 'ANOTHER'} batch as S3 round 1",
          flush=True)
    return {"rounds": rounds, "workers": names, "same_batch_round_1": same}


# -- the verdicts --------------------------------------------------------------------------
def verdicts(s3: dict[str, Any], local: dict[str, Any] | None) -> list[str]:
    rounds = {r["round"]: r for r in s3["rounds"]}
    lines = []
    if 1 in rounds and 2 in rounds:
        workers_read = [sum(v for k, v in rounds[r]["bytes"].items() if k != "controller")
                        for r in (1, 2)]
        ratio = workers_read[1] / max(1, workers_read[0])
        lines.append(f"{'PASS' if ratio <= TARGET_BYTES else 'MISS'} round 2 read "
                     f"{workers_read[1] / MIB:.1f} MiB from S3 = {ratio:.1%} of round 1's "
                     f"{workers_read[0] / MIB:.1f} MiB (both workers; target <= "
                     f"{TARGET_BYTES:.0%})")
    if local and 2 in rounds and len(local["rounds"]) > 1:
        s3_s, local_s = rounds[2]["seconds"], local["rounds"][1]["seconds"]
        ratio = s3_s / local_s
        lines.append(f"{'PASS' if ratio <= TARGET_TIME else 'MISS'} round 2 on S3 "
                     f"{s3_s:.1f} s = {ratio:.2f}x the local round 2's {local_s:.1f} s "
                     f"(target <= {TARGET_TIME}x; load {rounds[2]['load_1min']:.1f} vs "
                     f"{local['rounds'][1]['load_1min']:.1f})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--root", type=Path, default=None,
                        help="collection folder [default: /work/bench/photos_COUNT]")
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder, emptied first [default: /work/bench/remote_round_COUNT]")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="the jobs' Redis database, flushed first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels", type=int, default=500, help="train labels to start with")
    parser.add_argument("--holdout", type=int, default=200)
    parser.add_argument("--select", type=int, default=500, help="batch selected per round")
    parser.add_argument("--shard", type=int, default=2500, help="jobs.shard_size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--change", type=float, default=0.01,
                        help="share of the photos rewritten before each round after the first")
    parser.add_argument("--cache-size", default="2GB",
                        help="the workers' --cache-size (0: none) [default: 2GB]")
    parser.add_argument("--shared-cache", action="store_true",
                        help="one --cache-dir for both workers (two processes on one "
                             "machine) instead of one each (two machines)")
    parser.add_argument("--local-cache", default="memmap", choices=("memmap", "none"),
                        help="data.cache of the local comparison [default: memmap]")
    parser.add_argument("--no-local", action="store_true", help="skip the local comparison")
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--min-steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.root = args.root or Path(f"/work/bench/photos_{args.count}")
    args.work = args.work or Path(f"/work/bench/remote_round_{args.count}")
    # SIGTERM as Ctrl-C: the finally blocks stop the workers, the proxies and moto
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.perf_counter()
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]), flush=True)
    print(f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}", flush=True)
    ensure_collection(args.root, args.count, args.seed)
    if args.work.exists():
        shutil.rmtree(args.work)
    (args.work / "logs").mkdir(parents=True)
    shared = args.work / "s3" / "decoded" if args.shared_cache else None
    args.cache_option = cache_option(args.cache_size, shared)
    if args.cache_size not in ("", "0") and not args.cache_option:
        print("the workers have no --cache-size (before issue 28's decoded cache): none",
              flush=True)
    Redis.from_url(args.redis).flushdb()
    import boto3

    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server(args.work / "moto.log"))
        use_s3(endpoint)
        client = boto3.client("s3", endpoint_url=endpoint)
        s3 = s3_run(args, client, endpoint, stack)
    local = None if args.no_local else local_run(args, s3)
    lines = verdicts(s3, local)
    wall = time.perf_counter() - started
    print("\n".join(lines) + f"\nwall time {wall / 60:.1f} min", flush=True)
    for run in (s3, local or {}):
        for r in run.get("rounds", []):
            r.pop("chosen")
    out = args.out or args.work / "results.json"
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "s3": s3,
                               "local": local, "verdicts": lines, "wall_s": wall}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
