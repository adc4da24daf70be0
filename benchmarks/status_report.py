"""How fast `activelearn status` and `activelearn report` answer on a large project.

    .venv/bin/python benchmarks/status_report.py [--work DIR] [--repeat 3]

Builds a synthetic state through the Store's own methods (not timed, ~10-20 s): 100,000
items, 50 rounds (a bootstrap round with a 1,000-item holdout and a 500-item initial
batch, then 49 train rounds of 500 queried items with suggestions), tasks for every
batched item, holdout and test metrics per round, annotations from 3 annotators over 50
days (every item by one, 10% by two or three, with disagreements and ties), relabels
(label history), phases and one failed phase. Then times, as subprocesses (what a user
waits for, interpreter start included) and in-process (the work alone):
`activelearn status --json` and `activelearn report`.
Targets (issue 5): status <= 1 s, report <= 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import yaml

from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.kinds import BatchKind, RoundStatus, Split
from activelearn.learn.metrics import compute_metrics
from activelearn.project import Project
from activelearn.state import AnnotationRow, Store

ITEMS, ROUNDS, HOLDOUT, INITIAL, BATCH, TEST = 100_000, 50, 1_000, 500, 500, 10_000
ANNOTATORS = ["ann-1@example.org", "ann-2@example.org", "ann-3@example.org"]
CLASSES = len(FASHION_MNIST_CLASSES)
START = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)


def build_state(path: Path, seed: int = 0) -> dict[str, int]:
    """Write the synthetic project into path; returns what it holds."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, CLASSES, ITEMS)
    store = Store(path)
    ids = [f"fmnist-{i:06d}" for i in range(ITEMS)]
    splits = np.array([Split.TRAIN.value] * ITEMS, dtype=object)
    splits[-TEST:] = Split.TEST.value
    store.items.add((item_id, i, None, str(splits[i])) for i, item_id in enumerate(ids))
    order = rng.permutation(ITEMS - TEST)  # the pool, in the order it gets selected
    counter = {"annotation": 0, "task": 0}
    task_of: dict[int, int] = {}  # pool position -> its Label Studio task id
    pulled: list[int] = []  # pool positions whose tasks were annotated
    for round_ in range(ROUNDS):
        store.rounds.start(round_)
        store.rounds.record_phase(round_, "pull", "started")
        if round_:  # annotations for the tasks pushed last round, and a few relabels
            fresh = _batch_positions(order, round_ - 1)
            relabel = rng.choice(pulled, size=50, replace=False) if pulled else []
            _pull(store, rng, round_, ids, truth, list(fresh), list(relabel), counter, task_of)
            pulled.extend(fresh)
        store.rounds.record_phase(round_, "pull", "done")
        if round_:
            _train_round(store, rng, round_, truth)
        batches = _batches(round_, order)
        for kind, positions in batches:
            items = [(ids[p], float(rng.random())) for p in positions]
            suggestions = [(ids[p], int(rng.integers(CLASSES)), float(rng.random()))
                           for p in positions] if kind is BatchKind.QUERY else None
            move = Split.HOLDOUT if kind is BatchKind.HOLDOUT else None
            batch_id = store.batches.add(round_, kind, "margin" if round_ else "random", 0,
                                       f"fm-r{round_ - 1}" if round_ else None, items,
                                         suggestions, move)
            for p in positions:
                task_of[int(p)] = counter["task"] = counter["task"] + 1
            tasks = {ids[p]: task_of[int(p)] for p in positions}
            store.tasks.record(batch_id, round_, tasks)
        store.rounds.record_phase(round_, "push", "done")
        version = f"fm-r{round_}" if round_ else None
        store.rounds.finish(round_, version, len(store.labels.current(Split.TRAIN.value)),
                            RoundStatus.DONE)
    store.rounds.start(ROUNDS)
    store.rounds.record_phase(ROUNDS, "train", "failed", "CUDA out of memory (synthetic)")
    store.rounds.fail(ROUNDS, "train: CUDA out of memory (synthetic)")
    found = {"items": store.items.count(), "train_labels": len(store.labels.current("train")),
             "holdout_labels": len(store.labels.current("holdout")),
             "annotations": len(store.annotations.events()), "rounds": ROUNDS + 1}
    store.close()
    return found


def _batch_positions(order: np.ndarray, round_: int) -> np.ndarray:
    """Pool positions pushed in a round: holdout + initial in round 0, then a batch."""
    if round_ == 0:
        return order[:HOLDOUT + INITIAL]
    start = HOLDOUT + INITIAL + (round_ - 1) * BATCH
    return order[start:start + BATCH]


