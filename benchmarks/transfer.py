"""Transfer from a pretrained backbone: head, finetune and from-scratch active learning.

    .venv/bin/python benchmarks/transfer.py [--seeds 3] [--initial 100] [--batch 100]
        [--budget 600] [--modes head finetune scratch] [--head-hidden 0]
        [--out runs/bench-transfer]

An offline stand-in for "pretrained on other data" (issue 14):
1. the default CNN (configs/fashion_mnist.yaml's model and recipe) is pretrained on all
   training images of Fashion-MNIST classes 0-4 and saved as a weights file;
2. the pool is the training images of classes 5-9 only (labels 0-4 there), the test
   set their t10k images;
3. each mode (model.train: head, finetune, scratch) runs margin and random for each
   seed, from the same initial labels.
Prints accuracy at each round, label efficiency against scratch+random, and seconds
per round (train + evaluate + score + select; the one-time embedding pass apart), and
writes the figures to OUT/transfer.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from activelearn.config import load_config
from activelearn.data.sources import load_source
from activelearn.data.sources.base import Pool
from activelearn.learn.checkpoints import resolve_device, save_checkpoint
from activelearn.learn.embedding import pool_features
from activelearn.learn.fit import fit
from activelearn.learn.inference import Normalizer
from activelearn.reporting import results
from activelearn.reporting.plots import SimulateFigures
from activelearn.simulate import simulate

SOURCE_CLASSES, TARGET_CLASSES = range(0, 5), range(5, 10)


def classes_pool(pool: Pool, classes: range) -> Pool:
    """The items of these classes, labels renumbered from 0."""
    keep = np.flatnonzero(np.isin(pool.labels, list(classes)))
    sub = pool.subset(keep)
    sub.labels = sub.labels - classes.start
    sub.class_names = [pool.class_names[c] for c in classes]
    return sub


def pretrain(cfg, pool: Pool, path: Path, epochs: int) -> dict:
    """The config's CNN trained on every training image of the source classes."""
    source = classes_pool(pool, SOURCE_CLASSES)
    train = np.flatnonzero(~source.is_test)
    test = np.flatnonzero(source.is_test)
    norm = Normalizer.fit(source.images)
    recipe = dataclasses.replace(cfg.training, epochs=epochs, min_steps=0)
    start = time.perf_counter()
    fitted = fit(source.images[torch.from_numpy(train)], source.labels[train],
                 len(SOURCE_CLASSES), cfg.model, recipe, norm, cfg.project.seed,
                 resolve_device(cfg.training.device), progress=True)
    seconds = time.perf_counter() - start
    acc = fitted.predictor.evaluate(source.images[torch.from_numpy(test)],
                                    source.labels[test]).accuracy
    save_checkpoint(path, fitted.model, norm, {"model_version": "pretrained-0-4",
                                               "input_size": list(pool.images.shape[2:])})
    print(f"pretrained {cfg.model.name} on classes 0-4: {len(train)} images, {epochs} "
          f"epochs, {seconds:.0f} s, test accuracy {acc:.4f} -> {path}")
    return {"images": int(len(train)), "epochs": epochs, "seconds": round(seconds, 1),
            "test_accuracy": acc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/fashion_mnist.yaml")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["head", "finetune", "scratch"])
    parser.add_argument("--head-hidden", type=int, default=0,
                        help="model.head_hidden for head mode (0: a linear head)")
    parser.add_argument("--strategies", nargs="+", default=["margin", "random"])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-transfer"))
    args = parser.parse_args()
    cfg = load_config(args.config)
    torch.set_num_threads(cfg.training.threads or torch.get_num_threads())
    pool = load_source(cfg.data, cfg.classes)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "pretrained-classes-0-4.pt"
    report: dict = {"pretrain": pretrain(cfg, pool, weights, args.pretrain_epochs)}
    target = classes_pool(pool, TARGET_CLASSES)
    records: list[dict] = []
    embed_s: dict[str, float] = {}
    for mode in args.modes:
        run = dataclasses.replace(
            cfg, project=dataclasses.replace(cfg.project, work_dir=str(args.out / mode)),
            classes=target.class_names,
            model=dataclasses.replace(cfg.model, weights="" if mode == "scratch" else
                                      str(weights), train=mode,
                                      head_hidden=args.head_hidden),
            loop=dataclasses.replace(cfg.loop, initial=args.initial, batch=args.batch,
                                     budget=args.budget))
        if mode == "head":  # the one-time pass, timed apart (simulate then reuses it)
            start = time.perf_counter()
            pool_features(run, target, resolve_device(cfg.training.device), progress=True)
            embed_s[mode] = round(time.perf_counter() - start, 1)
        seeds = [cfg.project.seed + k for k in range(args.seeds)]
        for record in simulate(run, target, args.strategies, seeds, args.out / mode / "sim",
                               echo=print, progress=False, figures=SimulateFigures()):
            records.append({**record, "strategy": f"{mode}/{record['strategy']}"})
    report.update(summarize(records, embed_s))
    (args.out / "transfer.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out / 'transfer.json'}")


def summarize(records: list[dict], embed_s: dict[str, float]) -> dict:
    """Accuracy per round, efficiency against scratch/random and seconds per round."""
    baseline = "scratch/random" if any(r["strategy"] == "scratch/random" for r in records) \
        else records[0]["strategy"]
    rows = results.summarize(records, baseline=baseline)
    print("\n" + results.format_summary(rows))
    out: dict = {"baseline": baseline, "summary": [dataclasses.asdict(r) for r in rows],
                 "embed_seconds": embed_s, "per_round": {}}
    print(f"\n{'run':<18} {'s/round':>8}  accuracy by labels (mean over seeds)")
    for name in sorted({r["strategy"] for r in records}):
        mine = [r for r in records if r["strategy"] == name]
        seconds = np.mean([r["train_s"] + r["eval_s"] + r["score_s"] + r["select_s"]
                           for r in mine])
        by_labels: dict[int, list[float]] = {}
        for r in mine:
            by_labels.setdefault(r["labels"], []).append(r["accuracy"])
        curve = {n: round(float(np.mean(v)), 4) for n, v in sorted(by_labels.items())}
        out["per_round"][name] = {"seconds_per_round": round(float(seconds), 2),
                                  "accuracy": curve}
        print(f"{name:<18} {seconds:>8.2f}  " + "  ".join(f"{n}:{a:.3f}"
                                                         for n, a in curve.items()))
    per = out["per_round"]
    for mode in ("head", "finetune"):
        if f"{mode}/margin" in per and "scratch/margin" in per:
            ratio = per["scratch/margin"]["seconds_per_round"] / \
                per[f"{mode}/margin"]["seconds_per_round"]
            out[f"{mode}_speedup_vs_scratch"] = round(ratio, 1)
            print(f"{mode} rounds are {ratio:.1f}x as fast as from-scratch rounds (margin)")
    return out


if __name__ == "__main__":
    main()
