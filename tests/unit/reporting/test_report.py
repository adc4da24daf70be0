"""`activelearn report` on hand-built state (no Label Studio): the CSV numbers are the ones
in the state, empty projects say so. Rendering in Chromium:
integration/test_report_browser.py."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.quality.forecast import wilson_interval
from activelearn.reporting.report import write_report
from activelearn.simulate import write_rounds
from activelearn.state import Store
from support.report_data import CLASSES, SECTIONS, build_simulate, build_state, parse, payload


@pytest.fixture
def built(project_file, tmp_path) -> tuple[Path, dict]:
    """A project file whose WORK_DIR holds the hand-built state and a simulate run, and
    the metrics that state holds by (round, split)."""
    config = project_file()
    written = build_state(tmp_path / "work" / "state.sqlite")
    build_simulate(tmp_path / "work" / "simulate")
    return config, written


@pytest.fixture
def project(built) -> Path:
    return built[0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_report_numbers(built, tmp_path) -> None:
    project, written = built
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    curve = read_csv(out / "learning_curve.csv")
    assert [(r["round"], r["split"], r["train_labels"]) for r in curve] == [
        (str(r), s, str(n)) for r, n in ((0, 40), (1, 80), (2, 120)) for s in ("holdout", "test")]
    for row in curve:
        recorded = written[(int(row["round"]), row["split"])]
        assert float(row["accuracy"]) == pytest.approx(recorded["accuracy"], abs=1e-12)
        assert float(row["macro_f1"]) == pytest.approx(recorded["macro_f1"], abs=1e-12)
        assert int(row["items"]) == recorded["items"]
    assert written[(2, "holdout")]["accuracy"] > written[(0, "holdout")]["accuracy"]
    per_class = read_csv(out / "per_class.csv")  # the latest model: round 2
    assert [(r["split"], r["class"]) for r in per_class] == [
        (s, c) for c in CLASSES for s in ("holdout", "test")]
    for row in per_class:
        recorded, k = written[(2, row["split"])], CLASSES.index(row["class"])
        assert [float(row[m]) for m in ("precision", "recall", "f1")] == pytest.approx(
            [recorded[m][k] for m in ("precision", "recall", "f1")], abs=1e-12)
        assert int(row["support"]) == recorded["support"][k]
    confusion = list(csv.reader((out / "confusion_holdout.csv").open()))
    assert [[int(c) for c in row[1:]] for row in confusion[1:]] == \
        written[(2, "holdout")]["confusion"]
    assert read_csv(out / "duplicates.csv") == [
        {"group_id": "1", "kind": "exact", "item_id": "img20", "representative": "1",
         "split": "train", "path": ""},
        {"group_id": "1", "kind": "exact", "item_id": "img21", "representative": "0",
         "split": "train", "path": ""}]
    assert read_csv(out / "skipped.csv") == [
        {"item_id": "img29", "path": "/photos/img29.jpg", "reason": "not a readable image"}]
    people = {r["annotator"]: r for r in read_csv(out / "annotators.csv")}
    assert people["alice"]["annotations"] == "15" and people["bob"]["annotations"] == "10"
    assert float(people["alice"]["median_lead_time_s"]) == 11.0  # lead times 4..18
    assert float(people["alice"]["mean_lead_time_s"]) == 11.0
    assert float(people["bob"]["mean_lead_time_s"]) == 10.0
    # by the label each annotation gave: class 3 from alice (7, 17) and bob (10, 10)
    by_class = {r["class"]: r for r in read_csv(out / "class_lead_times.csv")}
    three = by_class[CLASSES[3]]
    assert (three["class_index"], three["annotations"]) == ("3", "4")
    assert (float(three["median_lead_time_s"]), float(three["mean_lead_time_s"])) == (10.0, 11.0)
    assert float(by_class[CLASSES[0]]["median_lead_time_s"]) == 9.0  # alice's 4 and 14
    assert sum(int(r["annotations"]) for r in by_class.values()) == 25
    hourly = read_csv(out / "annotations_per_hour.csv")
    assert sum(int(r["annotations"]) for r in hourly) == 25
    assert {r["hour_utc"] for r in hourly} == {"2026-11-28T09:00Z", "2026-11-28T10:00Z",
                                               "2026-11-28T11:00Z"}
    agree = {r["annotator"]: r for r in read_csv(out / "agreement.csv")}
    # 10 shared items, 3 disagreements: each agrees with the other on 7 of 10
    assert (agree["alice"]["items"], agree["alice"]["compared"], agree["alice"]["agreed"]) \
        == ("10", "10", "7")
    assert agree["bob"]["agreed"] == "7"
    summary = read_csv(out / "simulate_summary.csv")
    assert [r["strategy"] for r in summary] == ["random", "margin"]
    assert float(summary[1]["label_efficiency"]) > 1.0
    assert len(read_csv(out / "simulate_rounds.csv")) == 12
    reviews = {r["item_id"]: r for r in read_csv(out / "reviews.csv")}
    assert {i: (r["state"], r["label"], r["answer"]) for i, r in reviews.items()} == {
        "img20": ("done", "1", "2"), "img21": ("done", "3", "3"), "img22": ("pushed", "5", "")}
    assert read_csv(out / "relabel_requests.csv") == [
        {"item_id": "img1", "round": "2", "annotations_when_asked": "2", "overlap_asked": "3",
         "raised": "1"}]
    html = (out / "index.html").read_text()
    assert "0.700" in html  # unanimous share 7/10 in the agreement table
    # round 2: 3 sent, 1 waiting, 2 answered, 1 changed (to the suggestion), share 0.500
    assert "<td>2</td><td>3</td><td>1</td><td>2</td><td>1</td><td>1</td><td>0.500</td>" \
        in html.replace("\n", "")




def test_report_without_state_does_not_create_one(project_file, tmp_path) -> None:
    config = project_file()
    out = tmp_path / "r"
    report = write_report(out, "t", CLASSES, tmp_path / "work" / "state.sqlite", None)
    assert not (tmp_path / "work" / "state.sqlite").exists()
    assert report.images == [] and len(report.empty) == len(SECTIONS)
    assert CliRunner().invoke(main, ["report", "--config", str(config)]).exit_code == 0
    assert not (tmp_path / "work" / "state.sqlite").exists()


def test_report_errors_are_one_line_with_exit_codes(project, tmp_path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    result = CliRunner().invoke(main, ["report", "--config", str(project),
                                       "--simulate", str(empty)])
    assert result.exit_code == 2
    assert f"error: {empty / 'rounds.json'}: cannot read simulate results" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = CliRunner().invoke(main, ["report", "--config", str(project),
                                       "--simulate", str(broken)])
    assert result.exit_code == 1 and "not a simulate rounds.json" in result.output


def test_unusable_simulate_records_leave_that_section_empty(project, tmp_path) -> None:
    """Records whose seeds share no label count: the section says why, the rest is there."""
    sim = tmp_path / "odd"
    write_rounds([{"strategy": "random", "seed": 0, "labels": 100, "accuracy": 0.5},
                  {"strategy": "random", "seed": 1, "labels": 150, "accuracy": 0.6}], sim)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--config", str(project), "--out", str(out),
                                       "--simulate", str(sim)])
    assert result.exit_code == 0, result.output
    page = parse((out / "index.html").read_text())
    assert page.sections["simulate"] == "false" and page.sections["learning-curve"] == "true"
    assert "share no label count" in (out / "index.html").read_text()


def test_a_round_still_running_is_listed_but_not_plotted(tmp_path) -> None:
    state = tmp_path / "state.sqlite"
    build_state(state)
    store = Store(state)
    store.rounds.start(3)  # evaluated, then the push failed: no label count yet
    store.metrics.record(3, "holdout", "t-r3", payload(np.random.default_rng(1), 0.9, 200))
    store.close()
    report = write_report(tmp_path / "out", "t", CLASSES, state, None)
    assert "learning_curve.png" in report.images
    rows = read_csv(tmp_path / "out" / "learning_curve.csv")
    assert [(r["round"], r["train_labels"]) for r in rows if r["split"] == "holdout"] == [
        ("0", "40"), ("1", "80"), ("2", "120"), ("3", "")]
    # the latest model is the one of the running round, evaluated on the holdout only
    assert {r["split"] for r in read_csv(tmp_path / "out" / "per_class.csv")} == {"holdout"}
    assert "Model t-r3 (round 3)" in report.page.read_text()


def test_report_shows_wilson_intervals_and_the_forecast(built, tmp_path) -> None:
    project, written = built
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for row in read_csv(out / "learning_curve.csv"):
        recorded = written[(int(row["round"]), row["split"])]
        correct = sum(recorded["confusion"][k][k] for k in range(len(CLASSES)))
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx(
            wilson_interval(correct, recorded["items"]), abs=1e-12)
    forecast = read_csv(out / "forecast.csv")
    assert [int(r["train_labels"]) for r in forecast] == [120, 620, 1120, 2120, 5120, 10120]
    assert all(float(r["low"]) <= float(r["accuracy"]) <= float(r["high"]) for r in forecast)
    html = (out / "index.html").read_text()
    assert parse(html).sections["forecast"] == "true"
    assert "Forecast: gain per 1,000 labels: +" in html
    assert "Keep labelling: forecast gain" in html or "Stop suggested: forecast gain" in html
    recorded = written[(2, "holdout")]
    low, high = wilson_interval(sum(recorded["confusion"][k][k] for k in range(len(CLASSES))),
                                200)
    assert f"<td>{low:.3f}-{high:.3f}</td>" in html


def test_the_forecast_section_needs_three_finished_rounds(tmp_path) -> None:
    state = tmp_path / "state.sqlite"
    with Store.open(state) as store:
        for round_, labels in ((0, 40), (1, 80)):
            store.rounds.start(round_)
            store.metrics.record(round_, "holdout", f"t-r{round_}",
                                 payload(np.random.default_rng(round_), 0.7, 200))
            store.rounds.finish(round_, f"t-r{round_}", labels)
    report = write_report(tmp_path / "out", "t", CLASSES, state, None)
    assert "Forecast and stopping" in report.empty
    assert "the forecast needs 3 finished rounds with holdout results at different label " \
           "counts (have 2)." in report.page.read_text()
