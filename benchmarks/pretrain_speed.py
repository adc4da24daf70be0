"""How long pretraining on the pool takes here: images/s of the configured recipe on this
machine's CPU or a CUDA device, and the projected time for the whole pretraining.

    .venv/bin/python benchmarks/pretrain_speed.py [--device cpu|cuda] [--epochs 2]
        [--threads 2] [--config configs/fashion_mnist.yaml]

The prepared check for a CUDA worker: run it there with --device cuda (the same code
path the `pretrain` job runs: learn.pretrain.Pretrainer on the pool's train split, the
config's `pretrain:` recipe). Prints per epoch: seconds and images/s (an image = one item
seen as two views), then the projection for pretrain.epochs epochs over the pool.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from activelearn.config import load_config
from activelearn.data.sources import open_pool
from activelearn.data.splits import assign_splits
from activelearn.jobs.kinds.pretrain import recipe_of
from activelearn.learn.fit import input_spec
from activelearn.learn.inference import Normalizer
from activelearn.learn.models import build_model
from activelearn.learn.pretrain import Pretrainer

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/fashion_mnist.yaml"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to time")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    device = torch.device(args.device)
    pool = open_pool(cfg)
    splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
    train = np.flatnonzero(splits == "train")
    images = pool.images[torch.from_numpy(train)]
    torch.manual_seed(cfg.project.seed)
    net = build_model(cfg.model.name, input_spec(images, len(cfg.classes)))
    recipe = recipe_of(cfg)
    trainer = Pretrainer(net, images, Normalizer.fit(images), recipe, cfg.project.seed,
                         device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"{cfg.model.name}, {recipe.method}, {len(train)} train items, batch "
          f"{recipe.batch_size}, on {name}")
    rates = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        report = trainer.run_epoch()
        if device.type == "cuda":
            torch.cuda.synchronize()
        print(f"epoch {report.epoch}: {time.perf_counter() - start:.1f} s, "
              f"{report.images_per_second:.0f} images/s, loss {report.loss:.3f}", flush=True)
        rates.append(report.images_per_second)
    rate = float(np.median(rates))
    per_epoch = trainer.steps_per_epoch * recipe.batch_size
    total = per_epoch * recipe.epochs / rate
    print(f"projected: pretrain.epochs {recipe.epochs} x {per_epoch} images at {rate:.0f} "
          f"images/s = {total / 60:.1f} min")


if __name__ == "__main__":
    main()
