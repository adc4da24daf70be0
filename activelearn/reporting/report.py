"""`activelearn report`: where a project stands and whether active learning pays off, as
one HTML page with PNG plots and the numbers behind them as CSV files, in one folder.

Sections: the learning curve on the holdout (and test) split, round by round, each
accuracy with its 95% Wilson interval; the holdout curve's forecast and the stopping
suggestion (forecast_section.py); the `simulate` comparison of strategies
(simulate_section.py); per-class scores and the confusion matrix of the latest model;
annotation throughput (seconds per label by annotator and by class); then the
annotation-quality sections of quality_sections.py (agreement, duplicates, label-error
review). A section without data says so. Nothing here writes to the state.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from activelearn.config import LoopConfig
from activelearn.errors import ActiveLearnError, ConfigError
from activelearn.files import write_csv, write_text
from activelearn.project import Project
from activelearn.quality.forecast import wilson_interval
from activelearn.quality.stopping import correct_of
from activelearn.quality.throughput import (
    AnnotationEvent,
    Throughput,
    class_work,
    throughput,
)
from activelearn.reporting import plots
from activelearn.reporting.forecast_section import forecast_section, interval_cell
from activelearn.reporting.page import Section, fmt, render_page
from activelearn.reporting.quality_sections import (
    agreement_section,
    duplicates_section,
    review_section,
)
from activelearn.reporting.simulate_section import simulate_section
from activelearn.state import Evaluation, RoundRow, Store

CURVE_SPLITS = ("holdout", "test")  # the splits the learning curve shows, in this order


@dataclass
class StateData:
    """What the report reads from the state (all empty when there is no state yet)."""

    rounds: list[RoundRow] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    events: list[AnnotationEvent] = field(default_factory=list)
    votes: dict[str, list[tuple[str | None, int]]] = field(default_factory=dict)
    gold: list[tuple[str | None, int, int]] = field(default_factory=list)  # see gold_votes
    model: list[tuple[str | None, int, int]] = field(default_factory=list)  # see model_votes
    class_lead_times: dict[int, list[float]] = field(default_factory=dict)  # class -> seconds


@dataclass(frozen=True)
class Report:
    """The page that was written, with the files next to it."""

    page: Path
    images: list[str]
    files: list[str]
    empty: list[str]  # titles of the sections without data


def read_state(store: Store | None) -> StateData:
    """Everything the report's curves and tables need from the state (None: there is no
    state file yet, an empty project)."""
    if store is None:
        return StateData()
    return StateData(store.rounds.all(), store.metrics.evaluations(),
                     store.annotations.events(), store.annotations.multi_annotated(),
                     store.gold.votes(), store.annotations.model_votes(),
                     store.annotations.class_lead_times())


def read_simulate(path: Path) -> list[dict]:
    """The records of a `simulate` run: path is its rounds.json or the folder holding it."""
    path = path / "rounds.json" if path.is_dir() else path
    try:
        records = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read simulate results: {exc.strerror}") from None
    except ValueError as exc:
        raise ActiveLearnError(f"{path}: not a simulate rounds.json ({exc})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ActiveLearnError(f"{path}: not a simulate rounds.json (expected a list of "
                               "records)")
    return records


def write_report(out_dir: Path, project: str, classes: Sequence[str], state_path: Path,
                 simulate: list[dict] | None, simulate_source: str = "",
                 loop: LoopConfig | None = None) -> Report:
    """Build the report in out_dir (created; earlier files of the same names replaced).

    classes: the class names, by index; simulate: records from :func:`read_simulate` (None:
    no simulate run), simulate_source: where they came from, shown on the page; loop: the
    forecast's target and the stop criteria (None: LoopConfig's defaults).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    # opened once for every section; an absent state is not created
    with Store.open(state_path, readonly=True) if state_path.exists() else nullcontext() as store:
        data = read_state(store)
        sections = [
            learning_curve_section(data.evaluations, out_dir),
            forecast_section(data.evaluations, loop or LoopConfig(), out_dir),
            simulate_section(simulate, simulate_source, out_dir),
            latest_model_section(data.evaluations, classes, out_dir),
            throughput_section(data.events, out_dir, classes, data.class_lead_times),
            agreement_section(data.votes, out_dir, data.gold, data.model),
            duplicates_section(store, out_dir),
            review_section(store, out_dir),
        ]
    page = write_text(out_dir / "index.html", render_page(
        f"activelearn report: {project}", _about(project, state_path, data), sections))
    return Report(page, [i for s in sections for i in s.images],
                  [f for s in sections for f in s.files],
                  [s.title for s in sections if not s.has_data])


def _about(project: str, state_path: Path, data: StateData) -> list[str]:
    lines = [f"Project {project}; state {state_path}; generated "
             f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}."]
    if not data.rounds:
        lines.append("No rounds yet: run activelearn cycle.")
        return lines
    last = data.rounds[-1]
    models = [r.model_version for r in data.rounds if r.model_version]
    lines.append(f"{len(data.rounds)} rounds; round {last.round} is {last.status} "
                 f"(phase {last.phase or '-'}); latest model {models[-1] if models else '-'}.")
    return lines


