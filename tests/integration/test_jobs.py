"""Jobs inline and on RQ: a real Redis (a server of the test session's own) and real worker
processes started by the tests (`activelearn worker`), stopped by pid at the end."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config, with_overrides
from activelearn.jobs.executor import InlineExecutor, JobError, RQExecutor
from activelearn.jobs.kinds.cache import build_cache
from activelearn.jobs.kinds.oof import out_of_fold
from activelearn.jobs.kinds.select import score_and_select
from activelearn.jobs.kinds.train import train
from activelearn.jobs.payloads import base_payload
from activelearn.project import Project
from activelearn.state import Store
from support.jobs import Workers, controller_step, finished_jobs, trained


@pytest.fixture
def rq_project(project_file, redis_url, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", redis_url)
    return project_file(jobs={"shard_size": 100, "heartbeat": 1, "wait_for_worker": 60})


@pytest.fixture
def workers(rq_project) -> Iterator[Workers]:
    started = Workers(rq_project)
    yield started
    started.stop()


def test_sharded_scoring_on_two_workers_covers_every_item_once(rq_project, workers):
    cfg, pool = trained(rq_project)
    workers.start()
    workers.start()
    candidates = np.arange(40, len(pool))
    labeled = np.arange(40)
    rq = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "t-r1", candidates,
                         labeled, 30, seed=7, progress=False)
    shards = sorted((cfg.work_dir / "scores" / "t-r1").glob("shard-*.npz"),
                    key=lambda s: int(s.stem.split("-")[-1]))  # by start position
    # cut where the pool positions cross a multiple of the shard size: the same part of
    # the pool every round, scored by the worker that owns it (jobs/affinity.py)
    cuts = [0, 60, *range(160, len(candidates), 100), len(candidates)]
    assert len(shards) == len(cuts) - 1
    jobs = finished_jobs(cfg)
    ranges = sorted((j.args[1]["start"], j.args[1]["stop"]) for j in jobs)
    assert ranges == list(zip(cuts, cuts[1:]))
    assert all(j.timeout == cfg.jobs.score_timeout for j in jobs)
    names = sorted(f"test-{k}-{os.getpid()}" for k in (0, 1))
    assert {j.args[1]["affinity"] for j in jobs} == set(range(len(cuts) - 1))
    assert all(j.worker_name == names[j.args[1]["affinity"] % 2] for j in jobs)
    # the batch is the 30 candidates with the largest margin score over the merged shards
    probs = np.concatenate([np.load(s)["probs"] for s in shards])
    assert probs.shape == (len(candidates), 10)
    top_two = np.sort(probs, axis=1)[:, -2:]
    margin = 1.0 - (top_two[:, 1] - top_two[:, 0])
    best = np.argsort(-margin, kind="stable")[:30]
    assert rq["positions"] == candidates[best].tolist()
    assert rq["scores"] == pytest.approx(margin[best].tolist(), abs=1e-6)
    # the same round inline: scores are recomputed (new files) and select the same batch
    for shard in shards:
        shard.unlink()
    inline = controller_step(score_and_select, InlineExecutor(), cfg, "t-r1", candidates,
                             labeled, 30, seed=7, progress=False)
    assert inline == rq


def test_a_train_job_past_its_timeout_fails_with_one_line_then_a_rerun_trains(
        project_file, redis_url, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", redis_url)
    slow = project_file(training={"min_steps": 20000},
                        jobs={"train_timeout": 1, "heartbeat": 1, "wait_for_worker": 60})
    cfg, _ = trained(slow, version=None)
    started = Workers(slow)
    try:
        started.start()
        with pytest.raises(JobError, match=r"\(train t-r1\) failed on worker test-0-.*"
                                           r"JobTimeoutException"):
            controller_step(train, RQExecutor(cfg.jobs), cfg, 1, "t-r1", progress=False)
        quick = project_file(jobs={"train_timeout": 600, "heartbeat": 1})
        cfg = load_config(quick)
        result = controller_step(train, RQExecutor(cfg.jobs), cfg, 1, "t-r1", progress=False)
        assert result["version"] == "t-r1" and result["labels"] == 40
    finally:
        started.stop()


def test_a_train_worker_killed_mid_job_fails_the_round_then_another_trains(rq_project,
                                                                          workers):
    cfg, _ = trained(rq_project, version=None)
    doomed = workers.start(failpoint="job:train")
    result: dict = {}

    def run() -> None:
        try:
            controller_step(train, RQExecutor(cfg.jobs), cfg, 1, "t-r1", progress=False)
        except JobError as exc:
            result["error"] = str(exc)

    controller = threading.Thread(target=run)
    controller.start()
    assert doomed.wait(timeout=60) == -signal.SIGKILL  # it took the job and died
    controller.join(timeout=120)
    assert not controller.is_alive()
    assert "(train t-r1) failed" in result["error"] and "abandoned" in result["error"].lower()
    workers.start()
    assert controller_step(train, RQExecutor(cfg.jobs), cfg, 1, "t-r1",
                           progress=False)["labels"] == 40


def test_a_worker_killed_during_a_score_job_is_retried_by_another(rq_project, workers):
    cfg, pool = trained(rq_project)
    doomed = workers.start(failpoint="job:score")
    candidates = np.arange(40, 240)
    result: dict = {}

    def run() -> None:
        result["out"] = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "t-r1",
                                        candidates, np.arange(40), 10, seed=1, progress=False)

    controller = threading.Thread(target=run)
    controller.start()
    assert doomed.wait(timeout=60) == -signal.SIGKILL  # it took a shard and died holding it
    workers.start()
    controller.join(timeout=120)
    assert not controller.is_alive() and len(result["out"]["positions"]) == 10
    shards = sorted((cfg.work_dir / "scores" / "t-r1").glob("shard-*.npz"))
    assert sum(np.load(s)["probs"].shape[0] for s in shards) == len(candidates)


def test_no_worker_fails_with_one_line_then_the_rerun_completes(rq_project, workers):
    cfg, pool = trained(rq_project)
    import dataclasses

    impatient = dataclasses.replace(cfg.jobs, wait_for_worker=2)
    with pytest.raises(JobError, match=r"no worker took job \S+ \(score t-r1 items 0-60\) "
                                       r"from queue activelearn-gpu in 2 s; start one"):
        controller_step(score_and_select, RQExecutor(impatient), cfg, "t-r1",
                        np.arange(40, 140), np.arange(40), 5, seed=1, progress=False)
    workers.start()
    out = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "t-r1",
                          np.arange(40, 140), np.arange(40), 5, seed=1, progress=False)
    assert len(out["positions"]) == 5


def test_a_failing_job_is_reported_with_its_id(rq_project, workers):
    cfg, _ = trained(rq_project)
    workers.start()
    import dataclasses

    executor = RQExecutor(dataclasses.replace(cfg.jobs, retries=0))
    payload = {**base_payload(Project(cfg)), "version": "t-r1", "seed": 0, "embeddings": False,
               "mc_passes": 0, "positions": "missing.npy", "start": 0,
               "stop": 10, "out": "out.npz"}
    with pytest.raises(JobError) as err:
        executor.run("score", [payload])
    assert str(err.value).startswith("job ")
    assert "(score t-r1 items 0-10) failed on worker test-0-" in str(err.value)
    assert "FileNotFoundError" in str(err.value) and "missing.npy" in str(err.value)
    result = CliRunner().invoke(main, ["status", "--config", str(rq_project), "--queues"])
    assert result.exit_code == 0, result.output
    assert "queue activelearn-gpu: 0 queued, 0 running, 1 failed" in result.output
    assert "FileNotFoundError" in result.output and "worker test-0-" in result.output


def test_out_of_fold_jobs_on_two_workers_predict_every_label_once_like_inline(rq_project,
                                                                            workers):
    """The label-error review's fold models, trained by workers as the cycle asks."""
    cfg, _ = trained(rq_project)
    for _ in range(2):
        workers.start(threads=cfg.training.threads)  # as inline: the same float sums
    names = controller_step(out_of_fold, RQExecutor(cfg.jobs), cfg, 1, "t-r1", 2,
                            progress=False)
    files = [cfg.work_dir / name for name in names]  # the default store: the work dir
    folds = [np.load(f) for f in files]
    predicted = [str(i) for fold in folds for i in fold["item_ids"]]
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        labels = store.labels.current()
    assert sorted(predicted) == sorted(labels)  # every labelled item once, by one fold
    assert all(fold["probs"].shape == (len(fold["item_ids"]), 10) for fold in folds)
    jobs = finished_jobs(cfg)
    assert sorted(j.args[1]["fold"] for j in jobs) == [0, 1]
    assert all(j.timeout == cfg.jobs.train_timeout for j in jobs)
    rq = {str(i): p for fold in folds for i, p in zip(fold["item_ids"], fold["probs"])}
    for f in files:
        f.unlink()
    inline = controller_step(out_of_fold, InlineExecutor(), cfg, 1, "t-r1", 2, progress=False)
    assert inline == names
    again = {str(i): p for f in files for i, p in zip(np.load(f)["item_ids"],
                                                      np.load(f)["probs"])}
    assert all(np.allclose(rq[i], again[i], atol=1e-5) for i in labels)


