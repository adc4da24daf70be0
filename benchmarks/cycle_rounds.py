"""Full `activelearn cycle` rounds against a real Label Studio server, labelled by the bot.

    .venv/bin/python benchmarks/cycle_rounds.py [--rounds 3] [--limit 10000] [--batch 200]

Starts a server of its own (scripts/label_studio.sh; needs .venv-ls), writes a project
file for a stratified Fashion-MNIST subset, then runs `activelearn cycle` (bootstrap:
holdout + initial batch) and `rounds` times `activelearn bot` + `activelearn cycle`, all
as the commands a user runs. Prints the wall time of every command and the holdout
accuracy per round, then checks the issue-3 target: the holdout accuracy rises, the
number of tasks in Label Studio equals the number of distinct items pushed, and every
bot annotation is in state.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.annotation.label_studio.local_server import running_label_studio
from activelearn.config import FASHION_MNIST_CLASSES
from activelearn.state import Store

ROOT = Path(__file__).resolve().parent.parent


def project_file(folder: Path, args: argparse.Namespace) -> Path:
    raw = {
        "project": {"name": "bench-cycle", "work_dir": str(folder / "work"), "seed": 0},
        "data": {"source": "fashion-mnist", "root": str(ROOT / "data"), "limit": args.limit,
                 "test_limit": args.test_limit},
        "classes": FASHION_MNIST_CLASSES,
        "training": {"hflip": True, "threads": args.threads},
        "loop": {"initial": args.batch, "batch": args.batch, "budget": 100_000,
                 "min_new_labels": args.batch // 2, "min_queued": args.batch // 2},
        "label_studio": {"holdout": args.holdout},
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def command(*argv: str, env: dict[str, str]) -> tuple[float, str]:
    """Run an activelearn command; returns its wall time and output (fails loudly)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "activelearn.cli", *argv], env=env,
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"activelearn {' '.join(argv)} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    return wall, done.stdout


def run(url: str, token: str, folder: Path, args: argparse.Namespace) -> None:
    path = project_file(folder, args)
    env = dict(os.environ, ACTIVELEARN_LS_URL=url, LABEL_STUDIO_API_KEY=token)
    wall, out = command("cycle", "--config", str(path), "--no-progress", env=env)
    print(f"cycle (bootstrap): {wall:.1f} s", flush=True)
    bot_annotations = 0
    for _ in range(args.rounds):
        wall, out = command("bot", "--config", str(path), "--noise", str(args.noise), env=env)
        bot_annotations += sum(int(line.split("annotated ")[1].split()[0])
                               for line in out.splitlines() if "annotated " in line)
        print(f"bot: {wall:.1f} s: {out.strip()}", flush=True)
        wall, out = command("cycle", "--config", str(path), "--no-progress", env=env)
        print(f"cycle: {wall:.1f} s", flush=True)
        print("  " + "\n  ".join(out.strip().splitlines()), flush=True)
    report(url, token, folder, bot_annotations)


def report(url: str, token: str, folder: Path, bot_annotations: int) -> None:
    with Store.open(folder / "work" / "state.sqlite") as store:
        holdout = store.metrics.of_split("holdout")
        accuracy = [round(holdout[r]["accuracy"], 4) for r in sorted(holdout)]
        project_id = int(store.meta.get("label_studio_project_id") or 0)
        pushed, in_state = len(store.batches.batched_ids()), store.annotations.count()
        recorded = len(store.tasks.by_item(include_deleted=True))
    in_ls = LabelStudioBackend.connect(url, token).tasks.count(project_id)
    print(f"holdout accuracy per trained round: {accuracy}")
    print(f"distinct items pushed {pushed}, tasks recorded {recorded}, tasks in Label Studio "
          f"{in_ls}; bot annotations {bot_annotations}, annotations in state {in_state}")
    ok = accuracy == sorted(accuracy) and accuracy[-1] > accuracy[0] \
        and pushed == recorded == in_ls and bot_annotations == in_state
    print("target met" if ok else "TARGET NOT MET")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10_000, help="pool items")
    parser.add_argument("--test-limit", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=200, help="initial and per-round batch")
    parser.add_argument("--holdout", type=int, default=300)
    parser.add_argument("--noise", type=float, default=0.0, help="bot label noise rate")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cycle-bench-") as tmp, \
            running_label_studio(Path(tmp) / "ls") as server:
        run(server.url, server.token, Path(tmp), args)


if __name__ == "__main__":
    main()