def _batches(round_: int, order: np.ndarray) -> list[tuple[BatchKind, np.ndarray]]:
    if round_ == 0:
        return [(BatchKind.HOLDOUT, order[:HOLDOUT]),
                (BatchKind.INITIAL, order[HOLDOUT:HOLDOUT + INITIAL])]
    if round_ == ROUNDS - 1:
        return []  # the budget is reached: the last round only trains
    return [(BatchKind.QUERY, _batch_positions(order, round_))]


def _pull(store: Store, rng: np.random.Generator, round_: int, ids: list[str],
          truth: np.ndarray, fresh: list[int], relabel: list[int],
          counter: dict[str, int], task_of: dict[int, int]) -> None:
    """One pull: each fresh item annotated by one annotator (10% by 2-3); the relabelled
    items' tasks come back with one changed annotation."""
    day = START + timedelta(days=round_ - 1)
    rows, seen = [], {}
    again = {int(p) for p in relabel}
    for p in [int(p) for p in fresh] + sorted(again):
        seen[task_of[p]] = ids[p]
        extra = 0 if p in again or rng.random() > 0.1 else int(rng.integers(1, 3))
        for who in rng.choice(len(ANNOTATORS), size=1 + extra, replace=False):
            label = int(truth[p]) if rng.random() > 0.12 else int(rng.integers(CLASSES))
            if p in again:
                label = int((truth[p] + 1) % CLASSES)
            counter["annotation"] += 1
            when = day + timedelta(seconds=float(rng.uniform(0, 8 * 3600)))
            rows.append(AnnotationRow(counter["annotation"], task_of[p], ids[p], label,
                                      ANNOTATORS[who], float(rng.gamma(2.0, 6.0)),
                                      when.isoformat().replace("+00:00", "Z")))
    store.annotations.apply_pull(round_, seen, rows, [], "pull_cursor", day.isoformat())


def _train_round(store: Store, rng: np.random.Generator, round_: int,
                 truth: np.ndarray) -> None:
    version = f"fm-r{round_}"
    for phase in ("train", "evaluate", "select"):
        store.rounds.record_phase(round_, phase, "started")
        store.rounds.record_phase(round_, phase, "done")
    accuracy = 0.70 + 0.2 * (1 - np.exp(-round_ / 12))
    for split, n in (("holdout", HOLDOUT), ("test", TEST)):
        y = truth[:n]
        wrong = rng.random(n) > accuracy
        pred = np.where(wrong, rng.integers(0, CLASSES, n), y)
        store.metrics.record(round_, split, version,
                             {**compute_metrics(y, pred, CLASSES).to_dict(), "items": n})


# ------------------------------------------------------------------------------ timing


def _cli(config: Path, *args: str) -> float:
    exe = Path(sys.executable).with_name("activelearn")
    start = time.perf_counter()
    done = subprocess.run([str(exe), *args, "--config", str(config)], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"activelearn {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip()}")
    return seconds


def _in_process(config: Path, command: str) -> float:
    cfg = load_config(config)
    start = time.perf_counter()
    if command == "report":
        from activelearn.reporting.report import write_report

        write_report(cfg.work_dir / "report-inproc", cfg.project.name, cfg.classes,
                     cfg.work_dir / "state.sqlite", None)
    else:
        from activelearn.reporting.status import project_status

        project_status(Project(cfg))
    return time.perf_counter() - start


def _line(name: str, times: list[float], target: float) -> str:
    best, median = min(times), statistics.median(times)
    verdict = "ok" if median <= target else "MISSED"
    return (f"{name:<44} median {median:6.2f} s  best {best:6.2f} s  "
            f"(target {target:g} s: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="project work dir [default: a temp dir]")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="al-status-report-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "project.yaml"
    config.write_text(yaml.safe_dump({
        "project": {"name": "bench", "work_dir": str(work / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES)}))
    state = work / "work" / "state.sqlite"
    if not state.exists():
        start = time.perf_counter()
        found = build_state(state)
        print(f"built {state} in {time.perf_counter() - start:.1f} s: {found}, "
              f"{state.stat().st_size / 1e6:.0f} MB")
    help_text = subprocess.run([str(Path(sys.executable).with_name("activelearn")), "status",
                                "--help"], capture_output=True, text=True).stdout
    status_args = ("status", "--json") if "--json" in help_text else ("status",)
    runs = {
        f"activelearn {' '.join(status_args)} (subprocess)":
            ([_cli(config, *status_args) for _ in range(args.repeat)], 1.0),
        "activelearn report (subprocess)":
            ([_cli(config, "report") for _ in range(args.repeat)], 10.0),
        "status: project_status() in-process":
            ([_in_process(config, "status") for _ in range(args.repeat)], 1.0),
        "report: write_report() in-process":
            ([_in_process(config, "report") for _ in range(args.repeat)], 10.0),
    }
    for name, (times, target) in runs.items():
        print(_line(name, times, target))


if __name__ == "__main__":
    main()
