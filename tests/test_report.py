"""`activelearn report` on hand-built state (no Label Studio): the page renders in headless
Chromium with every plot loaded, the CSV numbers are right, empty projects say so."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import FASHION_MNIST_CLASSES
from activelearn.learn.metrics import compute_metrics
from activelearn.reporting import results
from activelearn.reporting.report import write_report
from activelearn.state import AnnotationRow, RoundStatus, Split, Store
from activelearn.state.pulls import PulledReviews

CLASSES = list(FASHION_MNIST_CLASSES)
PLOTS = {"learning_curve.png", "simulate_accuracy.png", "simulate_macro_f1.png",
         "per_class_f1.png", "confusion_holdout.png", "confusion_test.png",
         "annotations_per_hour.png", "agreement.png"}
SECTIONS = ["learning-curve", "simulate", "latest-model", "throughput", "agreement",
            "duplicates", "review"]


def _payload(rng: np.random.Generator, accuracy: float, items: int) -> dict:
    y_true = rng.integers(0, len(CLASSES), items)
    wrong = rng.random(items) > accuracy
    y_pred = np.where(wrong, (y_true + 1) % len(CLASSES), y_true)
    return {**compute_metrics(y_true, y_pred, len(CLASSES)).to_dict(), "items": items}


def build_state(path: Path) -> None:
    """3 rounds with holdout and test metrics; alice and bob annotated the first 10 items
    and disagree on 3 of them (img0-2); 5 more items only alice annotated."""
    rng = np.random.default_rng(0)
    store = Store(path)
    store.add_items([(f"img{i}", i, None, Split.TRAIN.value) for i in range(30)])
    for round_, labels, acc in ((0, 40, 0.6), (1, 80, 0.7), (2, 120, 0.8)):
        store.start_round(round_)
        for split, items in (("holdout", 200), ("test", 300)):
            store.record_metrics(round_, split, f"t-r{round_}", _payload(rng, acc, items))
        store.finish_round(round_, f"t-r{round_}", labels, RoundStatus.DONE)
    rows, seen = [], {}
    for i in range(15):
        seen[100 + i] = f"img{i}"
        when = f"2026-11-28T{9 + i // 5:02d}:{(i * 7) % 60:02d}:00Z"
        rows.append(AnnotationRow(2 * i + 1, 100 + i, f"img{i}", i % 10, "alice", 4.0 + i,
                                  when))
        if i < 10:
            label = (i + 1) % 10 if i < 3 else i % 10
            rows.append(AnnotationRow(2 * i + 2, 100 + i, f"img{i}", label, "bob", 10.0,
                                      when.replace("Z", "+00:00")))
    store.apply_pull(2, seen, rows, [], "cursor", "c")
    # a clean found img20 and img21 to be copies of each other
    store.replace_duplicates([("img20", "img21", "exact", 1.0)],
                             [("img20", "exact", ["img20", "img21"])], [])
    store.set_meta("cleaned_items", "30")
    # round 2 sent img20-22 to review: img20's reviewer changed the label to the model's
    # suggestion, img21's kept it, img22's task waits; img1's dispute asked a third vote
    store.add_review_candidates(2, [("img20", 1, 2, 0.9, 0.95), ("img21", 3, 4, 0.8, 0.9),
                                    ("img22", 5, 6, 0.7, 0.85)])
    store.record_review_tasks(2, {"img20": 200, "img21": 201, "img22": 202})
    store.apply_pull(2, {}, [], [], "cursor", "d", PulledReviews(
        {200: ("img20", 2), 201: ("img21", 2), 202: ("img22", 2)},
        [AnnotationRow(300, 200, "img20", 2, "carol", 3.0, "2026-11-28T12:00:00Z"),
         AnnotationRow(301, 201, "img21", 3, "carol", 3.0, "2026-11-28T12:01:00Z")]))
    store.add_relabel_requests(2, [("img1", 101, 2, 3)])
    store.mark_relabels_applied(2, ["img1"])
    store.close()


def build_simulate(out_dir: Path) -> None:
    """2 strategies x 2 seeds, 3 rounds each; margin gets there with fewer labels."""
    records = []
    for strategy, gain in (("random", 0.05), ("margin", 0.08)):
        for seed in (0, 1):
            for round_ in range(3):
                acc = 0.6 + gain * round_ + 0.01 * seed
                records.append({"strategy": strategy, "seed": seed, "round": round_,
                                "labels": 100 * (round_ + 1), "accuracy": acc,
                                "macro_f1": acc - 0.02})
    results.write_rounds(records, out_dir)


@pytest.fixture
def project(project_file, tmp_path) -> Path:
    """A project file whose WORK_DIR holds the hand-built state and a simulate run."""
    config = project_file()
    build_state(tmp_path / "work" / "state.sqlite")
    build_simulate(tmp_path / "work" / "simulate")
    return config


def render(page: Path, tmp_path: Path) -> tuple[str, str]:
    """Load the page in headless Chromium; returns (data-images-loaded, the final DOM)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run scripts/setup.sh --test "
                    "(apt-get install chromium)")
    profile = tmp_path / f"chromium-profile-{page.parent.name}"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-images-loaded="(\d+/\d+)"', done.stdout)
    assert found, f"the page's load script did not run: {done.stdout[:500]}"
    return found.group(1), done.stdout


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.sections: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"] or "")
        elif tag == "section":
            self.sections[a["id"] or ""] = a.get("data-has-data") or ""


