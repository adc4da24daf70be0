"""Retention over many rounds (issue 28): the store and a worker's scratch stay flat.

    .venv/bin/python benchmarks/retention.py [--rounds 50] [--limit 2000] [--batch 10]
        [--redis redis://127.0.0.1:6379/11]

Runs `rounds` real cycles (loop.run.run_cycle: the real Cycle, its jobs through RQ) of a
small Fashion-MNIST project whose artifact store is on moto's S3 server (started on a
free loopback port, stopped at the end), with one real `activelearn worker` subprocess
that serves only `--artifacts s3://...` from a `--scratch` folder of its own. Nobody
labels: an in-memory annotation backend stands in for Label Studio, and at each pull
its oracle has labelled every task pushed so far with the true class, so every cycle
is a training round (train, score, select on the worker; push). Prints, after round 10
and after the last: the store's bytes by kind and artifact count, the worker's scratch
(its fetched copies) and the controller's WORK_DIR/fetched; then the target: store and
scratch after the last round within 10% of after round 10 (jobs.keep_models 3).
Flushes the Redis database it is given (default 11; this Redis has 16 databases).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from jobs_rq import BUCKET, moto_server, use_s3, workers  # benchmarks/ is on sys.path
from redis import Redis

from activelearn.annotation.backend import PulledAnnotation, PullResult, TaskSpec
from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.data.sources import load_source
from activelearn.jobs.scratch import folder_bytes
from activelearn.loop import retention
from activelearn.loop.retention import disk_usage
from activelearn.loop.run import run_cycle
from activelearn.project import Project

TARGET = 0.10  # store and scratch after the last round within 10% of after round 10
CHECK_AT = 10


class MemoryBackend:
    """An annotation tool in memory whose oracle labels every task before each pull
    (the true class); one project. Just what a cycle calls."""

    url = "memory://retention-bench"

    def __init__(self, truth: dict[str, int], classes: Sequence[str]) -> None:
        self.truth, self.classes = truth, list(classes)
        self.tasks_by_key: dict[str, int] = {}
        self.items: dict[int, str] = {}  # task id -> item id (labelling tasks)
        self.labelled_at: dict[int, int] = {}  # task id -> the pull that labelled it
        self.pulls = 0
        self.ids = itertools.count(1)
        self.projects, self.tasks, self.annotations = self, self, self
        self.integrations = self.annotators = self

    # projects
    def find(self, title: str) -> int | None:
        return 1

    def ensure(self, title: str, class_names: list[str], instructions: str = "") -> int:
        return 1

    def exists(self, project_id: int) -> bool:
        return True

    def check_classes(self, project_id: int, class_names: list[str]) -> None:
        pass

    def ensure_overlap(self, project_id: int, maximum: int) -> None:
        pass

    def set_model_version(self, project_id: int, version: str) -> None:
        pass

    # tasks
    def count(self, project_id: int) -> int:
        return len(self.tasks_by_key)

    def keys(self, project_id: int) -> dict[str, int]:
        return dict(self.tasks_by_key)

    def item_ids(self, project_id: int) -> dict[str, int]:
        return {item: task for task, item in self.items.items()}

    def push(self, project_id: int, tasks: Sequence[TaskSpec], chunk: int = 1000,
             existing: dict[str, int] | None = None) -> dict[str, int]:
        for spec in tasks:
            if spec.key not in self.tasks_by_key:
                task = next(self.ids)
                self.tasks_by_key[spec.key] = task
                self.items[task] = spec.item_id
        return {spec.key: self.tasks_by_key[spec.key] for spec in tasks}

    def set_overlap(self, task_ids: Sequence[int], overlap: int, reopen: bool = False) -> None:
        pass

    def overlap(self, task_id: int) -> int:
        return 1

    # annotations: the oracle labels what is unlabelled, then the pull sees it
    def pull(self, project_id: int, class_names: list[str], since: str = "") -> PullResult:
        self.pulls += 1
        for task in self.items:
            self.labelled_at.setdefault(task, self.pulls)
        after = int(since or 0)
        result = PullResult(cursor=str(self.pulls))
        for task, item in self.items.items():
            if self.labelled_at[task] <= after:
                continue
            label = self.truth[item]
            result.seen[task] = item
            result.open_tasks[task] = False
            result.annotations.append(PulledAnnotation(
                task, item, task, label, self.classes[label], "oracle@example.com", 5.0,
                f"2026-01-01T00:00:{self.labelled_at[task] % 60:02d}Z"))
        result.tasks_seen = len(result.seen)
        return result


class BenchProject(Project):
    """The project with the in-memory backend instead of Label Studio."""

    def __init__(self, cfg, backend: MemoryBackend) -> None:
        super().__init__(cfg)
        self.memory = backend

    @property
    def backend(self):  # type: ignore[override]
        return self.memory


def project_file(folder: Path, args: argparse.Namespace, store: str) -> Path:
    raw = {
        "project": {"name": "retention", "work_dir": str(folder / "work"), "seed": 0},
        "data": {"source": "fashion-mnist", "root": str(folder / "data"),
                 "limit": args.limit, "test_limit": 200},
        "classes": list(FASHION_MNIST_CLASSES),
        "model": {"name": "small_cnn"},
        "training": {"epochs": 1, "min_steps": 20, "batch_size": 32, "threads": 1},
        "loop": {"initial": 2 * args.batch, "batch": args.batch, "budget": 1_000_000,
                 "min_new_labels": args.batch, "min_queued": 1},
        "label_studio": {"holdout": args.batch},
        "quality": {"review_per_round": 0},
        "jobs": {"redis_url": args.redis, "artifacts": store, "shard_size": 1000,
                 "keep_models": 3, "wait_for_worker": 120},
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def counting_passes(totals: dict[str, int]) -> None:
    """Count what each cycle's retention pass removes (apply_retention, wrapped in this
    process only): the store's size without retention is its size plus that."""
    real = retention.apply_retention

    def counted(*args, **kwargs):
        swept = real(*args, **kwargs)
        totals["artifacts"] += swept.removed
        totals["bytes"] += swept.freed
        return swept

    retention.apply_retention = counted


