"""A worker's decoded cache end to end: an `activelearn worker --artifacts s3://...`
process scores a pool whose images are on moto's S3 server and keeps what it decoded;
it scores the next round with the images gone from the bucket (a decode would give
blank images) and decodes nothing: hits only, the same scores. `status --queues` shows
the worker's counts from Redis. (A new process reading what another wrote:
tests/unit/data/test_decoded.py.)"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.sources import open_pool
from activelearn.jobs.executor import InlineExecutor, RQExecutor
from activelearn.jobs.kinds.select import score_and_select
from activelearn.jobs.kinds.train import train
from activelearn.kinds import Split
from activelearn.project import Project
from support.jobs import Workers, controller_step

CLASSES = ["dark", "light"]
PER_CLASS = 12


def project(folder: Path, bucket: str, redis_url: str) -> Path:
    raw = {"project": {"name": "dc", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "imagefolder", "root": f"s3://{bucket}/images/", "channels": 1},
           "classes": CLASSES,
           "model": {"name": "small_cnn", "input_size": [28, 28]},
           "training": {"epochs": 1, "min_steps": 10, "batch_size": 8, "threads": 1},
           "strategy": {"name": "margin"},
           "jobs": {"redis_url": redis_url, "artifacts": f"s3://{bucket}/artifacts",
                    "shard_size": 1000, "heartbeat": 1, "wait_for_worker": 60}}
    folder.mkdir(parents=True)
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def put_images(bucket) -> list[str]:
    keys = []
    for k, name in enumerate(CLASSES):
        for i in range(PER_CLASS):
            pixels = np.full((8, 8), 30 + 150 * k + 3 * i, np.uint8)
            pixels[i % 8, :] = 255 - pixels[0, 0]  # each image its own
            out = io.BytesIO()
            Image.fromarray(pixels, mode="L").save(out, format="PNG")
            keys.append(f"images/{name}/{i}.png")
            bucket.put(keys[-1], out.getvalue())
    return keys


def decoded_line(path: Path, worker: str, expect: str) -> str:
    """The worker's decoded-cache line of `status --queues`, once it says `expect` (the
    worker writes its counts after the job, a moment after the controller saw it end)."""
    deadline = time.monotonic() + 20
    while True:
        result = CliRunner().invoke(main, ["status", "--queues", "--config", str(path)])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(f"worker {worker}:"))
        if expect in lines[at + 1] or time.monotonic() > deadline:
            return lines[at + 1]
        time.sleep(0.2)


def counts(line: str) -> tuple[int, int, str]:
    """hits, misses and "SIZE of LIMIT" of a decoded cache's status line."""
    found = re.fullmatch(r"  decoded cache: ([\d,]+) hits, ([\d,]+) misses, (.* of .*)", line)
    assert found, line
    return int(found[1].replace(",", "")), int(found[2].replace(",", "")), found[3]


@pytest.mark.slow
def test_round_two_on_a_remote_worker_decodes_nothing(s3_bucket, redis_url, tmp_path):
    keys = put_images(s3_bucket)
    path = project(tmp_path / "controller", s3_bucket.name, redis_url)
    cfg = load_config(path)
    with Project(cfg).store() as store:
        pool = open_pool(cfg, store)  # catalogued: the files' sha256 in the state
        store.items.add((item, i, None, Split.TRAIN.value)
                        for i, item in enumerate(pool.item_ids))
        labeled = np.array([0, 1, 2, PER_CLASS, PER_CLASS + 1, PER_CLASS + 2])
        store.labels.set(((pool.item_ids[i], int(pool.labels[i])) for i in labeled), "t", 0)
    controller_step(train, InlineExecutor(), cfg, 1, "dc-r1", progress=False)
    candidates = np.setdiff1d(np.arange(len(pool)), labeled)
    store_url = f"s3://{s3_bucket.name}/artifacts"
    workers, name = Workers(path), f"dc-{time.monotonic_ns()}"
    try:
        workers.start(None, name, 1, "cpu", "--artifacts", store_url, "--scratch",
                      str(tmp_path / "scratch"), "--cache-dir", str(tmp_path / "decoded"),
                      "--cache-size", "50MB")
        one = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "dc-r1",
                              candidates, labeled, len(candidates), seed=0, progress=False)
        line = decoded_line(path, name, f"{len(candidates)} misses")
        # each candidate decoded once, then read from the cache (the predictor's first
        # batch is read twice)
        hits, misses, size = counts(line)
        assert (misses, size) == (len(candidates), "15 kB of 50 MB"), line
        for key in keys:  # round 2 cannot decode: its images are all in the cache
            s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=key)
        # round 2: a batch of 4 left the candidates (new shards, scored again)
        rest = np.setdiff1d(candidates, one["positions"][:4])
        two = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "dc-r1",
                              rest, labeled, len(rest), seed=0, progress=False)
        line = decoded_line(path, name, f"{hits + len(rest):,} hits")
        assert counts(line)[:2] == (hits + len(rest), misses), line  # nothing decoded
    finally:
        workers.stop()
    # the same model on the same pixels: the items left rank and score as in round 1
    assert two["positions"] == one["positions"][4:]
    assert two["scores"] == pytest.approx(one["scores"][4:], abs=1e-6)


@pytest.mark.parametrize("size", ["2 parsecs", "-1GB", "lots"])
def test_a_bad_cache_size_is_one_line_and_exit_2(size, tmp_path):
    result = CliRunner().invoke(main, ["worker", "--cache-size", size, "--scratch",
                                       str(tmp_path / "scratch")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: --cache-size {size!r}: not a size; write it as 2GB, 500MB or 0 (no cache)"]
    assert not (tmp_path / "scratch").exists()  # nothing started
