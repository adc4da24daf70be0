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
from activelearn.learn.checkpoints import resolve_device
from activelearn.learn.fit import fit
from activelearn.learn.inference import Normalizer


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
    start = time.perf_counter()
    fitted = fit(pool.images[torch.from_numpy(train)], pool.labels[train],
                 len(pool.class_names), cfg.model, recipe, norm, cfg.project.seed, device,
                 cfg.strategy.score_batch_size, progress=True)
    result = fitted.result
    seconds = time.perf_counter() - start
    metrics = fitted.predictor.evaluate(pool.images[torch.from_numpy(test)], pool.labels[test])
    print(f"{cfg.model.name}: {len(train)} labels, {result.epochs} epochs, "
          f"{seconds:.0f} s training on {device}: test accuracy {metrics.accuracy:.4f}, "
          f"macro-F1 {metrics.macro_f1:.4f} ({len(test)} test images)")


if __name__ == "__main__":
    main()
