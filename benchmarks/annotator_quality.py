"""Do agreement, gold accuracy and kappa separate a good annotator from a poor one?
(issue 6 target: 2 bot annotators of 95% and 70% accuracy, "separate them clearly").

    .venv/bin/python benchmarks/annotator_quality.py [--rounds 2] [--batch 200]

Starts a Label Studio server of its own (scripts/label_studio.sh; needs .venv-ls),
writes a project on a Fashion-MNIST subset with overlap 2 on every task (so both
annotators label the same items) and a gold file of trusted labels mixed into the query
batches, then runs `activelearn cycle` (bootstrap) and `rounds` times `activelearn bot
--accuracy 0.95 --accuracy 0.7` + `activelearn cycle`, and finally `activelearn
status --json` and `activelearn report`, all as the commands a user runs. Prints each
annotator's agreement with the other, gold accuracy, agreement with the model's
suggestions, the pairwise Cohen's kappa and Fleiss' kappa as status and the report show
them, and whether the gap is clear: gold accuracy differs by at least GAP and by more
than twice the standard error of the difference. It also shows whether each
annotator's gold accuracy lies in the binomial 95% interval around its true accuracy
(one in twenty lies outside by chance) and the ratio of their agreement with the model.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import yaml
from cycle_rounds import command  # the same runner (benchmarks/ is on sys.path as a script)

from activelearn.annotation.label_studio.local_server import running_label_studio
from activelearn.config import FASHION_MNIST_CLASSES, DataConfig
from activelearn.data.sources import load_source

ROOT = Path(__file__).resolve().parent.parent
ACCURACIES = (0.95, 0.70)
GAP = 0.15  # the least gap in gold accuracy and in agreement that counts as "clearly"


def gold_file(folder: Path, args: argparse.Namespace) -> Path:
    """Trusted labels for `gold` pool items (every 13th training image)."""
    pool = load_source(DataConfig(source="fashion-mnist", root=str(ROOT / "data"),
                                  limit=args.limit, test_limit=args.test_limit),
                       list(FASHION_MNIST_CLASSES))
    train = [i for i, test in zip(pool.item_ids, pool.is_test.tolist()) if not test]
    truth = dict(zip(pool.item_ids, pool.labels.tolist()))
    path = folder / "gold.csv"
    path.write_text("item_id,label\n" + "".join(
        f"{i},{FASHION_MNIST_CLASSES[truth[i]]}\n" for i in train[::13][:args.gold]))
    return path


def project_file(folder: Path, args: argparse.Namespace) -> Path:
    raw = {
        "project": {"name": "bench-quality", "work_dir": str(folder / "work"), "seed": 0},
        "data": {"source": "fashion-mnist", "root": str(ROOT / "data"), "limit": args.limit,
                 "test_limit": args.test_limit},
        "classes": FASHION_MNIST_CLASSES,
        "training": {"epochs": 2, "threads": args.threads},
        "loop": {"initial": args.batch, "batch": args.batch, "budget": 100_000,
                 "min_new_labels": args.batch // 2, "min_queued": args.batch // 2},
        "label_studio": {"holdout": args.holdout, "overlap": 2, "overlap_fraction": 1.0,
                         "holdout_overlap": 2},
        "quality": {"gold_file": str(gold_file(folder, args)), "gold_rate": args.gold_rate},
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(url: str, token: str, folder: Path, args: argparse.Namespace) -> bool:
    path = project_file(folder, args)
    env = dict(os.environ, ACTIVELEARN_LS_URL=url, LABEL_STUDIO_API_KEY=token)
    wall, _ = command("cycle", "--config", str(path), "--no-progress", env=env)
    print(f"cycle (bootstrap): {wall:.1f} s", flush=True)
    bot = ["bot", "--config", str(path)] + [f"--accuracy={a}" for a in ACCURACIES]
    for _ in range(args.rounds):
        wall, out = command(*bot, env=env)
        print(f"bot: {wall:.1f} s\n  " + "\n  ".join(out.strip().splitlines()), flush=True)
        wall, out = command("cycle", "--config", str(path), "--no-progress", env=env)
        print(f"cycle: {wall:.1f} s\n  " + "\n  ".join(out.strip().splitlines()), flush=True)
    _, out = command("status", "--config", str(path), "--json", env=env)
    agreement = json.loads(out)["agreement"]
    command("report", "--config", str(path), "--out", str(folder / "report"), env=env)
    return verdict(agreement, folder / "report")


def verdict(agreement: dict, report_dir: Path) -> bool:
    """Print the numbers (status --json and the report's agreement.csv) and judge the gap."""
    people = agreement["annotators"]
    if len(people) != 2:
        raise SystemExit(f"expected 2 annotators, status shows {len(people)}: {people}")
    # bot-1 was created first, so it has the lower Label Studio user id
    people.sort(key=lambda p: int(p["annotator"]))
    for person, accuracy in zip(people, ACCURACIES):
        print(f"annotator {person['annotator']} (bot accuracy {accuracy:.2f}): "
              f"{person['annotations']} annotations, agreement with the other "
              f"{person['agreement']:.3f} on {person['compared']} votes, gold accuracy "
              f"{person['gold_accuracy']:.3f} on {person['gold_items']} gold items, "
              f"agreement with the model {person['model_agreement']:.3f} on "
              f"{person['model_items']} suggestions")
    for pair in agreement["pairwise_kappa"]:
        print(f"Cohen's kappa {' / '.join(pair['annotators'])}: {pair['kappa']:.3f} on "
              f"{pair['items']} items (observed agreement {pair['observed']:.3f})")
    fleiss = agreement["fleiss_kappa"]
    if fleiss:
        print(f"Fleiss' kappa: {fleiss['kappa']:.3f} ({fleiss['raters']} raters, "
              f"{fleiss['items']} items)")
    with open(report_dir / "agreement.csv", newline="") as f:
        print(f"report agreement.csv: {list(csv.DictReader(f))}")
    good, poor = people
    gold_gap = good["gold_accuracy"] - poor["gold_accuracy"]
    error = math.sqrt(sum(p["gold_accuracy"] * (1 - p["gold_accuracy"]) / max(p["gold_items"], 1)
                          for p in people))
    ok = gold_gap >= GAP and gold_gap > 2 * error
    for person, accuracy in zip(people, ACCURACIES):
        n = person["gold_items"]
        half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / max(n, 1))
        inside = abs(person["gold_accuracy"] - accuracy) <= half
        print(f"  gold accuracy {person['gold_accuracy']:.3f} vs true {accuracy:.2f} "
              f"(95% interval +-{half:.3f} on {n} items): {'inside' if inside else 'outside'}")
    # with two annotators each one's agreement is the same number (their pairwise
    # agreement): it shows that something is wrong, not who; gold accuracy says who
    print(f"gold accuracy gap {gold_gap:.3f} +- {error:.3f} (standard error; needs >= {GAP} "
          f"and > 2 standard errors); agreement {good['agreement']:.3f} / "
          f"{poor['agreement']:.3f} (expected about {ACCURACIES[0] * ACCURACIES[1]:.3f} for "
          "two independent annotators)")
    # the model is a third opinion: agreeing with it is about accuracy x the model's own
    # accuracy on those items, so the ratio, not the gap, estimates accuracy_1 / accuracy_2
    model_ratio = good["model_agreement"] / max(poor["model_agreement"], 1e-9)
    print(f"agreement with the model {good['model_agreement']:.3f} / "
          f"{poor['model_agreement']:.3f}: ratio {model_ratio:.2f} (true accuracy ratio "
          f"{ACCURACIES[0] / ACCURACIES[1]:.2f})")
    print("separated clearly" if ok else "NOT SEPARATED CLEARLY")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=3_000, help="pool items")
    parser.add_argument("--test-limit", type=int, default=500)
    parser.add_argument("--batch", type=int, default=200, help="initial and per-round batch")
    parser.add_argument("--holdout", type=int, default=100)
    parser.add_argument("--gold", type=int, default=150, help="items in the gold file")
    parser.add_argument("--gold-rate", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as tmp, \
            running_label_studio(Path(tmp) / "ls") as server:
        ok = run(server.url, server.token, Path(tmp), args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
