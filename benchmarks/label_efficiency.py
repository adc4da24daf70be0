"""Label efficiency on Fashion-MNIST (issue 16): margin against random with the same
recipe, at random's 4,000-label accuracy, at 90% accuracy and at 97% of the full-data
accuracy; an imbalanced pool with and without class_balance; the learning-curve
forecast; time per strategy and seed.

    .venv/bin/python benchmarks/label_efficiency.py [--parts balanced,long,imbalanced]
        [--seeds 3] [--jobs 1] [--out /tmp/label-efficiency] [--config configs/fashion_mnist.yaml]

Every run is `activelearn simulate` as a user runs it, one process per strategy (all
seeds in it, so the splits and each seed's initial labels are the same for every
strategy); --jobs 2 runs two processes at once with one torch thread each (accuracy
figures as with --jobs 1; times then are those of one thread beside a neighbour, an
upper bound). Parts:

- balanced: 500 -> 4,000 labels in batches of 500; efficiency at random's final mean
  accuracy (random's labels / margin's, interpolated, per seed and of the means),
  labels to 90.0% test accuracy, seconds per strategy and seed.
- long: a geometric schedule (--batch-growth 2: 500, 1k, 2k, ... --long-budget) to reach
  97% of the full-data accuracy (the same recipe on every training label, measured once
  and cached by simulate); labels to that target and efficiency, also of margin in
  batches of 500 (the balanced part's runs, when in --out): random's labels do not depend
  on its batch sizes, margin's do (a batch of 4,000 picked by one model is redundant).
- imbalanced: the pool's classes subsampled geometrically from 6,000 to 300 (simulate
  --imbalance 20; the test set stays balanced); random, margin and margin with
  strategy.class_balance: macro-F1 efficiency against random, worst-class recall per round.
- forecast (from balanced): per strategy and seed, the power law fitted on the rounds up
  to 2,000 labels forecasts the labels to reach random's final mean accuracy; compared
  with what the run then needed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from activelearn.quality.forecast import fit_curve
from activelearn.reporting.results import curves, labels_to_reach

ROOT = Path(__file__).resolve().parent.parent
BALANCED_TARGET = 0.90
FORECAST_UP_TO = 2000


def project(args: argparse.Namespace, part: str, name: str, threads: int,
            **strategy: object) -> Path:
    """A copy of the config with its own work dir, thread count and strategy keys."""
    raw = yaml.safe_load(Path(args.config).read_text())
    raw["project"]["work_dir"] = str(args.out / part / "work")
    raw["data"]["root"] = str((ROOT / raw["data"].get("root", "data")).resolve())
    raw.setdefault("training", {})["threads"] = threads
    raw.setdefault("strategy", {}).update(strategy)
    path = args.out / part / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def simulate(config: Path, strategy: str, out: Path, seeds: int, extra: list[str]) -> float:
    """One `activelearn simulate` process; returns its wall seconds."""
    cmd = [str(ROOT / ".venv/bin/activelearn"), "simulate", "--config", str(config),
           "--strategy", strategy, "--no-baseline", "--seeds", str(seeds), "--no-progress",
           "--out", str(out), *extra]
    start = time.perf_counter()
    with (out.parent / f"{out.name}.log").open("w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}); see {out}.log")
    return time.perf_counter() - start


def run_part(args: argparse.Namespace, part: str, runs: list[tuple[str, str, dict]],
             extra: list[str]) -> dict[str, tuple[list[dict], float]]:
    """runs: (label, strategy, strategy keys). Returns label -> (records, wall seconds)."""
    threads = args.threads or (1 if args.jobs > 1 else 2)

    def one(run: tuple[str, str, dict]) -> tuple[str, list[dict], float]:
        label, strategy, keys = run
        keys = dict(keys)
        target = [keys.pop("target"), "0.97"] if "target" in keys else []
        config = project(args, part, label, threads, **keys)
        out = args.out / part / label
        seconds = float("nan") if args.analyse_only else \
            simulate(config, strategy, out, args.seeds, extra + target)
        records = json.loads((out / "rounds.json").read_text())
        for record in records:
            record["strategy"] = label
        return label, records, seconds

    with ThreadPoolExecutor(args.jobs) as pool:
        found = list(pool.map(one, runs))
    return {label: (records, seconds) for label, records, seconds in found}


Series = dict[int, tuple[np.ndarray, np.ndarray]]


def per_seed(records: list[dict], metric: str = "accuracy") -> Series:
    """seed -> (labels, metric) ascending by labels, at the label counts every seed of
    the run reached (results.curves' one curve of these records)."""
    (curve,) = curves(records, metric).values()
    seeds = dict.fromkeys(r["seed"] for r in records)
    return {s: (curve.labels, curve.values[:, k]) for k, s in enumerate(seeds)}


def mean_curve(records: list[dict], metric: str = "accuracy") -> tuple[np.ndarray, np.ndarray]:
    (curve,) = curves(records, metric).values()
    return curve.labels, curve.mean


def spread(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "not reached"
    text = f"{np.mean(got):.0f} ± {np.std(got, ddof=1) if len(got) > 1 else 0:.0f}"
    return text + ("" if len(got) == len(values) else f" ({len(got)} of {len(values)} seeds)")


def seconds_per_seed(records: list[dict]) -> list[float]:
    """Seconds each seed's run spent in its rounds (train, eval, score, select)."""
    total: dict[int, float] = {}
    for r in records:
        total[r["seed"]] = total.get(r["seed"], 0.0) + sum(
            float(r.get(k) or 0) for k in ("train_s", "eval_s", "score_s", "select_s"))
    return list(total.values())


def efficiency_table(found: dict[str, tuple[list[dict], float]], target: float,
                     metric: str, title: str) -> None:
    """Labels to reach target: on the mean curve over seeds (the efficiency is random's
    / the strategy's, as simulate's summary) and per seed (paired ratios where both
    runs of a seed reach it)."""
    print(f"\n{title}: target {metric} {target:.4f}")
    base_curve = labels_to_reach(*mean_curve(found["random"][0], metric), target)
    base = {s: labels_to_reach(x, y, target) for s, (x, y) in
            per_seed(found["random"][0], metric).items()}
    for label, (records, _) in found.items():
        on_mean = labels_to_reach(*mean_curve(records, metric), target)
        need = {s: labels_to_reach(x, y, target) for s, (x, y) in
                per_seed(records, metric).items()}
        paired = [base[s] / need[s] for s in need if need[s] and base.get(s)]
        ratio = f"{base_curve / on_mean:.2f}x" if on_mean and base_curve else "-"
        pair = (f"{np.mean(paired):.2f}x ± {np.std(paired, ddof=1):.2f} ({len(paired)} seeds)"
                if len(paired) > 1 else "-")
        shown = "not reached" if on_mean is None else f"{on_mean:.0f}"
        print(f"  {label:<16} mean curve {shown:>11} labels, efficiency {ratio:>6}; per seed "
              f"{[None if v is None else round(v) for v in need.values()]} "
              f"({spread(list(need.values()))}); paired {pair}")


def final_table(found: dict[str, tuple[list[dict], float]], seeds: int) -> None:
    for label, (records, wall) in found.items():
        labels, acc = mean_curve(records)
        _, f1 = mean_curve(records, "macro_f1")
        finals = [v[-1] for _, v in per_seed(records).values()]
        secs = seconds_per_seed(records)
        print(f"  {label:<16} {int(labels[-1])} labels: acc {np.mean(finals):.4f} ± "
              f"{np.std(finals, ddof=1) if len(finals) > 1 else 0:.4f}, macro-F1 {f1[-1]:.4f}; "
              f"s per seed in rounds {np.mean(secs):.0f} (max {max(secs):.0f}), wall "
              f"{wall / seeds:.0f} s per seed")
        print("    mean acc per round: " + " ".join(f"{int(n)}:{a:.4f}" for n, a in
                                                   zip(labels, acc)))


def forecast(found: dict[str, tuple[list[dict], float]], target: float) -> None:
    print(f"\nforecast: fitted on rounds up to {FORECAST_UP_TO} labels, labels to reach "
          f"{target:.4f} (random's final mean accuracy)")
    for label, (records, _) in found.items():
        items = records[0].get("test_items") or 8000
        for seed, (x, y) in per_seed(records).items():
            actual = labels_to_reach(x, y, target)
            early = x <= FORECAST_UP_TO
            fit = fit_curve(x[early], y[early], [items] * int(early.sum()), seed=seed)
            guess = fit.labels_to_reach(target)
            if guess is None:
                text = "not reached by the forecast"
            else:
                text = f"{guess[0]:.0f} (band {guess[1]:.0f}-{guess[2]:.0f})"
            error = (f"{(guess[0] - actual) / actual:+.1%}" if guess and actual else "-")
            print(f"  {label:<16} seed {seed}: forecast {text}; needed "
                  f"{'not reached' if actual is None else f'{actual:.0f}'}; error {error}")


def worst_recall(found: dict[str, tuple[list[dict], float]]) -> None:
    print("\nworst-class recall per round (mean over seeds)")
    for label, (records, _) in found.items():
        labels, worst = mean_curve(records, "worst_recall")
        print(f"  {label:<16} " + " ".join(f"{int(n)}:{w:.3f}" for n, w in zip(labels, worst)))


def rare_classes(args: argparse.Namespace, found: dict[str, tuple[list[dict], float]],
                 rare: tuple[int, ...] = (7, 8, 9)) -> None:
    """The rarest classes' test recall and train labels at the last round, mean over
    seeds (from each run's state: the metrics and the labels)."""
    from activelearn.state import Store

    print(f"\nrarest classes {rare} at the last round (mean over seeds): test recall | "
          "train labels")
    for label in found:
        recall, labels = [], []
        for run in sorted((args.out / "imbalanced" / label / "runs").iterdir()):
            with Store.open(run / "state.sqlite") as store:
                test = store.metrics.of_split("test")
                recall.append([test[max(test)]["recall"][c] for c in rare])
                got = np.bincount(list(store.labels.current("train").values()), minlength=10)
                labels.append([got[c] for c in rare])
        print(f"  {label:<16} recall {np.round(np.mean(recall, axis=0), 3).tolist()} | labels "
              f"{np.round(np.mean(labels, axis=0)).astype(int).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/fashion_mnist.yaml"))
    parser.add_argument("--parts", default="balanced,long,imbalanced")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per process (default: 2, or 1 with --jobs 2+)")
    parser.add_argument("--long-budget", type=int, default=24000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/label-efficiency"))
    parser.add_argument("--analyse-only", action="store_true",
                        help="read the results a run left in --out; run nothing")
    args = parser.parse_args()
    args.out = args.out.resolve()
    parts = args.parts.split(",")
    if "balanced" in parts:
        found = run_part(args, "balanced", [("random", "random", {}), ("margin", "margin", {})],
                         ["--initial", "500", "--batch", "500", "--budget", "4000"])
        print("\n== balanced pool, 500 -> 4,000 labels")
        final_table(found, args.seeds)
        base_final = mean_curve(found["random"][0])[1][-1]
        efficiency_table(found, base_final, "accuracy", "at random's final mean accuracy")
        efficiency_table(found, BALANCED_TARGET, "accuracy", "at 90.0% test accuracy")
        forecast(found, base_final)
    if "long" in parts:
        # random measures the full-data accuracy (simulate caches it) while margin runs
        extra = ["--initial", "500", "--batch-growth", "2", "--budget", str(args.long_budget)]
        found = run_part(args, "long", [("random", "random", {"target": "--target-fraction"}),
                                        ("margin", "margin", {})], extra)
        full = json.loads((args.out / "long/random/targets.json").read_text())
        fixed = args.out / "balanced/margin/rounds.json"
        if fixed.exists():  # margin in batches of 500 to 4,000 (the balanced part)
            records = json.loads(fixed.read_text())
            for record in records:
                record["strategy"] = "margin-b500"
            found["margin-b500"] = (records, float("nan"))
        print(f"\n== geometric schedule to {args.long_budget} labels; targets {full}")
        final_table(found, args.seeds)
        for target in full.get("targets", []):
            efficiency_table(found, float(target["value"]), target["metric"],
                             f"at {target.get('note') or 'the target'}")
        efficiency_table(found, BALANCED_TARGET, "accuracy", "at 90.0% test accuracy")
    if "imbalanced" in parts:
        found = run_part(args, "imbalanced", [
            ("random", "random", {}), ("margin", "margin", {}),
            ("margin+balance", "margin", {"class_balance": True})],
            ["--initial", "500", "--batch", "500", "--budget", "4000", "--imbalance", "20"])
        print("\n== imbalanced pool (6,000 -> 300 per class), 500 -> 4,000 labels")
        final_table(found, args.seeds)
        base_f1 = mean_curve(found["random"][0], "macro_f1")[1][-1]
        efficiency_table(found, base_f1, "macro_f1", "at random's final mean macro-F1")
        worst_recall(found)
        rare_classes(args, found)


if __name__ == "__main__":
    main()