def test_unreachable_redis_is_one_line_exit_1(project_file, monkeypatch):
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("ACTIVELEARN_LS_URL", "http://127.0.0.1:9")
    path = project_file()
    result = CliRunner().invoke(main, ["cycle", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: Redis at redis://127.0.0.1:1/0 did not answer: ")
    assert len(result.output.strip().splitlines()) == 1
    with Store.open(load_config(path).work_dir / "state.sqlite") as store:
        assert store.rounds.all() == [] and store.items.count() == 0
        assert store.labels.current() == {}
    result = CliRunner().invoke(main, ["worker", "--config", str(path)])
    assert result.exit_code == 1 and "Redis at redis://127.0.0.1:1/0 did not answer" in \
        result.output


def test_worker_without_redis_url_is_a_config_error(project_file, monkeypatch):
    monkeypatch.delenv("ACTIVELEARN_REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["worker", "--config", str(project_file())])
    assert result.exit_code == 2 and "jobs.redis_url: not set" in result.output


def test_inline_and_rq_cycles_push_the_same_batch(project_file, redis_url, label_studio,
                                                  monkeypatch, tmp_path):
    """The whole round, through Label Studio, once inline and once on an RQ worker."""
    monkeypatch.setenv("ACTIVELEARN_LS_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    batches = {}
    for mode in ("inline", "rq"):
        path = project_file(
            project={"name": "t", "work_dir": str(tmp_path / mode), "seed": 0},
            loop={"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20},
            label_studio={"project_title": f"jobs-{mode}-{os.getpid()}", "holdout": 30},
            jobs={"redis_url": redis_url if mode == "rq" else "", "shard_size": 128,
                  "heartbeat": 1})
        started = Workers(path)
        if mode == "rq":
            # as many threads as the inline run (training.threads): floating-point sums,
            # and so the model, depend on how the work is split between threads
            started.start(threads=2)
        try:
            for _ in range(2):
                result = CliRunner().invoke(main, ["cycle", "--config", str(path),
                                                   "--no-progress"])
                assert result.exit_code == 0, result.output
                result = CliRunner().invoke(main, ["bot", "--config", str(path)])
                assert result.exit_code == 0, result.output
        finally:
            started.stop()
        with Store.open(tmp_path / mode / "state.sqlite") as store:
            (query,) = [b for b in store.batches.all() if b["kind"] == "query"]
            batches[mode] = store.batches.items(query["batch_id"])
    assert batches["rq"] == batches["inline"]
    assert len(batches["rq"]) == 40


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_worker_scores_like_the_cpu(rq_project, workers):
    cfg, pool = trained(rq_project)
    workers.start(device="cuda:0")
    candidates = np.arange(40, len(pool))
    folder = cfg.work_dir / "scores" / "t-r1"

    def probs(executor) -> np.ndarray:
        controller_step(score_and_select, executor, cfg, "t-r1", candidates, np.arange(40),
                        20, seed=3, progress=False)
        shards = sorted(folder.glob("shard-*.npz"), key=lambda p: int(p.stem.split("-")[-1]))
        out = np.concatenate([np.load(s)["probs"] for s in shards])
        for shard in shards:
            shard.unlink()
        return out

    gpu = probs(RQExecutor(cfg.jobs))
    cpu = probs(InlineExecutor())
    assert gpu.shape == (len(candidates), 10) and np.allclose(gpu, cpu, atol=1e-4)


def test_the_decoded_cache_is_built_by_two_workers_like_inline(project_file, redis_url,
                                                               monkeypatch, tmp_path):
    """data.cache: memmap on RQ: the controller catalogues, two workers decode shards of
    the files into the cache, the controller records them; the cache equals an inline
    build, and a broken file is recorded as unusable."""
    from PIL import Image

    from activelearn.data.imageset import as_tensor
    from activelearn.data.sources import open_pool

    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", redis_url)
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for i in range(50):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40 + i, 70, 3), dtype=np.uint8)).save(
            root / f"c{i % 2}" / f"{i:02d}.jpg")
    (root / "c0" / "late-broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(50))
    path = project_file(data={"source": "imagefolder", "root": str(root), "cache": "memmap",
                              "limit": None, "test_limit": None},
                        model={"name": "small_cnn", "input_size": [16, 16]},
                        classes=["c0", "c1"],
                        jobs={"shard_size": 20, "heartbeat": 1, "wait_for_worker": 60})
    cfg = load_config(path)
    started = Workers(path)
    try:
        started.start()
        started.start()
        with Store.open(cfg.work_dir / "state.sqlite") as store:
            pool = open_pool(cfg, store, build_cache=False)
            assert not pool.images.cached.any()
            project = Project(cfg)
            project.executor = RQExecutor(cfg.jobs)
            written = build_cache(project, store, progress=False)
            assert written == 50
            built = open_pool(cfg, store, refresh=False)
    finally:
        started.stop()
    assert built.images.cached.all() and len(built) == 50
    jobs = finished_jobs(cfg)
    assert sorted(len(j.args[1]["item_ids"]) for j in jobs) == [10, 20, 20]
    plain = with_overrides(cfg, "data", cache="none")  # decoded here, no cache involved
    with Store.open(tmp_path / "inline.sqlite") as store:
        inline = open_pool(plain, store)
    assert torch.equal(as_tensor(built.images), as_tensor(inline.images))
    assert [s.item_id for s in built.skipped] == ["c0/late-broken.jpg"]
