"""The report's `simulate` section: the strategies of a simulate run compared, with their
spread over seeds, label efficiency against random, and the labels each needs to reach
the run's targets (targets.json next to rounds.json, when simulate was given targets),
and with a cost model (simulate --class-seconds) labels and accuracy per annotator-hour."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from activelearn.errors import ActiveLearnError
from activelearn.files import write_csv
from activelearn.reporting import hours, plots, results, targets
from activelearn.reporting.page import Section
from activelearn.simulate import csv_columns, read_targets

# figure file -> its caption; simulate's own figure names, after "simulate_"
_CAPTIONS = {"accuracy.png": "test accuracy", "macro_f1.png": "test macro-F1",
             "worst_recall.png": "the lowest per-class test recall"}


def simulate_section(records: list[dict] | None, source: str, out_dir: Path) -> Section:
    """(b) strategies of a `simulate` run with their spread over seeds and efficiency.
    source: the folder (or rounds.json) the records came from, where targets.json is."""
    section = Section("simulate", "Strategies compared (activelearn simulate)")
    if not records:
        section.no_data(f"no simulate results{f' in {source}' if source else ''}; "
                        "run activelearn simulate or pass --simulate DIR.")
        return section
    try:
        rows = results.summarize(records)
        found, notes = read_targets(Path(source)) if source else ([], [])
        lines: dict[str, list[float]] = {}
        for t in found:
            lines.setdefault(t.metric, []).append(t.value)
        for path in plots.simulate_figures(records, out_dir, targets=lines, prefix="simulate_"):
            caption = _CAPTIONS[path.name.removeprefix("simulate_")]
            section.image(path.name, f"simulate: {caption} against labels")
    except ActiveLearnError as exc:
        section.no_data(f"the simulate results in {source} are unusable: {exc}")
        return section
    section.text(f"From {source}. Lines: mean over seeds; bands: min–max over seeds.")
    section.table(results.summary_table(rows))
    section.text(results.target_line(rows))
    section.files.append(write_csv(out_dir / "simulate_summary.csv", [
        list(asdict(rows[0])), *[list(asdict(r).values()) for r in rows]]))
    spent = hours.hours_summary(records)
    if spent is not None:  # a cost model: labels per annotator-hour, equal-hours accuracy
        section.table(hours.hours_table(*spent))
        section.text(hours.hours_note(spent[1]))
    if found:
        reached = targets.target_rows(records, found)
        for note in notes:
            section.text(note)
        section.table(targets.targets_table(reached))
        for note in targets.target_notes(reached):
            section.text(note)
        section.files.append(write_csv(out_dir / "simulate_targets.csv",
                                       targets.targets_csv(reached)))
    columns = csv_columns(records)
    section.files.append(write_csv(out_dir / "simulate_rounds.csv", [
        columns, *[[r.get(c, "") for c in columns] for r in records]]))
    return section
