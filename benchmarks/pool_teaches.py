"""The pool teaches the model (issue 26): pipelines side by side on Fashion-MNIST.

    .venv/bin/python benchmarks/pool_teaches.py [--seeds 3] [--pipelines scratch,head,...]
        [--strategies random,margin] [--budgets 100,250,500,1000,2000,4000]
        [--out /tmp/pool-teaches] [--config configs/fashion_mnist.yaml] [--jobs 1]

Pipelines (each a copy of the config with these keys changed):

- scratch: the network from random weights (the default recipe);
- head: the pool's own self-supervised weights (model.weights: pool), frozen; each round
  trains a head on the cached embeddings;
- finetune: the whole network starting from those weights;
- each with "+semi": training.semi_supervised.enabled (FixMatch rounds).

Pretraining runs once, inside the first run that names model.weights: pool (simulate
pretrains on its train split, the result kept in the shared work dir's artifact store),
and its time is reported apart from the rounds (from the result's provenance); every
later run reuses it. Every run is `activelearn simulate` as a user runs it, one process per
(pipeline, strategy) with all seeds in it (same splits and same initial labels for every
pipeline and strategy of a seed). The table: test accuracy (mean ± standard deviation
over seeds) at each label count, labels to 90.0% test accuracy, and seconds per round.
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

from activelearn.reporting.results import curves, labels_to_reach

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90
PIPELINES = {
    "scratch": {},
    "head": {"model": {"weights": "pool", "train": "head"}},
    "finetune": {"model": {"weights": "pool", "train": "finetune"}},
}
SEMI = {"training": {"semi_supervised": {"enabled": True}}}


def pipeline_keys(name: str) -> dict:
    """The config keys a pipeline name ("finetune+semi") sets."""
    base, _, semi = name.partition("+")
    if base not in PIPELINES or semi not in ("", "semi"):
        sys.exit(f"--pipelines: unknown pipeline {name!r} (known: "
                 f"{', '.join(PIPELINES)}, each optionally with +semi)")
    return merge(PIPELINES[base], SEMI if semi else {})


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def project(args: argparse.Namespace, name: str, keys: dict, alone: bool = False) -> Path:
    """A copy of the config: the shared work dir (one pretraining for all), the
    label schedule, the thread count, and the pipeline's keys."""
    raw = yaml.safe_load(Path(args.config).read_text())
    raw["project"]["work_dir"] = str(args.out / "work")
    raw["data"]["root"] = str((ROOT / raw["data"].get("root", "data")).resolve())
    budgets = sorted(args.budgets)
    raw = merge(raw, {"loop": {"initial": budgets[0], "budget": budgets[-1],
                               "schedule": budgets},
                      "training": {"threads": args.threads or
                                   (1 if args.jobs > 1 and not alone else 2)}})
    if args.pretrain_epochs:
        raw = merge(raw, {"pretrain": {"epochs": args.pretrain_epochs}})
    raw = merge(raw, keys)
    path = args.out / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def run(cmd: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def pretrained(args: argparse.Namespace) -> dict:
    """The provenance of the pretraining the runs shared (empty when none ran)."""
    found = sorted((args.out / "work" / "pretrained").glob("*.json"))
    return json.loads(found[-1].read_text()) if found else {}


def simulate(args: argparse.Namespace, pipeline: str, strategy: str,
             alone: bool = False) -> list[dict]:
    label = f"{pipeline}/{strategy}"
    out = args.out / pipeline.replace("+", "_") / strategy
    if not args.analyse_only:
        config = project(args, f"{pipeline.replace('+', '_')}-{strategy}",
                         pipeline_keys(pipeline), alone)
        out.parent.mkdir(parents=True, exist_ok=True)
        run([str(ROOT / ".venv/bin/activelearn"), "simulate", "--config", str(config),
             "--strategy", strategy, "--no-baseline", "--seeds", str(args.seeds),
             "--no-progress", "--out", str(out)], out.parent / f"{strategy}.log")
    records = json.loads((out / "rounds.json").read_text())
    for record in records:
        record["strategy"] = label
    return records


def table(found: dict[str, list[dict]], budgets: list[int]) -> str:
    head = "| pipeline / strategy | " + " | ".join(f"{b:,}" for b in budgets) + \
        " | labels to 90% | s per round |"
    lines = [head, "|" + "---|" * (len(budgets) + 3)]
    for label, records in found.items():
        (curve,) = curves(records).values()
        cells = []
        for b in budgets:
            at = np.flatnonzero(curve.labels == b)
            if len(at):
                values = curve.values[at[0]]
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
            else:
                cells.append("–")
        reach = [labels_to_reach(curve.labels, curve.values[:, k], TARGET)
                 for k in range(curve.values.shape[1])]
        got = [r for r in reach if r is not None]
        to_90 = f"{np.mean(got):,.0f}" + ("" if len(got) == len(reach) else
                                          f" ({len(got)} of {len(reach)} seeds)") \
            if got else f"> {max(budgets):,}"
        per_round = np.mean([float(r.get("train_s") or 0) + float(r.get("score_s") or 0)
                             + float(r.get("select_s") or 0) for r in records])
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {to_90} | {per_round:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/fashion_mnist.yaml"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pipelines", default="scratch,head,head+semi,finetune,finetune+semi")
    parser.add_argument("--strategies", default="random,margin")
    parser.add_argument("--budgets", default="100,250,500,1000,2000,4000")
    parser.add_argument("--pretrain-epochs", type=int, default=0,
                        help="pretrain.epochs (default: the config's)")
    parser.add_argument("--jobs", type=int, default=1, help="simulate processes at once")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pool-teaches"))
    parser.add_argument("--analyse-only", action="store_true",
                        help="only read the runs already in --out")
    args = parser.parse_args()
    args.budgets = [int(b) for b in args.budgets.split(",")]
    args.out = args.out.resolve()
    pipelines = args.pipelines.split(",")
    runs = [(p, s) for p in pipelines for s in args.strategies.split(",")]
    found = {}
    first = next((r for r in runs if not r[0].startswith("scratch")), None)
    if first is not None:  # alone: it pretrains, the others reuse the result
        found[f"{first[0]}/{first[1]}"] = simulate(args, *first, alone=True)
    rest = [r for r in runs if r != first]
    with ThreadPoolExecutor(args.jobs) as pool:
        found.update(zip([f"{p}/{s}" for p, s in rest],
                         pool.map(lambda r: simulate(args, *r), rest)))
    found = {f"{p}/{s}": found[f"{p}/{s}"] for p, s in runs}
    info = pretrained(args)
    if info:
        print("pretraining (once, apart from the rounds): "
              + json.dumps(info.get("pretrain", info))[:600])
    text = table(found, args.budgets)
    (args.out / "table.md").write_text(text + "\n")
    print(f"\ntest accuracy (mean ± sd over {args.seeds} seed(s)), {args.out}/table.md\n")
    print(text)


if __name__ == "__main__":
    main()
