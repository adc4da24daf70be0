"""Label-error review on Fashion-MNIST with a noisy bot (issue 6, item 4).

    .venv/bin/python benchmarks/label_review.py [--root data] [--labeled 3000] [--folds 3]
        [--rounds 3] [--per-round 150] [--noise 0.1] [--threads 2] [--seeds 1]

Runs without Label Studio: it drives the same pieces the cycle's review phase uses
(the out-of-fold job's recipe: jobs/kinds/oof.py run, learn.fit.fit with the
default TrainingConfig; label_errors.assign_folds and rank_label_errors) directly on
arrays. The labels come from the bot's own noise model (bot.bot_label with accuracy
1 - noise), and a review answers with the truth, as a careful reviewer would.

Prints:
- the share of all wrong labels that the ranking's top 2 x (number of wrong labels)
  catch (the issue's target: >= 70%), and the precision of its top ranks;
- holdout accuracy (the source's test split) over rounds, with review (each round the
  top `per-round` not yet reviewed get the true label, then a model is retrained) and
  without (the same noisy labels, the same seeds): both curves, and with --seeds N
  their means and the paired gain per round with its standard error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from activelearn.annotation.bot import bot_label
from activelearn.config import FASHION_MNIST_CLASSES, DataConfig, ModelConfig, TrainingConfig
from activelearn.data.sources import load_source
from activelearn.data.sources.base import Pool
from activelearn.learn.fit import fit as fit_model
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.quality.label_errors import (
    assign_folds,
    rank_label_errors,
    recall_in_top,
    share_wrong_in_top,
)

DEVICE = torch.device("cpu")


def fit(pool: Pool, positions: np.ndarray, labels: np.ndarray, norm: Normalizer,
        recipe: TrainingConfig, seed: int) -> Predictor:
    """A small_cnn trained on pool positions ([n]) with labels ([n])."""
    return fit_model(pool.images[torch.from_numpy(positions)], labels, len(pool.class_names),
                     ModelConfig("small_cnn", 0.0), recipe, norm, seed, DEVICE, 1024).predictor


def out_of_fold_probs(pool: Pool, positions: np.ndarray, labels: np.ndarray,
                      norm: Normalizer, recipe: TrainingConfig, folds: int,
                      seed: int) -> np.ndarray:
    """probs [n, classes]: each fold predicted by a model trained on the others."""
    ids = [pool.item_ids[i] for i in positions]
    fold = assign_folds(ids, folds, seed)
    probs = np.zeros((len(positions), len(pool.class_names)))
    for k in range(folds):
        inside = fold == k
        predictor = fit(pool, positions[~inside], labels[~inside], norm, recipe,
                        seed * 100 + k + 1)
        probs[inside] = predictor(pool.images[torch.from_numpy(positions[inside])]).probs
    return probs


def accuracy(predictor: Predictor, pool: Pool, holdout: np.ndarray) -> float:
    return predictor.evaluate(pool.images[torch.from_numpy(holdout)],
                              pool.labels[holdout]).accuracy


def review_rounds(pool: Pool, positions: np.ndarray, holdout: np.ndarray,
                  norm: Normalizer, recipe: TrainingConfig, args: argparse.Namespace,
                  seed: int) -> tuple[list[float], list[float]]:
    """One seed: the bot's noisy labels, then `rounds` review rounds. Returns the holdout
    accuracy by round with review and without (round 0: before any review, shared)."""
    truth = pool.labels[positions]
    noisy = np.array([bot_label(int(t), len(pool.class_names), 1 - args.noise, seed, 1,
                                pool.item_ids[p]) for t, p in zip(truth, positions)])
    print(f"seed {seed}: {int((noisy != truth).sum())} wrong labels "
          f"({(noisy != truth).mean():.1%})")
    labels, reviewed = noisy.copy(), np.zeros(len(positions), dtype=bool)
    with_review, without = [], []
    for round_ in range(args.rounds + 1):
        train_seed = seed * 1000 + round_
        without.append(accuracy(fit(pool, positions, noisy, norm, recipe, train_seed), pool,
                                holdout))
        with_review.append(accuracy(fit(pool, positions, labels, norm, recipe, train_seed),
                                    pool, holdout) if round_ else without[0])
        if round_ == args.rounds:
            break
        probs = out_of_fold_probs(pool, positions, labels, norm, recipe, args.folds,
                                  train_seed)
        ranking = rank_label_errors(probs, labels)
        still_wrong = labels != truth
        if round_ == 0:
            n = int(still_wrong.sum())
            print(f"  round 0 ranking: {len(ranking.index)} contradicted labels; of the {n} "
                  f"wrong labels, the top 2x{n}={2 * n} hold "
                  f"{recall_in_top(ranking, still_wrong, 2 * n):.1%} (target >= 70%), the "
                  f"top {n} {recall_in_top(ranking, still_wrong, n):.1%}; precision of the "
                  f"top {n}: {share_wrong_in_top(ranking, still_wrong, n):.1%}, of the top "
                  f"{args.per_round}: "
                  f"{share_wrong_in_top(ranking, still_wrong, args.per_round):.1%}")
        chosen = [i for i in ranking.index if not reviewed[i]][:args.per_round]
        hits = int(still_wrong[chosen].sum())
        labels[chosen], reviewed[chosen] = truth[chosen], True
        print(f"  round {round_ + 1}: reviewed {len(chosen)}, {hits} were wrong; wrong "
              f"labels left {int((labels != truth).sum())}")
    print("  with review:    " + " ".join(f"{a:.4f}" for a in with_review))
    print("  without review: " + " ".join(f"{a:.4f}" for a in without))
    return with_review, without


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data")
    parser.add_argument("--labeled", type=int, default=3000)
    parser.add_argument("--holdout", type=int, default=10000,
                        help="test items to measure on (the whole test split by default)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=150)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=1,
                        help="independent repeats (noise, folds and training seeds)")
    parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs)
    parser.add_argument("--min-steps", type=int, default=TrainingConfig.min_steps)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    pool = load_source(DataConfig(source="fashion-mnist", root=args.root,
                                  limit=args.labeled, test_limit=args.holdout),
                       list(FASHION_MNIST_CLASSES))
    positions = np.flatnonzero(~pool.is_test)[:args.labeled]
    holdout = np.flatnonzero(pool.is_test)
    print(f"{len(positions)} labelled items, holdout {len(holdout)} test items; "
          f"{args.folds} folds, {args.seeds} seed(s)")
    norm = Normalizer.fit(pool.images[torch.from_numpy(positions)])
    recipe = TrainingConfig(epochs=args.epochs, min_steps=args.min_steps)
    curves = [review_rounds(pool, positions, holdout, norm, recipe, args, seed)
              for seed in range(args.seed, args.seed + args.seeds)]
    with_review = np.array([c[0] for c in curves])
    without = np.array([c[1] for c in curves])
    gain = with_review - without  # [seeds, rounds + 1], paired by seed and round
    print(f"holdout accuracy by round (0 = before any review), mean of {args.seeds} seed(s):")
    print("  with review:    " + " ".join(f"{a:.4f}" for a in with_review.mean(0)))
    print("  without review: " + " ".join(f"{a:.4f}" for a in without.mean(0)))
    for round_ in range(1, args.rounds + 1):
        g = gain[:, round_]
        spread = (f" +- {g.std(ddof=1) / np.sqrt(len(g)):.4f} (standard error)"
                  if len(g) > 1 else "")
        print(f"  round {round_}: gain {g.mean():+.4f}{spread}; higher with review in "
              f"{int((g > 0).sum())} of {len(g)} seeds")
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
