"""RQ against inline: a round's jobs, scoring speed-up with 2 workers, dispatch latency.

    .venv/bin/python benchmarks/jobs_rq.py [--redis redis://127.0.0.1:6379/12] [--labels 1000]

Builds a Fashion-MNIST project (the whole 60,000-image pool, `--labels` ground-truth
train labels, 200 holdout labels) in a temporary folder and measures, on that Redis
database (flushed first):

1. a round's compute (train + evaluate, score the unlabeled pool, select 500 with margin)
   inline, then through RQ with one local worker with the same torch threads, cold (the
   worker's first jobs load the pool) and warm; target (issue 4): RQ <= 1.05x inline;
2. scoring the pool (shards of 10,000) with 1 worker of one thread, then 2 such
   workers; target: >= 1.6x faster with 2;
3. dispatch latency: enqueue to job start for small jobs on an idle worker.

Label Studio is not involved: pull and push cost the same either way.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from redis import Redis

from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.data.sources import load_source
from activelearn.jobs import steps
from activelearn.jobs.executor import InlineExecutor, RQExecutor
from activelearn.kinds import Split
from activelearn.state import Store

ROOT = Path(__file__).resolve().parent.parent


def make_project(folder: Path, redis_url: str, labels: int, threads: int):
    raw = {"project": {"name": "bench", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "fashion-mnist", "root": str(ROOT / "data")},
           "classes": FASHION_MNIST_CLASSES,
           "training": {"threads": threads, "hflip": True, "epochs": 15, "min_steps": 400},
           "jobs": {"redis_url": redis_url, "shard_size": 10_000}}
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    pool = load_source(cfg.data, cfg.classes)
    train = np.flatnonzero(~pool.is_test)
    rng = np.random.default_rng(0)
    chosen = rng.choice(train, size=labels + 200, replace=False)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.items.add((item, i, None, Split.TEST.value if pool.is_test[i] else
                         Split.TRAIN.value) for i, item in enumerate(pool.item_ids))
        store.batches.add(0, *_holdout_batch(pool, chosen[labels:]))
        store.labels.set(((pool.item_ids[i], int(pool.labels[i])) for i in chosen), "bench", 0)
    unlabeled = np.setdiff1d(train, chosen)
    return cfg, pool, unlabeled, np.sort(chosen[:labels])


def _holdout_batch(pool, positions):
    from activelearn.kinds import BatchKind

    items = [(pool.item_ids[i], 0.0) for i in positions]
    return BatchKind.HOLDOUT, "random", 0, None, items, None, Split.HOLDOUT


def one_round(executor, cfg, version: str, unlabeled, labeled) -> float:
    start = time.perf_counter()
    steps.train(executor, cfg, 1, version, progress=False)
    steps.score_and_select(executor, cfg, version, unlabeled, labeled, 500, seed=1,
                           progress=False)
    return time.perf_counter() - start


def start_workers(n: int, threads: int, config: Path) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-m", "activelearn.cli", "worker", "--config",
                               str(config), "--threads", str(threads), "--device", "cpu"],
                              cwd=ROOT, stderr=subprocess.DEVNULL)
             for _ in range(n)]
    time.sleep(4)  # registered and idle (torch imported)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=30)


def score_pool(cfg, version: str, unlabeled) -> float:
    shutil.rmtree(cfg.work_dir / "scores" / version, ignore_errors=True)
    executor = RQExecutor(cfg.jobs)
    payloads = steps._shards(cfg.work_dir / "scores" / version, unlabeled,
                             cfg.jobs.shard_size, {**steps.base_payload(cfg),
                                                   "version": version, "seed": 0,
                                                   "embeddings": False, "mc_passes": 0})
    start = time.perf_counter()
    executor.run("score", payloads)
    return time.perf_counter() - start


def dispatch_latency(cfg, version: str, n: int = 20) -> list[float]:
    executor = RQExecutor(cfg.jobs)
    queue = executor.queue("score")
    positions = np.arange(8)
    base = steps._shards(cfg.work_dir / "latency", positions, 8,
                         {**steps.base_payload(cfg), "version": version, "seed": 0,
                          "embeddings": False, "mc_passes": 0})[0]
    latencies = []
    for k in range(n):
        payload = {**base, "out": str(cfg.work_dir / "latency" / f"{k}.npz")}
        executor.run("score", [payload])
        latencies.append(_last_latency(queue))
    return latencies


def _last_latency(queue) -> float:
    finished = queue.finished_job_registry.get_job_ids()
    newest = max((queue.fetch_job(j) for j in finished), key=lambda j: j.enqueued_at)
    return (newest.started_at - newest.enqueued_at).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="controller and round worker")
    args = parser.parse_args()
    Redis.from_url(args.redis).flushdb()
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        folder = Path(tmp)
        cfg, pool, unlabeled, labeled = make_project(folder, args.redis, args.labels,
                                                     args.threads)
        config = folder / "project.yaml"
        print(f"pool {len(pool)}, train labels {len(labeled)}, unlabeled {len(unlabeled)}",
              flush=True)
        inline = [one_round(InlineExecutor(), cfg, f"inline-{k}", unlabeled, labeled)
                  for k in range(2)]
        print(f"round inline: {inline[0]:.2f} s, again {inline[1]:.2f} s", flush=True)
        procs = start_workers(1, args.threads, config)
        try:
            rq = [one_round(RQExecutor(cfg.jobs), cfg, f"rq-{k}", unlabeled, labeled)
                  for k in range(2)]
            latency = dispatch_latency(cfg, "rq-1")
        finally:
            stop(procs)
        best_inline = min(inline)
        print(f"round via RQ, 1 worker: cold {rq[0]:.2f} s ({rq[0] / best_inline:.3f}x), "
              f"warm {rq[1]:.2f} s ({rq[1] / best_inline:.3f}x inline; target <= 1.05x)")
        print(f"dispatch latency (enqueue -> start, idle worker, {len(latency)} jobs): median "
              f"{statistics.median(latency) * 1000:.1f} ms, max {max(latency) * 1000:.1f} ms")
        times = {}
        for n in (1, 2):
            procs = start_workers(n, 1, config)
            try:
                score_pool(cfg, "rq-1", unlabeled)  # warm: pool and model loaded
                times[n] = score_pool(cfg, "rq-1", unlabeled)
            finally:
                stop(procs)
            print(f"score {len(unlabeled)} items, {n} worker(s) x 1 thread: {times[n]:.2f} s "
                  f"({len(unlabeled) / times[n]:.0f} items/s)", flush=True)
        print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x (target >= 1.6x)")


if __name__ == "__main__":
    main()
