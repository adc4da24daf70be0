"""Head mode on a pretrained backbone: the pool is embedded once, rounds train and score
on the cached embeddings without running the backbone again, the cache is reused by the
next run and extended (only) for new or changed files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.sources import open_pool
from activelearn.learn.embedding import Embedder, pool_features, pool_keys, project_embedder
from activelearn.state import Store
from support.jobs import Workers
from support.weights import saved_cnn

pytestmark = pytest.mark.usefixtures("counted")


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """How many items each run of the backbone embedded (one entry per run)."""
    runs: list[int] = []
    original = Embedder.embed_missing

    def embed_missing(self, images, rows, tags, *args, **kwargs):
        done = original(self, images, rows, tags, *args, **kwargs)
        if done:
            runs.append(done)
        return done

    monkeypatch.setattr(Embedder, "embed_missing", embed_missing)
    return runs


def head_project(project_file, tmp_path: Path, **sections) -> Path:
    weights = tmp_path / "pretrained.pt"
    saved_cnn(weights)
    return project_file(model={"name": "small_cnn", "weights": str(weights), "train": "head"},
                        **sections)


def test_head_rounds_never_run_the_backbone_again(project_file, tmp_path, counted,
                                                  monkeypatch):
    config = head_project(project_file, tmp_path, loop={"initial": 40, "batch": 40,
                                                        "budget": 120})
    result = CliRunner().invoke(main, ["simulate", "--config", str(config), "--no-progress",
                                       "--out", str(tmp_path / "sim1")])
    assert result.exit_code == 0, result.output
    assert counted == [900]  # 600 pool + 300 test items, once, for 2 strategies x 3 rounds
    assert "head" in result.output and "(900, 128) embeddings" in result.output
    # the next run reads the cache; the backbone may not even be built into a predictor
    monkeypatch.setattr(Embedder, "predictor", lambda *a: pytest.fail("backbone ran"))
    result = CliRunner().invoke(main, ["simulate", "--config", str(config), "--no-progress",
                                       "--out", str(tmp_path / "sim2")])
    assert result.exit_code == 0, result.output
    assert counted == [900]
    ckpt = torch.load(tmp_path / "sim2" / "runs" / "margin-seed0" / "model.pt",
                      weights_only=True)
    assert ckpt["meta"]["mode"] == "head" and len(ckpt["meta"]["weights_sha256"]) == 16
    assert not any(w.ndim == 4 for w in ckpt["model"].values())  # a head: no convolution
    rounds = (tmp_path / "sim2" / "rounds.csv").read_text()
    assert "mode" in rounds.splitlines()[0] and ",head," in rounds


def test_kmeans_cold_start_picks_the_same_initial_batch_for_every_strategy(project_file,
                                                                          tmp_path):
    config = head_project(project_file, tmp_path,
                          loop={"initial": 30, "batch": 30, "budget": 60,
                                "initial_strategy": "kmeans"})
    out = tmp_path / "sim"
    result = CliRunner().invoke(main, ["simulate", "--config", str(config), "--no-progress",
                                       "--out", str(out), "--strategy", "margin",
                                       "--strategy", "coreset"])
    assert result.exit_code == 0, result.output
    initial = []
    for name in ("random", "margin", "coreset"):
        with Store.open(out / "runs" / f"{name}-seed0" / "state.sqlite") as store:
            first = store.batches.all()[0]
            assert first["kind"] == "initial" and first["strategy"] == "kmeans"
            initial.append(sorted(store.batches.items(first["batch_id"])))
    assert initial[0] == initial[1] == initial[2] and len(initial[0]) == 30


def png(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)).save(out, format="PNG")
    path.write_bytes(out.getvalue())


def test_the_cache_is_extended_for_new_and_changed_files_only(project_file, tmp_path,
                                                               counted):
    root = tmp_path / "photos"
    for i in range(12):
        png(root / ("a" if i % 2 else "b") / f"{i}.png", i)
    weights = tmp_path / "pretrained.pt"
    saved_cnn(weights)
    config = project_file(data={"source": "imagefolder", "root": str(root), "channels": 1},
                          classes=["a", "b"], model={"name": "small_cnn", "train": "head",
                                                     "weights": str(weights),
                                                     "input_size": [32, 32]})
    cfg = load_config(str(config))
    device = torch.device("cpu")
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        pool = open_pool(cfg, store)
        first = dict(zip(pool.item_ids, pool_features(cfg, pool, device)))
        assert counted == [12] and len(first) == 12
        assert next(iter(first.values())).shape == (128,)
        png(root / "a" / "new1.png", 100)
        png(root / "b" / "new2.png", 101)
        png(root / "a" / "1.png", 102)  # changed content under the same name
        pool = open_pool(cfg, store)
        again = dict(zip(pool.item_ids, pool_features(cfg, pool, device)))
    assert counted == [12, 3] and len(again) == 14
    for item, vector in first.items():
        assert torch.equal(again[item], vector) == (item != "a/1.png"), item
    # the cache holds every item as it is now
    embedder = project_embedder(cfg, pool)
    assert len(embedder.cache.missing(*pool_keys(pool))) == 0


def test_inline_and_rq_head_cycles_embed_once_and_push_the_same_batch(
        project_file, redis_url, label_studio, monkeypatch, tmp_path, counted):
    """Two rounds in head mode with a typiclust cold start, through Label Studio: once
    inline, once with the embedding and training on two RQ workers (sharded embed jobs)."""
    monkeypatch.setenv("ACTIVELEARN_LS_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    weights = tmp_path / "pretrained.pt"
    saved_cnn(weights)
    batches, outputs = {}, {}
    for mode in ("inline", "rq"):
        path = project_file(
            project={"name": "t", "work_dir": str(tmp_path / mode), "seed": 0},
            model={"name": "small_cnn", "weights": str(weights), "train": "head"},
            loop={"initial": 40, "batch": 40, "budget": 400, "min_new_labels": 20,
                  "initial_strategy": "typiclust"},
            label_studio={"project_title": f"head-{mode}-{os.getpid()}", "holdout": 30},
            jobs={"redis_url": redis_url if mode == "rq" else "", "shard_size": 256,
                  "heartbeat": 1})
        started = Workers(path)
        if mode == "rq":
            started.start(threads=2)
            started.start(threads=2)
        outputs[mode] = ""
        try:
            for _ in range(2):
                result = CliRunner().invoke(main, ["cycle", "--config", str(path),
                                                   "--no-progress"])
                assert result.exit_code == 0, result.output
                outputs[mode] += result.output
                result = CliRunner().invoke(main, ["bot", "--config", str(path)])
                assert result.exit_code == 0, result.output
        finally:
            started.stop()
        with Store.open(tmp_path / mode / "state.sqlite") as store:
            kinds = {b["kind"]: b for b in store.batches.all()}
            assert kinds["initial"]["strategy"] == "typiclust"
            batches[mode] = [store.batches.items(kinds[k]["batch_id"])
                             for k in ("initial", "query")]
    assert batches["rq"] == batches["inline"] and len(batches["rq"][1]) == 40
    for out in outputs.values():
        assert out.count("embedded 900 items") == 1, out  # once, in the first cycle
        assert "small_cnn, head on weights" in out, out
    # in this process: the inline run's embed jobs (shards of 256); rq's ran on the workers
    assert counted == [256, 256, 256, 132]
