"""A pool of real-looking photo files: ingest, re-ingest, decode, clean and a simulate round.

    .venv/bin/python benchmarks/photo_pool.py [--count 20000] [--root /work/bench/photos_N]
        [--work /work/bench/photo_pool_N] [--input-size 32] [--out FILE.json]
        [--steps import,ingest,decode,clean,simulate,pretrain] [--pretrain-epochs 2]

Generates (or reuses) a synthetic imagefolder collection of --count files (JPEG/PNG of
many modes and sizes, EXIF-turned, a few corrupt: benchmarks/photo_collection.py), writes a
project file for it (data.cache: memmap, model.input_size [S, S], classes c0..c9) and times,
each as a child process `python -m activelearn.cli ...` whose peak RSS os.wait4 reports:

0. `python -c "import torch, activelearn.cli"`: the start-up every command pays (the
   CUDA build of torch alone maps about 900 MB);
1. `ingest` on a fresh work dir (lists the folder, reads the files, builds the cache);
2. `ingest` again with nothing changed;
3. `ingest` after rewriting 1% of the files (new content, size and mtime);
4. decode throughput, in this process: activelearn's decode_many (in this process, and
   in 2 workers) against a plain Pillow loop over the same 2,000 files;
5. `clean` (duplicates and leakage over the pool);
6. `simulate` for one round: train on 500 labels, score the pool, select 500, train again
   (--initial 500 --batch 500 --budget 1000, margin only, no random baseline), on the
   same project (simulate leaves the loose, unlabeled 10% out by itself);
7. `simulate` with `model.weights: pool`, `model.train: finetune` and
   `training.semi_supervised.enabled: true` on the same work dir (its catalogue and
   decoded cache): SimCLR pretraining inline on the train split (--pretrain-epochs,
   images/s and seconds from the result's provenance), then the same two rounds, each
   FixMatch with 2 unlabelled images per labelled one drawn from the rest of the train
   split (issue 26: peak RSS <= 2048 MB at 20,000 files).

--steps picks some of them (the first ingest always runs: the others need its work dir).
Prints a table (seconds; peak RSS of the largest process, from wait4; peak PSS of the
child's whole process tree, DataLoader workers included, sampled every 0.5 s) and the
targets, which hold at 200,000 files on 2 cores: unchanged re-ingest <= 10 s, peak RSS
<= 2048 MB in every step, decode_many within 2x of plain Pillow, clean <= 600 s. Writes
the figures as JSON to --out [default: WORK/results.json].
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import photo_collection as photos  # benchmarks/ is on sys.path when run as a script
import yaml

REPO = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
DECODE_SAMPLE = 2000
TARGETS = {"ingest unchanged s": 10.0, "peak RSS MB": 2048.0, "decode ratio": 2.0,
           "clean s": 600.0}
STEPS = ("import", "ingest", "decode", "clean", "simulate", "pretrain")


@dataclass
class Step:
    """One measured step: wall seconds, peak RSS (MB) of the largest process (wait4), peak
    PSS of the whole process tree (sampled every 0.5 s), exit code, log file."""

    name: str
    seconds: float
    peak_rss_mb: float | None = None
    tree_pss_mb: float | None = None
    exit_code: int = 0
    log: str = ""
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- measuring a child

def _descendants(root_pid: int) -> list[int]:
    """root_pid and every process below it (from the parent ids in /proc/*/stat)."""
    parent = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    parent[int(entry.name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [child for child, up in parent.items() if up == pid]
    return found


def _tree_pss(root_pid: int) -> int:
    """Bytes of the process tree's proportional set size: shared pages (the torch
    libraries, a forked worker's inherited memory) counted once, not once per process."""
    total = 0
    for pid in _descendants(root_pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) * 1024 for line in f
                              if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total


def _sample_tree(pid: int, done: threading.Event, peak: list[int]) -> None:
    while not done.wait(0.5):
        peak[0] = max(peak[0], _tree_pss(pid))


def cli(*args: str) -> list[str]:
    """The command line of `activelearn ARGS` in this Python."""
    return [sys.executable, "-m", "activelearn.cli", *args]


def run_step(name: str, command: list[str], logs: Path) -> Step:
    """Run one command as a child process and measure it (see Step)."""
    log = logs / f"{name.replace(' ', '_').replace('%', '')}.log"
    print(f"-- {name}: {' '.join(command[1:])}", flush=True)
    done, peak = threading.Event(), [0]
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        sampler = threading.Thread(target=_sample_tree, args=(child.pid, done, peak))
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    step = Step(name, seconds, usage.ru_maxrss / 1024, peak[0] / 2**20, child.returncode,
                str(log))
    if step.exit_code:
        tail = log.read_text().splitlines()[-15:]
        print(f"   exit {step.exit_code}; last lines of {log}:\n   " + "\n   ".join(tail))
    return step


# ---------------------------------------------------------------- the steps

def ensure_collection(root: Path, count: int, seed: int) -> dict:
    """Generate the collection, or reuse one generated before with the same count/seed."""
    manifest = photos.read_manifest(root)
    if manifest and (manifest["count"], manifest["seed"]) == (count, seed):
        print(f"reusing {root} ({count} files, seed {seed}, {manifest['mutations']} "
              "mutations before)")
        return {"reused": True, **manifest}
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root}: exists and is not a collection of {count} files "
                         f"with seed {seed}; remove it or pass another --root")
    got = photos.generate(root, count, seed)
    print(f"generated {count} files in {got['seconds']:.0f} s ({got['files_per_s']:.0f}/s), "
          f"{got['bytes'] / 2**30:.2f} GiB")
    return got


def write_config(path: Path, root: Path, source: str, work_dir: Path, input_size: int) -> None:
    """The project file: the source at root with the memmap cache, small training."""
    config = {
        "project": {"name": "photo-pool", "work_dir": str(work_dir), "seed": 0},
        "data": {"source": source, "root": str(root), "cache": "memmap"},
        "classes": photos.CLASSES,
        "model": {"name": "small_cnn", "input_size": [input_size, input_size]},
        "training": {"epochs": 2, "min_steps": 200, "batch_size": 64, "threads": 2},
        "strategy": {"name": "margin"},
        "loop": {"initial": 500, "batch": 500, "budget": 1000},
        "splits": {"test_fraction": 0.2, "validation_fraction": 0.2},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def write_pretrain_config(path: Path, base: Path, epochs: int) -> None:
    """The project file of step 7: base's, with the pool's own pretrained weights, fine-
    tuned, and semi-supervised rounds; the same work dir (catalogue, cache)."""
    config = yaml.safe_load(base.read_text())
    config["model"].update(weights="pool", train="finetune")
    config["training"]["semi_supervised"] = {"enabled": True}
    config["pretrain"] = {"epochs": epochs, "batch_size": 256}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def pretrain_step(cfg: Path, work: Path, logs: Path) -> Step:
    """simulate with model.weights: pool (pretraining inline first) and semi-supervised
    rounds; the pretraining's seconds and images/s from its provenance, the rounds'
    training seconds and accuracy from rounds.json."""
    out = work / "simulate_pretrain"
    step = run_step("pretrain + semi", cli("simulate", "--config", str(cfg), "--seeds", "1",
                                           "--no-progress", "--no-baseline",
                                           "--out", str(out)), logs)
    made = sorted((work / "run").rglob("pretrained/*.json"))
    if made:
        info = json.loads(made[-1].read_text())
        step.extra.update({k: info[k] for k in ("epochs", "items", "seconds",
                                                 "images_per_second")})
    if (out / "rounds.json").exists():
        rounds = json.loads((out / "rounds.json").read_text())
        step.extra["rounds"] = [{k: r.get(k) for k in ("labels", "accuracy", "train_s",
                                                       "score_s")} for r in rounds]
    return step


def decode_step(root: Path, size: int, seed: int) -> Step:
    """decode_many against plain Pillow over DECODE_SAMPLE files chosen by seed."""
    files = photos.list_files(root)
    pick = np.random.default_rng(seed).choice(len(files), min(DECODE_SAMPLE, len(files)),
                                              replace=False)
    paths = [files[i] for i in sorted(pick)]
    print(f"-- decode: {len(paths)} files, in this process", flush=True)
    start = time.perf_counter()
    figures = photos.compare_decoders(paths, (size, size))
    return Step("decode", time.perf_counter() - start, extra=figures)


def run_all(args: argparse.Namespace) -> tuple[dict, list[Step]]:
    collection = ensure_collection(args.root, args.count, args.seed)
    if args.work.exists():
        shutil.rmtree(args.work)
    logs = args.work / "logs"
    logs.mkdir(parents=True)
    cfg = args.work / "photo_pool.yaml"
    write_config(cfg, args.root, "imagefolder", args.work / "run", args.input_size)
    config = ["--config", str(cfg)]
    chosen = args.steps
    steps = []
    if "import" in chosen:
        steps.append(run_step("import torch",
                              [sys.executable, "-c", "import torch, activelearn.cli"], logs))
    steps.append(run_step("ingest first", cli("ingest", *config), logs))
    if "ingest" in chosen:
        steps.append(run_step("ingest unchanged", cli("ingest", *config), logs))
        changed = photos.mutate(args.root, 0.01, args.seed)
        step = run_step("ingest 1% changed", cli("ingest", *config), logs)
        step.extra["files_changed"] = len(changed)
        steps.append(step)
    if "decode" in chosen:
        steps.append(decode_step(args.root, args.input_size, args.seed))
    if "clean" in chosen:
        steps.append(run_step("clean", cli("clean", *config), logs))
    if "simulate" in chosen:
        steps.append(run_step("simulate 1 round", cli("simulate", *config, "--seeds", "1",
                                                      "--no-progress", "--no-baseline"),
                              logs))
    if "pretrain" in chosen:
        pretrain_cfg = args.work / "photo_pool_pretrain.yaml"
        write_pretrain_config(pretrain_cfg, cfg, args.pretrain_epochs)
        steps.append(pretrain_step(pretrain_cfg, args.work, logs))
    return collection, steps


# ---------------------------------------------------------------- report

def verdicts(steps: list[Step], count: int) -> list[str]:
    """One line per target: the figure, the target and whether it holds."""
    by_name = {s.name: s for s in steps}
    lines = []
    scale = f" (at {count:,} files; the target is for 200,000)" if count != 200_000 else ""
    if "ingest unchanged" in by_name:
        unchanged = by_name["ingest unchanged"].seconds
        lines.append(_verdict(f"re-ingest unchanged {unchanged:.1f} s{scale}",
                              unchanged <= TARGETS["ingest unchanged s"], "<= 10 s"))
    worst = max((s for s in steps if s.peak_rss_mb), key=lambda s: s.peak_rss_mb or 0)
    lines.append(_verdict(f"largest peak RSS {worst.peak_rss_mb:.0f} MB ({worst.name})",
                          (worst.peak_rss_mb or 0) <= TARGETS["peak RSS MB"], "<= 2048 MB"))
    if "decode" in by_name:
        ratio = by_name["decode"].extra["ratio_plain_over_w0"]
        lines.append(_verdict(f"plain Pillow / decode_many = {ratio:.2f}",
                              ratio <= TARGETS["decode ratio"], "<= 2"))
    if "clean" in by_name:
        clean = by_name["clean"].seconds
        lines.append(_verdict(f"clean {clean:.1f} s{scale}", clean <= TARGETS["clean s"],
                              "<= 600 s"))
    if "pretrain + semi" in by_name:
        semi = by_name["pretrain + semi"]
        lines.append(_verdict(f"pretrain + semi peak RSS {semi.peak_rss_mb or 0:.0f} MB",
                              (semi.peak_rss_mb or 0) <= TARGETS["peak RSS MB"],
                              "<= 2048 MB"))
    failed = [s.name for s in steps if s.exit_code]
    if failed:
        lines.append(f"FAILED steps (exit code != 0): {', '.join(failed)}")
    return lines


def _verdict(figure: str, ok: bool, target: str) -> str:
    return f"{'ok  ' if ok else 'MISS'} {figure} (target {target})"


def print_table(steps: list[Step]) -> None:
    print(f"\n{'step':<20} {'seconds':>8} {'peak RSS MB':>12} {'tree PSS MB':>12} {'exit':>5}")
    for s in steps:
        rss = f"{s.peak_rss_mb:.0f}" if s.peak_rss_mb is not None else "-"
        tree = f"{s.tree_pss_mb:.0f}" if s.tree_pss_mb is not None else "-"
        print(f"{s.name:<20} {s.seconds:>8.1f} {rss:>12} {tree:>12} {s.exit_code:>5}")
    for s in steps:
        if s.name == "decode":
            print("decode, images/s: " + ", ".join(f"{k} {v:.2f}" for k, v in s.extra.items()))
        if s.name == "pretrain + semi" and "seconds" in s.extra:
            print(f"pretrain: {s.extra['epochs']} epochs over {s.extra['items']} train items "
                  f"in {s.extra['seconds']:.1f} s, {s.extra['images_per_second']:.0f} images/s")
        for r in s.extra.get("rounds", []) if s.name == "pretrain + semi" else []:
            print(f"  round at {r['labels']} labels: train {r['train_s']} s, "
                  f"score {r['score_s']} s, accuracy {r['accuracy']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--root", type=Path, default=None,
                        help="collection folder [default: /work/bench/photos_COUNT]")
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder, emptied first [default: /work/bench/photo_pool_COUNT]")
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON results [default: WORK/results.json]")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated, of {','.join(STEPS)} [default: all]")
    parser.add_argument("--pretrain-epochs", type=int, default=2,
                        help="pretrain.epochs of the pretrain step [default: 2]")
    args = parser.parse_args()
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(args.steps) - set(STEPS))
    if unknown:
        parser.error(f"--steps: unknown {', '.join(unknown)} (of {', '.join(STEPS)})")
    args.root = args.root or Path(f"/work/bench/photos_{args.count}")
    args.work = args.work or Path(f"/work/bench/photo_pool_{args.count}")
    collection, steps = run_all(args)
    print_table(steps)
    lines = verdicts(steps, args.count)
    print("\n".join(lines))
    out = args.out or args.work / "results.json"
    out.write_text(json.dumps({"count": args.count, "input_size": args.input_size,
                               "cpus": os.cpu_count(), "collection": collection,
                               "steps": [asdict(s) for s in steps], "verdicts": lines},
                              indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