def parse(dom: str) -> _Page:
    page = _Page()
    page.feed(dom)
    return page


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_cli_report_renders_in_chromium_with_every_plot_loaded(project, tmp_path) -> None:
    result = CliRunner().invoke(main, ["report", "--config", str(project)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "work" / "report"
    assert f"wrote {out / 'index.html'} with {len(PLOTS)} plots" in result.output
    # the page must work from anywhere: render a copy of the folder, not the original
    copy = tmp_path / "elsewhere" / "copied-report"
    shutil.copytree(out, copy)
    loaded, dom = render(copy / "index.html", tmp_path)
    page = parse(dom)
    assert set(page.images) == PLOTS and len(page.images) == len(PLOTS)
    assert loaded == f"{len(PLOTS)}/{len(PLOTS)}"
    assert page.sections == {name: "true" for name in SECTIONS}
    assert "activelearn report: t" in dom and "No data" not in dom


def test_a_missing_plot_shows_in_the_rendered_page(project, tmp_path) -> None:
    """The load counter sees a broken image (so the test above can fail)."""
    config = project
    assert CliRunner().invoke(main, ["report", "--config", str(config)]).exit_code == 0
    out = tmp_path / "work" / "report"
    (out / "confusion_test.png").write_bytes(b"not a png")
    (out / "agreement.png").unlink()
    loaded, _ = render(out / "index.html", tmp_path)
    assert loaded == f"{len(PLOTS) - 2}/{len(PLOTS)}"


def test_report_numbers(project, tmp_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    curve = read_csv(out / "learning_curve.csv")
    assert [(r["round"], r["split"], r["train_labels"]) for r in curve] == [
        (str(r), s, str(n)) for r, n in ((0, 40), (1, 80), (2, 120)) for s in ("holdout", "test")]
    per_class = read_csv(out / "per_class.csv")
    assert {r["class"] for r in per_class} == set(CLASSES)
    assert {r["split"] for r in per_class} == {"holdout", "test"}
    confusion = list(csv.reader((out / "confusion_holdout.csv").open()))
    assert sum(int(c) for row in confusion[1:] for c in row[1:]) == 200  # holdout items
    people = {r["annotator"]: r for r in read_csv(out / "annotators.csv")}
    assert people["alice"]["annotations"] == "15" and people["bob"]["annotations"] == "10"
    assert float(people["alice"]["median_lead_time_s"]) == 11.0  # lead times 4..18
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


def test_empty_project_renders_with_no_data_sections(project_file, tmp_path) -> None:
    config = project_file()
    state = tmp_path / "work" / "state.sqlite"
    store = Store(state)  # `activelearn init` was run: items may exist, no rounds yet
    store.add_items([("img0", 0, None, Split.TRAIN.value)])
    store.close()
    result = CliRunner().invoke(main, ["report", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "with 0 plots" in result.output and "no data yet for:" in result.output
    loaded, dom = render(tmp_path / "work" / "report" / "index.html", tmp_path)
    page = parse(dom)
    assert loaded == "0/0" and page.images == []
    assert page.sections == {name: "false" for name in SECTIONS}
    assert dom.count("No data:") == len(SECTIONS)
    assert "No rounds yet" in dom


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
    results.write_rounds([{"strategy": "random", "seed": 0, "labels": 100, "accuracy": 0.5},
                          {"strategy": "random", "seed": 1, "labels": 150, "accuracy": 0.6}],
                         sim)
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
    store.start_round(3)  # evaluated, then the push failed: no label count yet
    store.record_metrics(3, "holdout", "t-r3", _payload(np.random.default_rng(1), 0.9, 200))
    store.close()
    report = write_report(tmp_path / "out", "t", CLASSES, state, None)
    assert "learning_curve.png" in report.images
    rows = read_csv(tmp_path / "out" / "learning_curve.csv")
    assert [(r["round"], r["train_labels"]) for r in rows if r["split"] == "holdout"] == [
        ("0", "40"), ("1", "80"), ("2", "120"), ("3", "")]
    # the latest model is the one of the running round, evaluated on the holdout only
    assert {r["split"] for r in read_csv(tmp_path / "out" / "per_class.csv")} == {"holdout"}
    assert "Model t-r3 (round 3)" in report.page.read_text()
