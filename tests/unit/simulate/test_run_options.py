"""`activelearn simulate`'s options for the measures users ask for: geometric label
schedules, targets (numbers and fractions of the full-data score, cached), per-round
worst-class recall, an imbalanced train split; on a tiny synthetic image folder."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.state import Store
from support.images import class_folders

CLASSES = ["dark", "mid", "light"]


@pytest.fixture
def folder_project(project_file, tmp_path):
    root = class_folders(tmp_path / "images", CLASSES)
    return project_file(
        data={"source": "imagefolder", "root": str(root), "image_size": [8, 8],
              "channels": 1, "limit": None, "test_limit": None},
        classes=CLASSES, loop={"initial": 10, "batch": 10, "budget": 40},
        training={"min_steps": 5, "epochs": 1, "threads": 1, "batch_size": 16},
        splits={"test_fraction": 0.25, "validation_fraction": 0.2})


def simulate(path, *args):
    return CliRunner().invoke(main, ["simulate", "--config", str(path), "--no-progress",
                                     *map(str, args)], catch_exceptions=False)


def test_schedule_targets_worst_recall_and_imbalance_in_one_run(folder_project, tmp_path):
    out = tmp_path / "o"
    res = simulate(folder_project, "--strategy", "entropy", "--seeds", 2, "--batch-growth", 2,
                   "--target-accuracy", 0.5, "--target-fraction", 0.9, "--imbalance", 4,
                   "--out", out)
    assert res.exit_code == 0, res.output
    assert "label schedule (loop.batch_growth 2): 10, 20, 40 (3 rounds)" in res.output
    assert "imbalance 4: train items per class dark 30, mid 15, light 8" in res.output
    assert "full-data accuracy" in res.output and "measured in" in res.output
    assert "labels to reach (mean ± std)" in res.output and "paired efficiency" in res.output
    assert "target test accuracy" in res.output and "0.9 × full-data accuracy" in res.output

    records = json.loads((out / "rounds.json").read_text())
    for run in {(r["strategy"], r["seed"]) for r in records}:
        assert [r["labels"] for r in records if (r["strategy"], r["seed"]) == run] == \
            [10, 20, 40]
    for r in records:
        # the lowest recall is at most accuracy, a support-weighted mean of recalls
        assert 0 <= r["worst_recall"] <= r["accuracy"] + 1e-9
        assert r["worst_class"] in CLASSES and r["val_macro_f1"] is not None
    saved = json.loads((out / "targets.json").read_text())
    assert [t["value"] for t in saved["targets"]][0] == 0.5 and len(saved["targets"]) == 2
    assert {"accuracy.png", "macro_f1.png", "worst_recall.png"} <= {
        p.name for p in out.iterdir()}

    # the imbalance thinned the train split only: the test split stays balanced
    with Store.open(out / "runs" / "entropy-seed0" / "state.sqlite") as store:
        splits = store.items.splits()
    by_split = Counter((split, item.split("/")[-2]) for item, split in splits.items())
    assert by_split[("test", "dark")] == by_split[("test", "light")] > 0
    assert (by_split[("train", "dark")], by_split[("train", "light")]) == (30, 8)

    # the same recipe and pool again: the full-data value comes from the cache
    again = simulate(folder_project, "--strategy", "entropy", "--budget", 10,
                     "--target-fraction", 0.9, "--imbalance", 4, "--out", tmp_path / "o2")
    assert again.exit_code == 0, again.output
    assert "full-data accuracy" in again.output and "(cached from " in again.output


def test_a_given_full_data_accuracy_is_used_without_training_it(folder_project, tmp_path):
    res = simulate(folder_project, "--no-baseline", "--strategy", "random", "--budget", 10,
                   "--target-fraction", 0.5, "--full-data-accuracy", 0.8,
                   "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "full-data accuracy 0.800 (given)" in res.output
    assert "target: test accuracy 0.400 (0.5 × full-data accuracy 0.800, given)" in res.output
    assert not (tmp_path / "work" / "full_data").exists()


@pytest.mark.parametrize("args, message", [
    (["--full-data-accuracy", "0.9"], "--full-data-accuracy is used only with --target-fraction"),
    (["--target-fraction", "0.9", "--full-data-accuracy", "0.9", "--target-metric",
      "macro_f1"], "--full-data-accuracy gives accuracy"),
    (["--batch-growth", "0.5"], "Invalid value for '--batch-growth'"),
    (["--imbalance", "0.5"], "Invalid value for '--imbalance'"),
    (["--target-accuracy", "0"], "Invalid value for '--target-accuracy'"),
    (["--target-metric", "recall"], "Invalid value for '--target-metric'"),
])
def test_bad_options_are_one_usage_error(folder_project, args, message):
    res = simulate(folder_project, *args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_a_batch_growth_out_of_range_in_the_project_file_is_a_config_error(project_file):
    path = project_file(loop={"initial": 40, "batch": 40, "budget": 120, "batch_growth": 200})
    res = simulate(path)
    assert res.exit_code == 2
    assert res.output.strip() == (f"error: {path}: loop.batch_growth: must be 1 to 100 (1 = "
                                  "fixed batches of loop.batch, 2 = double the labels each "
                                  "round), got 200.0")


def test_head_mode_thins_the_embedded_pool_and_measures_the_reference_on_embeddings(
        project_file, tmp_path):
    from support.weights import saved_cnn

    weights = tmp_path / "pretrained.pt"
    saved_cnn(weights)
    path = project_file(model={"name": "small_cnn", "weights": str(weights), "train": "head"},
                        loop={"initial": 20, "batch": 20, "budget": 40})
    res = simulate(path, "--no-baseline", "--strategy", "margin", "--imbalance", 5,
                   "--target-fraction", 0.8, "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    # the whole pool is embedded once (600 pool + 300 test items), then thinned
    assert "(900, 128) embeddings" in res.output
    counts = res.output.split("train items per class ")[1].split(" (")[0]
    numbers = [int(part.rsplit(" ", 1)[1]) for part in counts.split(", ")]
    assert numbers[0] == max(numbers) and numbers[-1] == round(numbers[0] / 5)
    assert "full-data accuracy" in res.output and f"on {sum(numbers)} labels" in res.output