def _model_cell(e: Evaluation) -> str:
    """The model version, and what produced it when not a from-scratch model
    ("t-r3 (small_cnn head, weights 5ff016cebd3ecf1d)")."""
    version, p = e.model_version or "-", e.payload
    if not p.get("weights_sha256"):
        return version
    return f"{version} ({p.get('model', '?')} {p.get('mode', '?')}, weights " \
           f"{p['weights_sha256']})"


# -------------------------------------------------------------------------- sections


def learning_curve_section(evaluations: list[Evaluation], out_dir: Path) -> Section:
    """(a) accuracy and macro-F1 against train labels, round by round."""
    section = Section("learning-curve", "Accuracy and macro-F1 against labels")
    shown = [e for e in evaluations if e.split in CURVE_SPLITS]
    if not shown:
        section.no_data("no model has been evaluated on the holdout yet (a model is "
                        "trained once enough labels came back from Label Studio).")
        return section
    splits = [s for s in CURVE_SPLITS if any(e.split == s for e in shown)]
    by_round: dict[int, dict[str, Evaluation]] = {}
    for e in shown:
        by_round.setdefault(e.round, {})[e.split] = e
    curves: dict[str, plots.SplitCurve] = {s: ([], [], []) for s in splits}
    for e in shown:
        if e.labels is not None:  # a round still running has no label count yet
            labels, accuracy, f1 = curves[e.split]
            labels.append(e.labels)
            accuracy.append(e.payload["accuracy"])
            f1.append(e.payload["macro_f1"])
    if any(c[0] for c in curves.values()):
        plots.learning_curve({s: c for s, c in curves.items() if c[0]},
                             out_dir / "learning_curve.png")
        section.image("learning_curve.png", "accuracy and macro-F1 against train labels")
    header = ["round", "train labels", "model"] + [
        f"{s} {m}" for s in splits for m in ("accuracy", "95% CI", "macro-F1", "items")]
    rows: list[list[object]] = [[*header]]
    for round_, found in sorted(by_round.items()):
        first = next(iter(found.values()))
        row: list[object] = [round_, "-" if first.labels is None else first.labels,
                             _model_cell(first)]
        for s in splits:
            got = found.get(s)
            row += ([fmt(got.payload["accuracy"]), interval_cell(got.payload),
                     fmt(got.payload["macro_f1"]), got.payload.get("items", "-")]
                    if got else ["-", "-", "-", "-"])
        rows.append(row)
    section.table(rows, "95% CI: the Wilson score interval of the accuracy on that many "
                        "items")
    section.files.append(write_csv(out_dir / "learning_curve.csv", [
        ["round", "split", "model_version", "train_labels", "accuracy", "macro_f1", "items",
         "ci_low", "ci_high"],
        *[[e.round, e.split, e.model_version or "", "" if e.labels is None else e.labels,
           e.payload["accuracy"], e.payload["macro_f1"], e.payload.get("items", ""),
           *wilson_interval(*correct_of(e.payload))] for e in shown]]))
    return section


def latest_model_section(evaluations: list[Evaluation], classes: Sequence[str],
                         out_dir: Path) -> Section:
    """(c) per-class scores and the confusion matrix of the newest evaluated model."""
    section = Section("latest-model", "Latest model: per-class F1 and confusion matrix")
    if not evaluations:
        section.no_data("no model has been evaluated yet.")
        return section
    last = max(e.round for e in evaluations)
    found = sorted((e for e in evaluations if e.round == last),
                   key=lambda e: _split_rank(e.split))
    first = found[0]
    names = _class_names(classes, len(first.payload["f1"]))
    section.text(f"Model {first.model_version or '-'} (round {last}), evaluated on "
                 f"{', '.join(e.split for e in found)}.")
    plots.per_class_f1(names, {e.split: e.payload["f1"] for e in found},
                       out_dir / "per_class_f1.png")
    section.image("per_class_f1.png", "per-class F1 of the latest model")
    header = ["class"] + [f"{e.split} {m}" for e in found
                          for m in ("precision", "recall", "F1", "support")]
    rows: list[list[object]] = [[*header]]
    csv_rows: list[list[object]] = [["split", "class", "precision", "recall", "f1", "support"]]
    for k, name in enumerate(names):
        row: list[object] = [name]
        for e in found:
            p = e.payload
            row += [fmt(p["precision"][k]), fmt(p["recall"][k]), fmt(p["f1"][k]),
                    p["support"][k]]
            csv_rows.append([e.split, name, p["precision"][k], p["recall"][k], p["f1"][k],
                             p["support"][k]])
        rows.append(row)
    section.table(rows)
    section.files.append(write_csv(out_dir / "per_class.csv", csv_rows))
    for e in found:
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", e.split)
        plots.confusion(names, e.payload["confusion"],
                               f"confusion matrix on {e.split} (rows: true class)",
                        out_dir / f"confusion_{slug}.png")
        section.image(f"confusion_{slug}.png", f"confusion matrix on {e.split}",
                      half=len(found) > 1)
        section.files.append(write_csv(out_dir / f"confusion_{slug}.csv", [
            ["true \\ predicted", *names],
            *[[name, *counts] for name, counts in zip(names, e.payload["confusion"])]]))
    return section


