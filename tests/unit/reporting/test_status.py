"""`activelearn status` from a hand-made state (no servers): the quality work counts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.kinds import Split
from activelearn.quality.forecast import wilson_interval
from activelearn.state import Store
from support.report_data import build_state


def test_status_counts_reviews_and_relabel_requests(project_file):
    path = project_file()
    cfg = load_config(path)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(6)])
        store.labels.set([("img0", 1), ("img1", 2), ("img2", 3)], "label-studio", 1)
        # three items sent to review in round 1: two pushed, one still selected
        store.reviews.add_candidates(1, [("img0", 1, 4, 0.9, 0.95), ("img1", 2, 5, 0.8, 0.9),
                                        ("img2", 3, 6, 0.7, 0.85)])
        store.reviews.record_tasks(1, {"img0": 100, "img1": 101})
        store.relabels.add(1, [("img3", 13, 2, 3), ("img4", 14, 2, 3)])
        store.relabels.mark_applied(1, ["img3"])
    result = CliRunner().invoke(main, ["status", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["review"] == {"tasks": 3, "selected": 1, "pushed": 2, "done": 0,
                                "changed": 0}
    assert status["relabel"] == {"requests": 2, "raised": 1}
    human = CliRunner().invoke(main, ["status", "--config", str(path)]).output
    assert "label-error review: 3 items sent (2 waiting, 0 answered, 0 labels changed)" in human
    assert "another annotation asked for 2 disputed items (1 raised in Label Studio)" in human


def test_status_of_a_project_without_state(project_file):
    result = CliRunner().invoke(main, ["status", "--config", str(project_file()), "--json"])
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert status["round"] is None and status["review"] is None and status["labels"] == {
        "train": 0, "holdout": 0}
    assert not (load_config(project_file()).work_dir / "state.sqlite").exists()


def test_status_shows_the_holdout_interval_the_forecast_and_the_suggestion(project_file):
    path = project_file(loop={"stop_when": {"gain_per_1000": 0.5}})
    cfg = load_config(path)
    written = build_state(cfg.work_dir / "state.sqlite")  # holdout: 40, 80, 120 labels
    result = CliRunner().invoke(main, ["status", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    recorded = written[(2, "holdout")]
    correct = sum(recorded["confusion"][k][k] for k in range(len(recorded["confusion"])))
    low, high = wilson_interval(correct, 200)
    holdout = status["holdout"]
    assert (holdout["round"], holdout["accuracy"], holdout["items"]) == \
        (2, recorded["accuracy"], 200)  # the fields that were there before stay
    assert (holdout["correct"], holdout["ci_low"], holdout["ci_high"]) == (correct, low, high)
    forecast = status["forecast"]
    assert forecast["fitted"] and (forecast["rounds"], forecast["labels"]) == (3, 120)
    gain = forecast["gain_per_1000"]
    assert gain["low"] <= gain["estimate"] <= gain["high"]
    assert status["stopping"]["stop"] is True
    assert status["stopping"]["criterion"] == "loop.stop_when.gain_per_1000"
    human = CliRunner().invoke(main, ["status", "--config", str(path)]).output.splitlines()
    at = human.index(f"holdout accuracy {recorded['accuracy']:.4f} (95% CI {low:.4f}-"
                     f"{high:.4f}), macro-F1 {recorded['macro_f1']:.4f} (round 2, 200 items)")
    assert human[at + 1].startswith("forecast: holdout accuracy ")
    assert human[at + 3].startswith("forecast: gain per 1,000 labels: +")
    assert human[at + 4].startswith("stop suggested: forecast gain +")
    assert human[at + 4].endswith("below loop.stop_when.gain_per_1000 0.5 (50 points)")


def test_status_before_three_rounds_says_what_the_forecast_needs(project_file):
    path = project_file()
    cfg = load_config(path)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(0)
        store.metrics.record(0, Split.HOLDOUT.value, "t-r0",
                             {"accuracy": 0.5, "macro_f1": 0.5, "items": 10})
        store.rounds.finish(0, "t-r0", 40)
    human = CliRunner().invoke(main, ["status", "--config", str(path)]).output
    assert "holdout accuracy 0.5000 (95% CI 0.2366-0.7634), macro-F1 0.5000 (round 0, " \
           "10 items)" in human
    assert "forecast: needs 3 rounds with holdout results (have 1)" in human


def test_status_shows_what_the_artifacts_take_or_why_the_store_did_not_say(project_file,
                                                                         aws_settings):
    path = project_file()
    models = load_config(path).work_dir / "models"
    models.mkdir(parents=True)
    (models / "t-r1.pt").write_bytes(b"\0" * 2_500_000)
    human = CliRunner().invoke(main, ["status", "--config", str(path)]).output
    assert "disk: store 2.5 MB in 1 artifacts (models 2.5 MB, scores " in human
    # a store nobody answers for (aws_settings: an endpoint where nothing listens)
    away = project_file(jobs={"artifacts": "s3://gone/artifacts", "store_timeout": 2})
    result = CliRunner().invoke(main, ["status", "--config", str(away)])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("disk:")]
    assert line.startswith("disk: store unreachable (") and "s3://gone" in line, line
