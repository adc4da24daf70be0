"""Cost-weighted selection on Fashion-MNIST (issue 17): margin with and without
strategy.cost_weighted, and random, against a simulated annotator whose seconds per label
depend on the class; labels and accuracy per annotator-hour.

    .venv/bin/python benchmarks/annotation_cost.py [--seeds 1] [--threads 1]
        [--out /tmp/annotation-cost] [--config configs/fashion_mnist.yaml]

Every run is `activelearn simulate` as a user runs it (the real Fashion-MNIST pool and
training), one process per strategy, with the cost profile below: the upper-body classes
that people confuse (T-shirt/top, Pullover, Coat, Shirt) take 12 s a label, the obvious
ones (Trouser, Sneaker, Bag) 3 s, the rest 6 s, each item's time drawn from a lognormal
around its class's (spread 0.3, seeded: an item costs the same in every run). Cost
weighting learns each class's median from the labelled items' observed times, as the
real loop learns it from Label Studio's lead_time. To keep it short: 500 -> 3,000 labels
in batches of 500, training capped at 10 epochs / 600-800 steps a round (the config's
recipe otherwise), one torch thread per process.

Printed: per strategy the labels, annotator-hours, labels per annotator-hour, test
accuracy, accuracy gained per annotator-hour after the first round, accuracy at equal
annotator-hours (interpolated at the fewest hours any run spent, and at each of random's
rounds), and how many of the labels were of the 12 s and the 3 s classes.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from activelearn.reporting.hours import (
    accuracy_at_hours,
    format_hours,
    hours_summary,
    runs_by_strategy,
)

ROOT = Path(__file__).resolve().parent.parent
SLOW = ("T-shirt/top", "Pullover", "Coat", "Shirt")
FAST = ("Trouser", "Sneaker", "Bag")
SLOW_SECONDS, FAST_SECONDS, DEFAULT_SECONDS = 12.0, 3.0, 6.0
# label -> (strategy, strategy keys)
RUNS = {"random": ("random", {}), "margin": ("margin", {}),
        "margin+cost": ("margin", {"cost_weighted": True})}


def project(args: argparse.Namespace, label: str, keys: dict) -> Path:
    """A copy of the config with its own work dir, one torch thread, the short recipe and
    the strategy keys."""
    raw = yaml.safe_load(Path(args.config).read_text())
    raw["project"]["work_dir"] = str(args.out / "work")
    raw["data"]["root"] = str((ROOT / raw["data"].get("root", "data")).resolve())
    raw.setdefault("training", {}).update(threads=args.threads, epochs=10, min_steps=600,
                                          max_steps=args.max_steps)
    raw.setdefault("strategy", {}).update(keys)
    path = args.out / f"{label}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def cost_options(spread: float) -> list[str]:
    """simulate's options for the cost profile."""
    named = [(c, SLOW_SECONDS) for c in SLOW] + [(c, FAST_SECONDS) for c in FAST]
    options = [arg for c, s in named for arg in ("--class-seconds", f"{c}={s:g}")]
    return options + ["--seconds-default", f"{DEFAULT_SECONDS:g}",
                      "--seconds-spread", f"{spread:g}"]


def simulate(args: argparse.Namespace, label: str) -> tuple[str, list[dict], float]:
    """One `activelearn simulate` process (unless --analyse-only); its records, with the
    run's label as the strategy, and its wall seconds."""
    strategy, keys = RUNS[label]
    out = args.out / label
    start = time.perf_counter()
    if not args.analyse_only:
        cmd = [str(ROOT / ".venv/bin/activelearn"), "simulate",
               "--config", str(project(args, label, keys)), "--strategy", strategy,
               "--no-baseline", "--seeds", str(args.seeds), "--no-progress",
               "--initial", str(args.initial), "--batch", str(args.batch),
               "--budget", str(args.budget), *cost_options(args.spread), "--out", str(out)]
        with (args.out / f"{label}.log").open("w") as log:
            done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        if done.returncode:
            sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}); see "
                     f"{args.out / label}.log")
    records = json.loads((out / "rounds.json").read_text())
    for record in records:
        record["strategy"] = label
    return label, records, time.perf_counter() - start


