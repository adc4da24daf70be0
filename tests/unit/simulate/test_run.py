"""`activelearn simulate` end to end on a small real Fashion-MNIST subset, and its errors."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main


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
    from activelearn.state import Store

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
