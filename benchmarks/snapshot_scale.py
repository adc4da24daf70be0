"""Incremental snapshots at scale (issue 28): a 200,000-row catalogue and 200,000 x 512
float16 embeddings published in shards (data/shards.py) to moto's S3, changed by 1%,
republished; and a worker's peak memory for a score job in head mode over that pool.

    .venv/bin/python benchmarks/snapshot_scale.py [--rows 200000] [--dim 512]
        [--change 0.01] [--rounds 30] [--keep]

1. publish: the catalogue (a real state: CatalogueTable rows, synthetic files) through
   payloads._catalogue's publish_catalogue, and the embeddings (a real EmbeddingCache,
   random float16 rows, tagged by the rows' sha256 as pool_keys tags them) through
   embedding.publish_features, as the controller does; both on s3://bench/snap on moto's
   server (started on a free loopback port, stopped at the end).
2. change 1% and republish, two ways, reported apart: appended (new files: new slots)
   and scattered (changed files spread over every shard: new sha256, new embeddings).
   Printed: bytes uploaded / bytes the new manifests reference. Target: <= 5%.
3. `--rounds` more scattered 1% changes of both tables: the mean and the largest share
   a round republishes (shards are rebased on the way, spread over the rounds).
4. the score job's worker side (jobs/kinds/score.py run) in a subprocess, as a worker
   on another machine runs it (its own scratch, the S3 store through
   ACTIVELEARN_WORKER_ARTIFACTS): it fetches the catalogue's and the embeddings' parts,
   builds the pool, gathers the embeddings and scores every unlabelled item with a head
   checkpoint published for it. Printed: its peak RSS (VmHWM of /proc/self/status at the
   end; ru_maxrss is not used: a child's starts from its parent's at fork), and that of
   a process that only imports torch and activelearn. Target: <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from jobs_rq import BUCKET, moto_server, use_s3  # benchmarks/ is on sys.path as a script

from activelearn.config import load_config
from activelearn.data.embeddings import EmbeddingCache
from activelearn.data.snapshot import publish_catalogue
from activelearn.jobs.inputs import ARTIFACTS_ENV, SCRATCH_ENV
from activelearn.jobs.kinds import score
from activelearn.jobs.payloads import CATALOGUE_KEY, FEATURES_KEY, base_payload
from activelearn.learn.checkpoints import checkpoint_name, save_checkpoint
from activelearn.learn.embedding import publish_features
from activelearn.learn.fit import InputSpec, build
from activelearn.learn.inference import Normalizer
from activelearn.project import Project
from activelearn.state import Store
from activelearn.state.catalogue import CatalogueRow

CLASSES = [f"class{i}" for i in range(10)]
STORE = f"s3://{BUCKET}/snap"
WORKER = """
import json, resource, sys
from activelearn.jobs.resident import WorkerCache
if sys.argv[1] != "-":
    from activelearn.jobs.kinds.score import run
    result = run(json.load(open(sys.argv[1])), lambda n: None, WorkerCache())