def measure(project: Project, scratch: Path) -> dict:
    usage = disk_usage(project)
    return {"store": usage["total"], "artifacts": usage["artifacts"], "kinds": usage["bytes"],
            "scratch": folder_bytes(scratch / "fetched"), "scratch_all": folder_bytes(scratch),
            "fetched": usage["fetched"]}


def listing(project: Project) -> list[tuple[str, int, float]]:
    """(name, bytes, seconds after the newest round's start marker) of the store."""
    listed = project.artifacts.list()
    with project.store() as store:
        last = store.rounds.last()
    marker = retention.marker_name(f"{project.cfg.project.name}-r{last['round']}")
    start = next(a.modified for a in listed if a.name == marker)
    return [(a.name, a.size, (a.modified or 0) - (start or 0)) for a in listed]


def show(label: str, m: dict) -> None:
    kinds = ", ".join(f"{k} {v / 1e3:.1f} kB" for k, v in m["kinds"].items())
    print(f"{label}: store {m['store'] / 1e3:.1f} kB in {m['artifacts']} artifacts ({kinds}); "
          f"worker scratch/fetched {m['scratch'] / 1e3:.1f} kB (whole scratch "
          f"{m['scratch_all'] / 1e3:.1f} kB); controller WORK_DIR/fetched "
          f"{m['fetched'] / 1e3:.1f} kB", flush=True)


def show_removed(totals: dict[str, int], m: dict) -> None:
    without = (m["store"] + totals["bytes"]) / 1e3
    print(f"  removed by retention so far: {totals['artifacts']} artifacts, "
          f"{totals['bytes'] / 1e3:.1f} kB (without it the store would hold {without:.1f} "
          "kB)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--list", action="store_true",
                        help="print the store's artifacts after the last round")
    args = parser.parse_args()
    print("command: .venv/bin/python benchmarks/retention.py "
          + " ".join(sys.argv[1:]), flush=True)
    Redis.from_url(args.redis).flushdb()
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
        folder = Path(tmp)
        with moto_server(folder / "moto.log") as endpoint:
            use_s3(endpoint)
            path = project_file(folder, args, f"s3://{BUCKET}/retention")
            cfg = load_config(path)
            pool = load_source(cfg.data, cfg.classes)
            truth = dict(zip(pool.item_ids, pool.labels.tolist()))
            backend = MemoryBackend(truth, cfg.classes)
            home = folder / "worker"
            with workers(1, 1, path, folder / "logs", args.redis,
                         ("--artifacts", f"s3://{BUCKET}/retention"), homes=[home]):
                scratch = home / "scratch"
                seen: dict = {}
                totals = dict.fromkeys(("artifacts", "bytes"), 0)
                counting_passes(totals)
                start = time.perf_counter()
                for round_ in range(args.rounds + 1):  # round 0: holdout, initial batch
                    project = BenchProject(cfg, backend)
                    lines: list[str] = []
                    run_cycle(project, lines.append, progress=False)
                    if not any(f"round {round_} done" in line for line in lines):
                        raise SystemExit(f"round {round_} did not finish:\n"
                                         + "\n".join(lines))
                    if round_ in (CHECK_AT, args.rounds):
                        seen[round_] = measure(project, scratch)
                        show(f"after round {round_} "
                             f"({time.perf_counter() - start:.0f} s)", seen[round_])
                        show_removed(totals, seen[round_])
                seen["listing"] = listing(project)
    if args.list:
        print("the store after the last round (seconds after the newest round's marker):")
        for name, size, after in seen["listing"]:
            print(f"  {name} {size} B {after:+.1f} s")
    if CHECK_AT not in seen or args.rounds <= CHECK_AT:
        return 0
    first, last = seen[CHECK_AT], seen[args.rounds]
    ok = True
    for what in ("store", "scratch"):
        ratio = last[what] / max(1, first[what])
        good = abs(ratio - 1) <= TARGET
        ok &= good
        print(f"{what}: {last[what] / 1e3:.1f} kB after round {args.rounds} vs "
              f"{first[what] / 1e3:.1f} kB after round {CHECK_AT}: x{ratio:.3f} "
              f"({'within' if good else 'NOT within'} {TARGET:.0%})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
