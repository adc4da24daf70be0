"""Every figure activelearn draws (the report's and simulate's), with matplotlib's Agg
canvas (no pyplot, so no display and no global figure registry), saved as PNG files
atomically. matplotlib is imported when the first figure is drawn.

Text that comes from data (class, annotator, split and strategy names, titles built from
them) goes through `literal`, so a name like "$x^$" is shown as typed: matplotlib would
read it as mathtext and fail or draw a formula.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activelearn.errors import ActiveLearnError
from activelearn.files import write_atomically
from activelearn.quality.agreement import Agreement
from activelearn.quality.throughput import Throughput
from activelearn.reporting.results import Curve, curves
from activelearn.simulate import METRIC_LABELS, Record

# (labels, accuracy, macro-F1) of one split, one point per evaluated round
SplitCurve = tuple[list[int], list[float], list[float]]


def literal(text: object) -> str:
    """text as matplotlib shows it literally. Every '$' becomes '\\$': matplotlib then
    finds no unescaped '$' (no mathtext) and draws each '\\$' as '$', which gives the
    text back exactly, backslashes included. A leading '_' gets a zero-width space in
    front, since a legend hides labels that start with '_'. Assumes rcParams
    text.usetex is off (matplotlib's default): LaTeX would need more escaping."""
    escaped = str(text).replace("$", r"\$")
    return "\u200b" + escaped if escaped.startswith("_") else escaped


def _literals(texts: Sequence[object]) -> list[str]:
    return [literal(text) for text in texts]


def _figure(width: float, height: float, dpi: int = 100) -> Any:
    # imported here: `activelearn report` is the only command that needs matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    # a name in a script the default font lacks (CJK, ...) is drawn as boxes; matplotlib
    # would warn once per character on stderr, which is noise to a user of `report`
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        return write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))