def label_mix(out: Path, class_names: list[str]) -> tuple[float, float, float]:
    """Share of the labels of the 12 s and of the 3 s classes, and the mean seconds per
    label, over the run's seeds (from the observed lead times)."""
    slow = {class_names.index(c) for c in SLOW}
    fast = {class_names.index(c) for c in FAST}
    labels, seconds = [], []
    for path in sorted(out.glob("runs/*/lead_times.csv")):
        with path.open() as f:
            for row in csv.DictReader(f):
                labels.append(int(row["label"]))
                seconds.append(float(row["seconds"]))
    got = np.array(labels)
    return (float(np.isin(got, list(slow)).mean()), float(np.isin(got, list(fast)).mean()),
            float(np.mean(seconds)))


def equal_hours(records: list[dict]) -> None:
    """Accuracy of each run at the annotator-hours of each of random's rounds (mean over
    seeds), where every run's curve reaches them."""
    runs = runs_by_strategy(records)
    base = np.mean([run[:, 1] for run in runs["random"]], axis=0)
    print("\naccuracy at equal annotator-hours (random's rounds; '-' = the run did not "
          "spend that many hours or started later)")
    print(f"  {'hours':>6}  " + "  ".join(f"{label:>12}" for label in runs))
    for hours in base:
        cells = []
        for label in runs:
            at = accuracy_at_hours(runs[label], float(hours))
            cells.append("-" if at is None else f"{at:.4f}")
        print(f"  {hours:>6.2f}  " + "  ".join(f"{c:>12}" for c in cells))


def per_round(records: list[dict]) -> None:
    print("\nper round (mean over seeds): labels -> annotator-hours, test accuracy")
    for label, runs in runs_by_strategy(records).items():
        mean = np.mean(runs, axis=0)
        print(f"  {label:<12} " + "  ".join(f"{n:.0f}: {h:.2f} h {a:.4f}"
                                             for n, h, a in mean))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/fashion_mnist.yaml"))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2, 3),
                        help="simulate processes at once")
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--max-steps", type=int, default=800)
    parser.add_argument("--spread", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/annotation-cost"))
    parser.add_argument("--analyse-only", action="store_true",
                        help="read the results a run left in --out; run nothing")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    class_names = yaml.safe_load(Path(args.config).read_text())["classes"]
    print(f"cost profile: {', '.join(SLOW)} {SLOW_SECONDS:g} s a label; {', '.join(FAST)} "
          f"{FAST_SECONDS:g} s; the others {DEFAULT_SECONDS:g} s; lognormal spread "
          f"{args.spread:g}")
    print(f"{args.initial} -> {args.budget} labels in batches of {args.batch}, "
          f"{args.seeds} seed(s), training capped at 10 epochs / {args.max_steps} steps, "
          f"{args.threads} torch thread(s)")
    with ThreadPoolExecutor(args.jobs) as pool:
        found = list(pool.map(lambda label: simulate(args, label), RUNS))
    records = [r for _, recs, _ in found for r in recs]
    summary = hours_summary(records)
    assert summary is not None, "the records have no annotator_hours"
    print()
    print(format_hours(*summary))
    print("\nlabels of the 12 s classes | of the 3 s classes | mean seconds per label | wall")
    for label, _, wall in found:
        slow, fast, seconds = label_mix(args.out / label, class_names)
        print(f"  {label:<12} {slow:>6.1%} | {fast:>6.1%} | {seconds:5.2f} s | "
              f"{wall / 60:.1f} min")
    per_round(records)
    equal_hours(records)


if __name__ == "__main__":
    main()
