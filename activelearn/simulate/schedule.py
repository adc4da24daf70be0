"""How many labels each simulated round adds: fixed batches of loop.batch, or label counts
that grow geometrically by loop.batch_growth (initial, initial*g, initial*g^2, ...), the
last round landing exactly on loop.budget."""

from __future__ import annotations

import math
from collections.abc import Iterator

from activelearn.config import LoopConfig
from activelearn.errors import OptionError


def next_count(labels: int, loop: LoopConfig) -> int:
    """The label count of the round after one that trained on `labels` labels (at most
    loop.budget; loop.budget itself once reached).

    loop.schedule: the first of its counts above labels. growth 1: labels + loop.batch.
    growth g > 1: the first of round(initial * g^k),
    k = 0, 1, ..., above `labels` (a round that fell short of its count, the pool running
    out of candidates, aims at the same next count as a full one).
    """
    if labels >= loop.budget:
        return loop.budget
    if loop.schedule:  # the first listed count above labels
        return min(loop.budget, next((c for c in loop.schedule if c > labels), loop.budget))
    growth = loop.batch_growth
    if growth <= 1:
        return min(loop.budget, labels + fixed_batch(loop))
    # the least k with initial * g^k >= labels + 0.5, so that it rounds above labels
    k = max(0, math.ceil(math.log((labels + 0.5) / loop.initial) / math.log(growth)))
    count = max(labels + 1, round(loop.initial * growth ** k))
    return min(loop.budget, count)


def fixed_batch(loop: LoopConfig, source: str = "") -> int:
    """loop.batch as a number: `auto` needs annotators to measure, which simulate has
    not (an OptionError saying to set loop.batch, the parameter `batch` of the command
    line; source: the project file, named first)."""
    if isinstance(loop.batch, int):
        return loop.batch
    raise OptionError("{where}loop.batch: auto sizes cycle's batches from the annotators' "
                      "measured throughput, which simulate does not have; set {batch} to a "
                      "number, or loop.batch_growth above 1", {"batch": "loop.batch"},
                      where=f"{source}: " if source else "")


def next_batch(labels: int, loop: LoopConfig) -> int:
    """How many labels the round that trained on `labels` labels selects (0 at the budget)."""
    return next_count(labels, loop) - labels


def label_schedule(loop: LoopConfig) -> Iterator[int]:
    """The label counts of the rounds, from loop.initial up to loop.budget, when every
    round gets its full batch (e.g. 500, 1000, 2000, 4000, 8000, 10000)."""
    labels = min(loop.initial, loop.budget)
    yield labels
    while labels < loop.budget:
        labels = next_count(labels, loop)
        yield labels


def describe_schedule(loop: LoopConfig, shown: int = 8, most: int = 100_000) -> str:
    """The schedule as one line, e.g. "500, 1000, 2000, 4000 (4 rounds)"; a long one
    shows its first `shown` counts and the last (counting at most `most` rounds)."""
    counts: list[int] = []
    total = last = 0
    for total, last in enumerate(label_schedule(loop), start=1):
        if len(counts) < shown:
            counts.append(last)
        if total >= most:
            return f"{', '.join(map(str, counts))}, ... ({most} rounds or more)"
    text = ", ".join(map(str, counts))
    if total > shown:
        text += f", ..., {last}"
    return f"{text} ({total} round{'s' if total != 1 else ''})"