def learning_curve(by_split: Mapping[str, SplitCurve], path: Path) -> Path:
    """Accuracy and macro-F1 against train labels, one line per split."""
    fig = _figure(10, 4)
    axes = fig.subplots(1, 2)
    for split, (labels, accuracy, f1) in by_split.items():
        for ax, values in zip(axes, (accuracy, f1)):
            ax.plot(labels, values, marker="o", markersize=3, label=literal(split))
    for ax, name in zip(axes, ("accuracy", "macro-F1")):
        ax.set_xlabel("train labels")
        ax.set_ylabel(name)
        ax.set_title(f"{name} vs train labels, one point per round", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    return _save(fig, path)


def per_class_f1(classes: Sequence[str], f1: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Horizontal bars of each class's F1, one bar per split."""
    fig = _figure(8, 1.2 + 0.35 * len(classes) * max(1, len(f1)) ** 0.5)
    ax = fig.add_subplot()
    y = np.arange(len(classes))
    height = 0.8 / max(1, len(f1))
    for k, (split, values) in enumerate(f1.items()):
        ax.barh(y + k * height, values, height=height, label=literal(split))
    ax.set_yticks(y + height * (len(f1) - 1) / 2, _literals(classes))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.set_title("per-class F1 of the latest model", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, path)


def confusion(classes: Sequence[str], matrix: Sequence[Sequence[int]], title: str,
              path: Path) -> Path:
    """matrix: [classes, classes] counts, rows true, columns predicted. Colour is the row
    share (recall per cell), the number the count."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n = len(classes)
    fig = _figure(max(5.0, 0.55 * n + 2.5), max(4.5, 0.5 * n + 2))
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), _literals(classes), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), _literals(classes), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(literal(title), fontsize=10)
    if n <= 30:  # beyond that the numbers are unreadable anyway
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, f"{count:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if shares[i, j] > 0.5 else "black")
    return _save(fig, path)


def hourly(work: Throughput, path: Path) -> Path:
    """Annotations saved per hour, stacked by annotator."""
    import matplotlib.dates as mdates

    fig = _figure(10, 3.8)
    ax = fig.add_subplot()
    hours = work.hours
    bottom = np.zeros(len(hours))
    for who in sorted({a for _, a in work.hourly}):
        counts = np.array([work.hourly.get((h, who), 0) for h in hours], dtype=float)
        ax.bar(hours, counts, width=1 / 24, bottom=bottom, align="edge", label=literal(who))
        bottom += counts
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylabel("annotations per hour")
    ax.set_title(f"annotations saved per hour (UTC), {work.total} in all", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    return _save(fig, path)


def agreement_bars(found: Agreement, path: Path) -> Path:
    """Each annotator's share of votes that chose the other annotators' majority label."""
    people = [p for p in found.annotators if p.share is not None]
    fig = _figure(7, 1.5 + 0.4 * max(1, len(people)))
    ax = fig.add_subplot()
    y = np.arange(len(people))
    ax.barh(y, [p.share for p in people], color="tab:green")
    for k, p in enumerate(people):
        ax.text(0.01, k, f"{p.agreed}/{p.votes}", va="center", fontsize=8, color="white")
    ax.set_yticks(y, _literals([p.annotator for p in people]))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of votes equal to the other annotators' majority label")
    ax.set_title(f"agreement with the others on {found.items} multi-annotated items",
                 fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def simulate_curves(records: Sequence[Record], path: Path, metric: str = "accuracy",
                    log_x: bool | None = None, targets: Sequence[float] = ()) -> Path:
    """`metric` of simulate's records against labels: one line per strategy, the mean over
    seeds, with a band from the minimum to the maximum over seeds; `random`, when
    present, is a dashed baseline; each of `targets` a dotted horizontal line.
    log_x: a logarithmic label axis (None: when the label counts span 8x or more, as
    geometric label schedules do)."""
    by_strategy = curves(records, metric)
    if not by_strategy:
        raise ActiveLearnError(f"no result records to plot into {path}")
    fig = _figure(7, 4.5, dpi=120)
    ax = fig.add_subplot()
    for curve in by_strategy.values():
        _strategy_line(ax, curve)
    for value in targets:
        ax.axhline(value, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(f"target {value:.3f}", (0, value), xycoords=("axes fraction", "data"),
                    xytext=(3, 2), textcoords="offset points", fontsize=7, color="0.4")
    labels = np.unique(np.concatenate([c.labels for c in by_strategy.values()]))
    if log_x is None:
        log_x = bool(labels.min() > 0 and labels.max() >= 8 * labels.min())
    if log_x:
        _log_labels(ax, labels)
    label = METRIC_LABELS.get(metric, metric.replace("_", " "))
    ax.set_xlabel("labels")
    ax.set_ylabel(literal(label))
    ax.set_title(literal(f"{label} vs labels (line: mean over seeds, band: min–max over seeds)"),
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, Path(path))


def _log_labels(ax: Any, labels: np.ndarray) -> None:
    """A logarithmic label axis with plain numbers (1000, not 10^3): ticks at the label
    counts when there are few of them."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log")
    if len(labels) <= 12:
        ax.set_xticks(labels)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


# the figures of a simulate run: file name -> metric
SIMULATE_FIGURES = {"accuracy.png": "accuracy", "macro_f1.png": "macro_f1",
                    "worst_recall.png": "worst_recall"}


def simulate_figures(records: Sequence[Record], out_dir: Path, log_x: bool | None = None,
                     targets: Mapping[str, Sequence[float]] | None = None,
                     prefix: str = "") -> list[Path]:
    """accuracy.png, and macro_f1.png and worst_recall.png when every record has the
    metric (older runs lack worst_recall), in out_dir, each file name after `prefix`.
    targets: metric -> target values drawn as dotted lines."""
    drawn = []
    for name, metric in SIMULATE_FIGURES.items():
        if metric != "accuracy" and not all(r.get(metric) is not None for r in records):
            continue
        drawn.append(simulate_curves(records, Path(out_dir) / f"{prefix}{name}", metric,
                                     log_x, (targets or {}).get(metric, ())))
    return drawn


class SimulateFigures:
    """The figures of a `simulate` run in its folder (simulate.Figures)."""

    def clear(self, out_dir: Path) -> None:
        """Remove an earlier run's figures: they would not match this run's."""
        for name in SIMULATE_FIGURES:
            (Path(out_dir) / name).unlink(missing_ok=True)

    def draw(self, records: Sequence[Record], out_dir: Path, log_x: bool | None,
             targets: Mapping[str, Sequence[float]]) -> list[Path]:
        """simulate_figures of the records, targets drawn as dotted lines."""
        return simulate_figures(records, out_dir, log_x, targets)


def _strategy_line(ax: Any, curve: Curve) -> None:
    is_random = curve.strategy == "random"
    style = {"color": "0.35", "linestyle": "--"} if is_random else {}
    name = f"{curve.strategy} ({curve.seeds} seed{'s' if curve.seeds != 1 else ''})"
    if is_random:
        name += ", baseline"
    size = 3 if len(curve.labels) > 1 else 6
    (line,) = ax.plot(curve.labels, curve.mean, marker="o", markersize=size,
                      label=literal(name), **style)
    low, high = curve.values.min(axis=1), curve.values.max(axis=1)
    if len(curve.labels) > 1:
        ax.fill_between(curve.labels, low, high, color=line.get_color(), alpha=0.15, lw=0)
    elif curve.seeds > 1:  # one round: a band has no width, show the spread as an error bar
        ax.errorbar(curve.labels, curve.mean, yerr=[curve.mean - low, high - curve.mean],
                    color=line.get_color(), capsize=4, fmt="none")
