"""Which self-supervised method to pretrain with: SimCLR against VICReg on the pool.

    .venv/bin/python benchmarks/pretrain_methods.py [--methods simclr,vicreg] [--epochs 6]
        [--labels 250,1000] [--threads 2] [--config configs/fashion_mnist.yaml]

Each method pretrains the configured network (learn.pretrain.Pretrainer, the recipe of
the config's `pretrain:` section, the method and learning rate changed) on the pool's
train split, the same seed and views for both, and after every epoch its features are
judged the way a few labels would use them: a linear probe (logistic regression, L-BFGS)
and a 10-nearest-neighbour vote (cosine) trained on N random labelled train items,
scored on the test split. Before the first epoch: the random network's figures. Prints
a line per epoch: loss, seconds, images/s (pairs of views), probe and kNN accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from activelearn.config import load_config
from activelearn.data.sources import open_pool
from activelearn.data.splits import assign_splits
from activelearn.jobs.kinds.pretrain import recipe_of
from activelearn.learn.fit import input_spec
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.models import build_model
from activelearn.learn.pretrain import Pretrainer

ROOT = Path(__file__).resolve().parent.parent
LEARNING_RATES = {"simclr": 0.5, "vicreg": 0.3}
PROJECTION = {"simclr": 64, "vicreg": 512}  # VICReg wants a wide projector


def probe(features: torch.Tensor, labels: np.ndarray, train: np.ndarray,
          test: np.ndarray, n: int, seed: int) -> tuple[float, float]:
    """(linear probe, 10-NN) test accuracy from n random labelled train items."""
    rng = np.random.default_rng(seed)
    chosen = torch.as_tensor(rng.choice(train, n, replace=False))
    mean, std = features[train].mean(0), features[train].std(0) + 1e-3
    x = (features - mean) / std
    y = torch.as_tensor(labels)
    classes = int(y.max()) + 1
    w = torch.zeros(x.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x[chosen] @ w + b, y[chosen]) + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    t = torch.as_tensor(test)
    linear = float(((x[t] @ w + b).argmax(1) == y[t]).float().mean())
    sim = F.normalize(x[t], dim=1) @ F.normalize(x[chosen], dim=1).T
    votes = y[chosen][sim.topk(10, dim=1).indices].mode(1).values
    return linear, float((votes == y[t]).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/fashion_mnist.yaml"))
    parser.add_argument("--methods", default="simclr,vicreg")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--labels", default="250,1000")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    pool = open_pool(cfg)
    splits = assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)
    train, test = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "test")
    images = pool.images[torch.from_numpy(train)]
    norm = Normalizer.fit(images)
    cpu = torch.device("cpu")
    counts = [int(n) for n in args.labels.split(",")]
    print(f"{len(train)} train items (pretraining), {len(test)} test items")
    for method in args.methods.split(","):
        torch.manual_seed(cfg.project.seed)
        net = build_model(cfg.model.name, input_spec(images, len(cfg.classes)))
        recipe = dataclasses.replace(recipe_of(cfg), method=method, epochs=args.epochs,
                                     lr=LEARNING_RATES[method],
                                     projection_dim=PROJECTION[method])
        trainer = Pretrainer(net, images, norm, recipe, cfg.project.seed, cpu)

        def judged(net=net) -> str:
            scores = Predictor(net, norm, cpu, 512)(pool.images, embeddings=True)
            features = torch.from_numpy(scores.embeddings)
            return "  ".join(
                "{} labels: probe {:.4f} kNN {:.4f}".format(
                    n, *probe(features, pool.labels, train, test, n, 0)) for n in counts)

        print(f"{method} epoch 0 (random weights): {judged()}", flush=True)
        for _ in range(args.epochs):
            r = trainer.run_epoch()
            print(f"{method} epoch {r.epoch}: loss {r.loss:.3f}, {r.seconds:.0f} s, "
                  f"{r.images_per_second:.0f} images/s; {judged()}", flush=True)


if __name__ == "__main__":
    main()
