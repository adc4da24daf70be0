"""`activelearn simulate --class-seconds`: a simulated annotator whose seconds per label
depend on the class, the annotator-hours in the records and the summary, the observed
lead times, and strategy.cost_weighted learning from them; on a tiny image folder."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import StrategyConfig
from activelearn.simulate.cost import cost_lines, parse_cost_model
from activelearn.state import Store
from support.images import class_folders

CLASSES = ["dark", "mid", "light"]
SECONDS = {"dark": 12.0, "mid": 3.0, "light": 6.0}


@pytest.fixture
def folder_project(project_file, tmp_path):
    root = class_folders(tmp_path / "images", CLASSES)

    def write(**strategy):
        return project_file(
            data={"source": "imagefolder", "root": str(root), "image_size": [8, 8],
                  "channels": 1, "limit": None, "test_limit": None},
            classes=CLASSES, loop={"initial": 10, "batch": 10, "budget": 30},
            training={"min_steps": 5, "epochs": 1, "threads": 1, "batch_size": 16},
            strategy={"name": "entropy", **strategy},
            splits={"test_fraction": 0.25, "validation_fraction": 0.2})
    return write


def simulate(path, *args):
    return CliRunner().invoke(main, ["simulate", "--config", str(path), "--no-progress",
                                     *map(str, args)], catch_exceptions=False)


COST = ["--class-seconds", "dark=12", "--class-seconds", "1=3", "--seconds-default", 6]


def test_annotator_hours_are_the_labelled_classes_seconds(folder_project, tmp_path) -> None:
    out = tmp_path / "o"
    res = simulate(folder_project(cost_weighted=True), "--strategy", "entropy", *COST,
                   "--out", out)
    assert res.exit_code == 0, res.output
    assert "annotation cost: seconds per label by class: dark 12, mid 3, light 6" in res.output
    assert "strategy.cost_weighted: entropy ranks by score per expected second" in res.output
    assert "strategy.cost_weighted: random has no per-item score: unweighted" in res.output
    # the summary: labels per annotator-hour and accuracy at equal annotator-hours
    assert "labels/h" in res.output and "acc at" in res.output
    assert "interpolated at" in res.output

    records = json.loads((out / "rounds.json").read_text())
    for name in ("random", "entropy"):
        runs = [r for r in records if r["strategy"] == name]
        assert [r["labels"] for r in runs] == [10, 20, 30]
        assert all(r["cost_weighted"] is (name == "entropy") for r in runs)
        # without a spread, every label of a class takes exactly its class's seconds
        with Store.open(out / "runs" / f"{name}-seed0" / "state.sqlite") as store:
            labels = store.labels.current("train")
        spent = sum(SECONDS[item.split("/")[-2]] for item in labels)
        assert runs[-1]["annotator_seconds"] == pytest.approx(spent)
        assert runs[-1]["annotator_hours"] == pytest.approx(spent / 3600, abs=1e-4)
        seconds = [r["annotator_seconds"] for r in runs]
        assert seconds == sorted(seconds) and seconds[0] > 0
        with (out / "runs" / f"{name}-seed0" / "lead_times.csv").open() as f:
            observed = list(csv.DictReader(f))
        assert len(observed) == 30
        assert sum(float(row["seconds"]) for row in observed) == pytest.approx(spent)
        assert {row["round"] for row in observed} == {"0", "1", "2"}


def test_a_spread_draws_each_items_seconds_the_same_in_every_run(folder_project,
                                                                  tmp_path) -> None:
    path = folder_project()
    runs = []
    for k in range(2):
        out = tmp_path / f"o{k}"
        res = simulate(path, "--no-baseline", "--strategy", "random", "--budget", 10, *COST,
                       "--seconds-spread", 0.5, "--out", out)
        assert res.exit_code == 0, res.output
        assert "lognormal spread 0.5 (seed 0)" in res.output
        with (out / "runs" / "random-seed0" / "lead_times.csv").open() as f:
            runs.append({row["item_id"]: float(row["seconds"]) for row in csv.DictReader(f)})
    assert runs[0] == runs[1]
    # spread: the items of one class no longer all take the class's seconds
    assert len({round(s, 3) for s in runs[0].values()}) > 3


def test_cost_weighting_without_a_cost_model_ranks_plainly_and_says_so(folder_project,
                                                                       tmp_path) -> None:
    res = simulate(folder_project(cost_weighted=True), "--no-baseline", "--budget", 20,
                   "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "strategy.cost_weighted: no lead times (no annotation cost: no seconds per label " \
        "were given)" in res.output
    assert "annotator_hours" not in json.loads((tmp_path / "o" / "rounds.json").read_text())[0]


@pytest.mark.parametrize("args, message", [
    (["--class-seconds", "dusk=3", "--seconds-default", 5], "--class-seconds: no class 'dusk'"),
    (["--class-seconds", "dark=3"], "--class-seconds: no seconds for mid, light"),
    (["--class-seconds", "dark=0", "--seconds-default", 5], "seconds must be a number above 0"),
    (["--class-seconds", "dark", "--seconds-default", 5], "expected CLASS=SECONDS"),
    (["--seconds-spread", 0.3], "--seconds-spread: needs --class-seconds"),
])
def test_a_bad_cost_option_is_one_line_and_exit_2(folder_project, tmp_path, args,
                                                  message) -> None:
    res = simulate(folder_project(), *args, "--out", tmp_path / "o")
    assert res.exit_code == 2
    assert message in res.output and len(res.output.strip().splitlines()) == 1


def test_cost_lines_say_auto_is_weighted_in_its_scoring_rounds_only() -> None:
    cost = parse_cost_model(["dark=12"], 3.0, 0.0, CLASSES, 0)
    lines = cost_lines(StrategyConfig(name="auto", cost_weighted=True),
                       ["random", "auto", "entropy"], cost, CLASSES)
    assert "strategy.cost_weighted: auto (its margin rounds), entropy rank by score per " \
           "expected second" in lines[1]
    assert lines[2].startswith("strategy.cost_weighted: random has no per-item score")
    off = StrategyConfig(name="auto", auto_late="coreset", cost_weighted=True)
    assert "auto has no per-item score" in cost_lines(off, ["auto"], cost, CLASSES)[1]
