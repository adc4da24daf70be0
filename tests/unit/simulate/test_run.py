"""`activelearn simulate` end to end on a small real Fashion-MNIST subset, and its errors;
strategy auto on a tiny synthetic pool, and the embeddings typiclust reads in scratch and
head mode."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main
from activelearn.config import config_from_dict
from activelearn.learn.embedding import with_features
from activelearn.learn.fit import build, input_spec, normalizer
from activelearn.learn.inference import Predictor
from activelearn.simulate.run import score_for, simulate
from activelearn.state import Store
from activelearn.strategies import get_strategy
from support.pools import tiny_pool


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], catch_exceptions=False)


@pytest.mark.slow
def test_simulate_writes_curves_and_summary(project_file, tmp_path):
    out = tmp_path / "out"
    res = run("simulate", "--config", project_file(), "--strategy", "margin",
              "--strategy", "coreset", "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "rounds.csv").open()))
    assert {r["strategy"] for r in rows} == {"random", "margin", "coreset"}
    for strategy in ("random", "margin", "coreset"):
        labels = [int(r["labels"]) for r in rows if r["strategy"] == strategy]
        assert labels == [40, 80, 120]
    records = json.loads((out / "rounds.json").read_text())
    assert [(r["strategy"], r["round"]) for r in records] == \
        [(r["strategy"], int(r["round"])) for r in rows]
    for row, record in zip(rows, records):
        assert 0.3 < float(row["accuracy"]) <= 1.0  # chance is 0.1
        assert float(row["accuracy"]) == pytest.approx(record["accuracy"])
        assert int(row["epochs"]) >= 3  # training.epochs, raised to reach min_steps
    # the same seed's first round trains on the same random initial labels, whatever the
    # strategy: every strategy starts from the same model
    first = {r["strategy"]: r["accuracy"] for r in rows if r["round"] == "0"}
    assert len(set(first.values())) == 1, first
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "efficiency" in res.output and "margin" in res.output
    # provenance of every query batch is in the run's state
    store = Store(out / "runs" / "margin-seed0" / "state.sqlite")
    batches = store.batches.all()
    assert [b["kind"] for b in batches] == ["initial", "query", "query"]
    assert batches[1]["model_version"] == "t-margin-s0-r0"
    items = store.batches.items(batches[1]["batch_id"])
    assert len(items) == 40 and items[0][1] >= items[-1][1]  # best first
    assert len(store.labels.current()) == 120


def test_unknown_strategy_lists_available(project_file):
    res = run("simulate", "--config", project_file(), "--strategy", "magrin")
    assert res.exit_code == 2
    assert "unknown strategy 'magrin'" in res.output and "margin" in res.output


def test_config_error_is_one_line_with_exit_2(project_file):
    path = project_file(training={"lr": "fast"})
    res = run("simulate", "--config", path)
    assert res.exit_code == 2
    assert res.output.strip() == f'error: {path}: training.lr: expected a number, got "fast"'


def test_missing_dataset_is_a_clear_error(project_file, tmp_path):
    path = project_file(data={"source": "cifar10", "root": str(tmp_path / "none")},
                        classes=[f"c{i}" for i in range(10)])
    res = run("simulate", "--config", path)
    assert res.exit_code == 1
    assert "CIFAR-10 not found" in res.output and "download" in res.output
    assert "Traceback" not in res.output


def test_corrupt_images_are_skipped_not_fatal(project_file, tmp_path):
    root = tmp_path / "images"
    for cls, shade in (("dark", 30), ("light", 220)):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            Image.new("L", (16, 16), color=shade + i).save(root / cls / f"{i}.png")
    (root / "dark" / "broken.png").write_bytes(b"not a png at all")
    (root / "light" / "empty.png").write_bytes(b"")
    path = project_file(
        data={"source": "imagefolder", "root": str(root), "image_size": [16, 16],
              "channels": 1, "limit": None, "test_limit": None},
        classes=["dark", "light"], loop={"initial": 10, "batch": 10, "budget": 20},
        training={"min_steps": 10, "epochs": 1}, splits={"test_fraction": 0.3})
    res = CliRunner().invoke(main, ["simulate", "--config", str(path), "--strategy", "entropy",
                                    "--no-progress", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "skipped 2 unusable images" in res.output


def tiny_auto_config(tmp_path, **model):
    return config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work"), "seed": 3},
        "data": {"source": "fashion-mnist"}, "classes": ["dark", "light"],
        "model": {"name": "small_cnn", **model},
        "training": {"epochs": 1, "min_steps": 5, "batch_size": 16, "threads": 1,
                     "device": "cpu"},
        "strategy": {"name": "auto", "auto_switch_at": 20},
        "loop": {"initial": 10, "batch": 10, "budget": 30}}, "t.yaml")


def test_auto_picks_with_typiclust_below_switch_at_and_margin_from_it(tmp_path):
    lines: list[str] = []
    records = simulate(tiny_auto_config(tmp_path), tiny_pool(), ["auto"], [0],
                       tmp_path / "out", lines.append, progress=False)
    # 10 labels (below 20): typiclust; 20 (at the switch): margin; 30: the budget
    assert [(r["strategy"], r["labels"], r["picked_by"]) for r in records] == \
        [("auto", 10, "typiclust"), ("auto", 20, "margin"), ("auto", 30, "")]
    assert "auto (typiclust)" in lines[0] and "auto (margin)" in lines[1]
    with Store.open(tmp_path / "out" / "runs" / "auto-seed0" / "state.sqlite") as store:
        batches = store.batches.all()
    assert [(b["kind"], b["strategy"]) for b in batches] == \
        [("initial", "random"), ("query", "typiclust"), ("query", "margin")]
    saved = list(csv.DictReader((tmp_path / "out" / "rounds.csv").open()))
    assert [r["picked_by"] for r in saved] == ["typiclust", "margin", ""]


def test_typiclust_reads_the_penultimate_embeddings_from_scratch(tmp_path):
    """scratch: the embeddings typiclust clusters are the model's penultimate layer."""
    cfg, pool = tiny_auto_config(tmp_path), tiny_pool()
    net = build(cfg.model, input_spec(pool.images, 2)).eval()
    norm = normalizer(cfg.model, pool.images)
    candidates = np.arange(5, 25)
    inp = score_for(get_strategy("typiclust"), Predictor(net, norm, torch.device("cpu")),
                    pool, candidates, np.arange(5), 0, False)
    with torch.no_grad():
        penultimate = net.features(norm(pool.images[5:25], torch.device("cpu")))
    assert inp.embeddings is not None and inp.embeddings.shape == (20, net.embedding_dim)
    np.testing.assert_allclose(inp.embeddings, penultimate.numpy(), rtol=1e-4, atol=1e-4)
    assert len(get_strategy("typiclust").select(inp, 4, 0).positions) == 4


def test_typiclust_reads_the_backbones_embeddings_in_head_mode(tmp_path):
    """head: the pool's items are the backbone's embeddings (standardised per dimension,
    as the head sees them), and typiclust clusters exactly those."""
    weights = tmp_path / "backbone.pt"
    weights.touch()  # build() in head mode makes only the head; the file is not read
    cfg = tiny_auto_config(tmp_path, train="head", weights=str(weights))
    rng = np.random.default_rng(1)
    features = torch.from_numpy(rng.normal(size=(100, 16)).astype(np.float16))
    pool = with_features(tiny_pool(), features)  # as simulate does in head mode
    net = build(cfg.model, input_spec(pool.images, 2)).eval()
    norm = normalizer(cfg.model, pool.images)
    candidates = np.arange(10, 40)
    inp = score_for(get_strategy("typiclust"), Predictor(net, norm, torch.device("cpu")),
                    pool, candidates, np.arange(10), 0, False)
    standardised = norm(features[10:40], torch.device("cpu")).numpy()
    assert inp.embeddings is not None
    np.testing.assert_allclose(inp.embeddings, standardised, rtol=1e-5, atol=1e-5)
    assert len(get_strategy("typiclust").select(inp, 5, 0).positions) == 5