def _split_rank(split: str) -> int:
    return CURVE_SPLITS.index(split) if split in CURVE_SPLITS else len(CURVE_SPLITS)


def _class_names(classes: Sequence[str], n: int) -> list[str]:
    """The configured names, or indices when the model was trained on other classes."""
    return list(classes) if len(classes) == n else [f"class {k}" for k in range(n)]


def throughput_section(events: list[AnnotationEvent], out_dir: Path,
                       classes: Sequence[str] = (),
                       class_lead_times: dict[int, list[float]] | None = None) -> Section:
    """(d) annotations per hour, each annotator's seconds per label (Label Studio's
    lead_time) and the seconds per label by class (class_lead_times: class index -> the
    lead times of the annotations that gave it, store.annotations.class_lead_times)."""
    section = Section("throughput", "Annotation throughput")
    work = throughput(events)
    if work is None:
        section.no_data("no annotations pulled from Label Studio yet.")
        return section
    plots.hourly(work, out_dir / "annotations_per_hour.png")
    section.image("annotations_per_hour.png", "annotations saved per hour, by annotator")
    first, last = work.hours[0], work.hours[-1]
    section.table([
        ["annotations", "first hour (UTC)", "last hour (UTC)", "per hour",
         "per active hour", "busiest hour"],
        [work.total, f"{first:%Y-%m-%d %H:00}", f"{last:%Y-%m-%d %H:00}",
         fmt(work.per_hour, ".1f"), fmt(work.per_active_hour, ".1f"), _busiest(work)],
    ], "per hour: over every hour from the first to the last; per active hour: over the "
       "hours in which annotations were saved")
    section.table([["annotator", "annotations", "median lead time (s)",
                    "mean lead time (s)"],
                   *[[a.annotator, a.annotations, fmt(a.median_lead_time, ".1f"),
                      fmt(a.mean_lead_time, ".1f")] for a in work.annotators]])
    section.files.append(write_csv(out_dir / "annotations_per_hour.csv", [
        ["hour_utc", "annotator", "annotations"],
        *[[f"{h:%Y-%m-%dT%H:00Z}", who, n] for (h, who), n in sorted(work.hourly.items())]]))
    section.files.append(write_csv(out_dir / "annotators.csv", [
        ["annotator", "annotations", "median_lead_time_s", "mean_lead_time_s"],
        *[[a.annotator, a.annotations, _blank(a.median_lead_time), _blank(a.mean_lead_time)]
          for a in work.annotators]]))
    _class_cost(section, classes, class_lead_times or {}, out_dir)
    return section


def _blank(value: float | None) -> object:
    return "" if value is None else value


def _class_cost(section: Section, classes: Sequence[str],
                lead_times: dict[int, list[float]], out_dir: Path) -> None:
    """Seconds per label by class: the class is the label each annotation gave (what the
    annotator saw), not the item's final label."""
    by_class = class_work(lead_times)
    if not by_class:
        section.text("No annotation carries a lead time: no seconds per label by class.")
        return
    names = {k: classes[k] if 0 <= k < len(classes) else f"class {k}"
             for k in (w.label for w in by_class)}
    section.table([["class", "annotations with a lead time", "median seconds per label",
                    "mean seconds per label"],
                   *[[names[w.label], w.annotations, fmt(w.median_lead_time, ".1f"),
                      fmt(w.mean_lead_time, ".1f")] for w in by_class]],
                  "class: the label the annotation gave (each annotation counts for its own "
                  "label, also when annotators disagreed); lead time: Label Studio's "
                  "seconds from opening the task to submitting")
    section.files.append(write_csv(out_dir / "class_lead_times.csv", [
        ["class_index", "class", "annotations", "median_lead_time_s", "mean_lead_time_s"],
        *[[w.label, names[w.label], w.annotations, w.median_lead_time, w.mean_lead_time]
          for w in by_class]]))


def _busiest(work: Throughput) -> str:
    per_hour: dict = {}
    for (hour, _), n in work.hourly.items():
        per_hour[hour] = per_hour.get(hour, 0) + n
    hour, n = max(per_hour.items(), key=lambda kv: (kv[1], kv[0]))
    return f"{n} at {hour:%Y-%m-%d %H:00}"


def project_report(project: Project, out_dir: Path | None = None,
                   simulate_dir: Path | None = None) -> Report:
    """`activelearn report` for a project: the page in out_dir (default WORK_DIR/report),
    with the simulate run of simulate_dir (default WORK_DIR/simulate, when it holds a
    rounds.json)."""
    from activelearn.loop.maintenance import check_state

    cfg = project.cfg
    check_state(project)  # before anything is written: a state this release cannot read
    sim_path = simulate_dir or project.paths.simulate
    records = None
    if simulate_dir is not None or (sim_path / "rounds.json").exists():
        records = read_simulate(sim_path)
    return write_report(out_dir or project.paths.report, cfg.project.name, cfg.classes,
                        project.state_path, records, str(sim_path), cfg.loop)
