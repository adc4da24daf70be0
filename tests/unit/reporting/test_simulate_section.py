"""simulate's figures (macro-F1 and worst-class recall next to accuracy, a log label axis
for geometric schedules) and the report's simulate section with the run's targets."""

from __future__ import annotations

import csv
from pathlib import Path

from activelearn.reporting import plots
from activelearn.reporting.simulate_section import simulate_section
from activelearn.simulate import Target, write_rounds, write_targets


def records(worst: bool = True) -> list[dict]:
    found = []
    for strategy, gain in (("random", 0.05), ("margin", 0.08)):
        for seed in (0, 1):
            for k, labels in enumerate((100, 200, 400, 800)):  # a doubling schedule
                acc = 0.6 + gain * k + 0.01 * seed
                record = {"strategy": strategy, "seed": seed, "round": k, "labels": labels,
                          "accuracy": acc, "macro_f1": acc - 0.02}
                if worst:
                    record.update(worst_recall=acc - 0.3, worst_class="Shirt")
                found.append(record)
    return found


def x_scale(monkeypatch) -> list[str]:
    """The x scales of the figures drawn from now on."""
    scales: list[str] = []
    original = plots._log_labels

    def spy(ax, labels):
        scales.append("log")
        original(ax, labels)

    monkeypatch.setattr(plots, "_log_labels", spy)
    return scales


def test_simulate_figures_draw_each_recorded_metric_with_a_log_axis_for_8x(tmp_path,
                                                                           monkeypatch):
    scales = x_scale(monkeypatch)
    drawn = plots.simulate_figures(records(), tmp_path, targets={"accuracy": [0.7]})
    assert [p.name for p in drawn] == ["accuracy.png", "macro_f1.png", "worst_recall.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in drawn)
    assert scales == ["log"] * 3  # 100 to 800 labels span 8x
    older = plots.simulate_figures(records(worst=False), tmp_path / "old", log_x=False)
    assert [p.name for p in older] == ["accuracy.png", "macro_f1.png"]
    assert scales == ["log"] * 3


def test_a_narrow_label_range_keeps_a_linear_axis_unless_asked(tmp_path, monkeypatch):
    scales = x_scale(monkeypatch)
    narrow = [r for r in records() if r["labels"] <= 400]
    plots.simulate_curves(narrow, tmp_path / "a.png")
    assert scales == []
    plots.simulate_curves(narrow, tmp_path / "b.png", log_x=True)
    assert scales == ["log"]


def test_the_report_section_shows_the_targets_simulate_wrote(tmp_path):
    sim = tmp_path / "sim"
    write_rounds(records(), sim)
    write_targets(sim, [Target("accuracy", 0.7), Target("accuracy", 0.75, "0.8 × full-data "
                                                                        "accuracy 0.938")],
                  ["full-data accuracy 0.938, macro-F1 0.93 (cached from x.json)"])
    out = tmp_path / "report"
    section = simulate_section(records(), str(sim), out)
    assert section.has_data
    assert set(section.images) == {"simulate_accuracy.png", "simulate_macro_f1.png",
                                   "simulate_worst_recall.png"}
    assert "simulate_targets.csv" in section.files[-2]
    with (out / "simulate_targets.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2  # targets x strategies x seeds
    # margin (0.68 and 0.69 at 200 labels) reaches 0.7 before random (0.65, 0.66) does
    margin = [r for r in rows if r["strategy"] == "margin" and r["target"] == "0.7"]
    random = [r for r in rows if r["strategy"] == "random" and r["target"] == "0.7"]
    assert float(margin[0]["labels_mean"]) < float(random[0]["labels_mean"])
    assert float(margin[0]["efficiency"]) > 1
    summary = (out / "simulate_summary.csv").read_text().splitlines()[0]
    assert "final_worst_recall_mean" in summary


def test_without_targets_the_section_has_no_targets_table(tmp_path):
    sim = tmp_path / "sim"
    write_rounds(records(worst=False), sim)
    section = simulate_section(records(worst=False), str(sim), tmp_path / "report")
    assert not any("targets" in f for f in section.files)
    assert not (Path(tmp_path / "report") / "simulate_worst_recall.png").exists()