else:
    import torch, activelearn.jobs.kinds.score  # noqa: the floor: imports only
    result = {}
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({"result": result, "maxrss_kb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss, "vmhwm_kb": int(hwm[0])}))
"""


def row(i: int, root: Path, version: str = "v1") -> CatalogueRow:
    """A catalogued file (slot i); its sha256 follows its version."""
    label = i % len(CLASSES)
    item = f"{CLASSES[label]}/{i:07d}.jpg"
    sha = hashlib.sha256(f"{i}/{version}".encode()).hexdigest()
    return CatalogueRow(item, str(root / item), 150_000 + i % 997, version, label,
                        i % 50 == 0, 640, 480, "JPEG", "RGB", None, sha,
                        int.from_bytes(bytes.fromhex(sha[:16]), "big", signed=True), i, False)


def tag(r: CatalogueRow) -> int:
    return int(r.sha256[:15], 16) | (1 << 60)  # as embeddings.item_keys tags a file


class Tables:
    """The controller's side: a real state's catalogue and an embedding cache, published
    as patches on the last publication (state meta, as payloads and embed record it)."""

    def __init__(self, project: Project, store: Store, dim: int, seed: int = 0) -> None:
        self.project, self.store = project, store
        self.cache = EmbeddingCache(project.cfg.work_dir / "cache", "bench", dim)
        self.rng = np.random.default_rng(seed)
        self.rows: dict[int, CatalogueRow] = {}

    def write(self, rows: list[CatalogueRow]) -> None:
        """New or changed files: catalogued, and their embeddings computed."""
        self.store.catalogue.replace(f"imagefolder {self.project.cfg.data.root}", rows, [], [])
        for start in range(0, len(rows), 50_000):
            part = rows[start:start + 50_000]
            vectors = self.rng.standard_normal((len(part), self.cache.dim)).astype(np.float16)
            self.cache.write(np.array([r.slot for r in part]), vectors,
                             np.array([tag(r) for r in part]))
        self.rows.update((r.slot, r) for r in rows)

    def publish(self) -> dict[str, tuple[int, int, float]]:
        """Both tables republished: per table (bytes uploaded, bytes referenced, seconds)."""
        figures = {}
        started = time.perf_counter()
        made = publish_catalogue(self.project.artifacts, self.store.catalogue,
                                 self.store.meta.get(CATALOGUE_KEY))
        self.store.meta.set(CATALOGUE_KEY, made.name)
        figures["catalogue"] = (made.written, made.total, time.perf_counter() - started)
        started = time.perf_counter()
        slots = np.array(sorted(self.rows))
        made = publish_features(self.project.artifacts, self.cache, slots,
                                np.array([tag(self.rows[s]) for s in slots]),
                                self.store.meta.get(FEATURES_KEY))
        self.store.meta.set(FEATURES_KEY, made.name)
        figures["features"] = (made.written, made.total, time.perf_counter() - started)
        return figures


def show(what: str, figures: dict[str, tuple[int, int, float]]) -> float:
    """Print one publication's figures; returns the share of both tables uploaded."""
    written = sum(f[0] for f in figures.values())
    total = sum(f[1] for f in figures.values())
    parts = "; ".join(f"{k} {w / 1e6:.2f} of {t / 1e6:.1f} MB ({w / t:.2%}, {s:.1f} s)"
                      for k, (w, t, s) in figures.items())
    print(f"{what}: {parts}; both {written / total:.2%}", flush=True)
    return written / total


def write_project(folder: Path) -> Path:
    weights = folder / "pretrained.pt"
    torch.save({}, weights)  # head mode scores the published embeddings, never the backbone
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    raw = {"project": {"name": "snap", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "imagefolder", "root": str(folder / "photos")},
           "classes": CLASSES, "model": {"name": "small_cnn", "weights": str(weights),
                                         "train": "head"},
           "jobs": {"artifacts": STORE}}
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def worker_rss(folder: Path, payload: dict | None) -> dict:
    """Run the score job's worker side (or only the imports, payload None) in a fresh
    process as a worker elsewhere; its result and peak memory."""
    scratch = folder / f"worker-{time.monotonic_ns()}"
    scratch.mkdir()
    argument = "-"
    if payload is not None:
        argument = str(scratch / "payload.json")
        Path(argument).write_text(json.dumps(payload))
    env = dict(os.environ, **{SCRATCH_ENV: str(scratch), ARTIFACTS_ENV: STORE,
                              "OMP_NUM_THREADS": "2"})
    command = [sys.executable, "-c", WORKER, argument]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=scratch)
    if done.returncode != 0:
        raise RuntimeError(f"the worker failed: {done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["seconds"] = time.perf_counter() - started
    return figures


def score_payload(project: Project, store: Store, tables: Tables) -> dict:
    """A head checkpoint published as model version snap-r1, and the score payload of
    every unlabelled (non-test) pool position, as select.score_and_select builds it."""
    version, dim = "snap-r1", tables.cache.dim
    model = build(project.cfg.model, InputSpec(dim, 1, 1, len(CLASSES)))
    sample = torch.from_numpy(tables.cache.read(np.arange(0, len(tables.rows), 50)))
    norm = Normalizer.fit(sample)
    project.artifacts.publish(checkpoint_name(version), lambda tmp: save_checkpoint(
        tmp, model, norm, {"version": version, "mode": "head"}))
    base = {**base_payload(project, store), "version": version, "seed": 0,
            "embeddings": False, "mc_passes": 0}
    unlabelled = sum(1 for r in tables.rows.values() if not r.is_test)
    positions = np.arange(unlabelled)  # the pool lists its non-test items first
    (payload,) = score.shards(project, version, positions, len(positions), base)
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    folder = Path(tempfile.mkdtemp(prefix="snapshot-scale-"))
    with moto_server(folder / "moto.log") as endpoint:
        use_s3(endpoint)
        project = Project(load_config(write_project(folder)))
        with Store.open(project.cfg.work_dir / "state.sqlite") as store:
            run(project, store, folder, args)
    if not args.keep:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def run(project: Project, store: Store, folder: Path, args: argparse.Namespace) -> None:
    root, n = Path(project.cfg.data.root), args.rows
    changed = max(1, int(n * args.change))
    tables = Tables(project, store, args.dim)
    tables.write([row(i, root) for i in range(n)])
    show(f"publish {n:,} rows x {args.dim}", tables.publish())
    tables.write([row(i, root) for i in range(n, n + changed)])
    show(f"append {changed:,} rows ({args.change:.0%})", tables.publish())
    rng = np.random.default_rng(1)
    shares = []
    for step in range(1 + args.rounds):
        picked = rng.choice(n, changed, replace=False)
        tables.write([row(int(i), root, f"v{step + 2}") for i in picked])
        what = f"change {changed:,} scattered rows ({args.change:.0%})" if step == 0 \
            else f"  round {step}"
        shares.append(show(what, tables.publish()))
    if args.rounds:
        print(f"{args.rounds} more rounds of {args.change:.0%} scattered changes: mean "
              f"{np.mean(shares[1:]):.2%}, largest {max(shares[1:]):.2%} republished")
    floor = worker_rss(folder, None)
    print(f"a process importing torch and activelearn only: peak RSS (VmHWM) "
          f"{floor['vmhwm_kb'] / 1024:.0f} MB", flush=True)
    payload = score_payload(project, store, tables)
    figures = worker_rss(folder, payload)
    print(f"score job, head mode, {payload['stop']:,} of {len(tables.rows):,} items "
          f"x {args.dim} on a remote worker: peak RSS (VmHWM) "
          f"{figures['vmhwm_kb'] / 1024:.0f} MB, {figures['seconds']:.1f} s (fetching the "
          f"parts from S3 included); target <= 1.5 GB", flush=True)


if __name__ == "__main__":
    main()
