"""The default CNN trained on all 60,000 Fashion-MNIST labels: test accuracy and time.

    .venv/bin/python benchmarks/full_data.py [--config configs/fashion_mnist.yaml] [--epochs 15]

Uses the config's model and training recipe (epochs overridable) and evaluates on
the full official test set (10,000 images).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from activelearn.config import load_config
from activelearn.data.sources import load_source
from activelearn.learn.inference import Normalizer, evaluate
from activelearn.learn.models import build_model
from activelearn.learn.training import resolve_device, train_model
from activelearn.loop import input_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/fashion_mnist.yaml")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    cfg = load_config(args.config)
    recipe = dataclasses.replace(cfg.training, epochs=args.epochs)
    pool = load_source(cfg.data, cfg.classes)
    train, test = np.flatnonzero(~pool.is_test), np.flatnonzero(pool.is_test)
    device = resolve_device(recipe.device)
    norm = Normalizer.fit(pool.images)
    torch.manual_seed(cfg.project.seed)
    model = build_model(cfg.model.name, input_spec(pool), cfg.model.dropout)
    start = time.perf_counter()
    result = train_model(model, pool.images[torch.from_numpy(train)], pool.labels[train],
                         recipe, norm, cfg.project.seed, device)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, pool.images[torch.from_numpy(test)], pool.labels[test], norm,
                       device)
    print(f"{cfg.model.name}: {len(train)} labels, {result.epochs} epochs, "
          f"{seconds:.0f} s training on {device}: test accuracy {metrics.accuracy:.4f}, "
          f"macro-F1 {metrics.macro_f1:.4f} ({len(test)} test images)")


if __name__ == "__main__":
    main()
