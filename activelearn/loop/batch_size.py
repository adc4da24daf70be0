"""`loop.batch: auto`: how many items a cycle's batch gets, from how fast people label.

The queue in Label Studio should neither run dry before the next batch lands nor hold
more than loop.max_queue_hours of work. The next batch lands after the next training:
once loop.min_new_labels new labels came back, and after a training round as long as the
last one. At a throughput of `rate` items per hour, with `waiting` tasks still queued:

    need = min_new_labels + rate x training hours - waiting   (annotators stay busy)
    most = rate x max_queue_hours - waiting                    (the queue's cap)
    size = min(need, most), or 0 when either is 0 or less

The least batch that keeps the annotators busy, so every item is chosen by as recent a
model as the labelling speed allows. rate: annotations per active hour
(quality.throughput) divided by the annotations an item gets (label_studio.overlap on
overlap_fraction of the batch). Before anyone has labelled: loop.initial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from activelearn.config import LabelStudioConfig, LoopConfig
from activelearn.kinds import Split
from activelearn.quality.throughput import throughput
from activelearn.state import Store

DEFAULT_TRAINING_HOURS = 1.0  # before any round has trained: a guess, shown as such


@dataclass(frozen=True)
class AutoBatch:
    """A batch size and the one line that says why (printed by cycle)."""

    size: int
    why: str


def auto_batch_size(rate: float | None, training_hours: float, waiting: int,
                    loop: LoopConfig, guessed: bool = False) -> AutoBatch:
    """The batch for a throughput of `rate` items per hour (None or 0: not measured yet)
    and a training round of training_hours, with `waiting` tasks queued (see the
    module); guessed: training_hours is DEFAULT_TRAINING_HOURS, not measured."""
    if not rate or rate <= 0:
        return AutoBatch(loop.initial, f"batch auto: {loop.initial} items = loop.initial "
                                       "(no annotation throughput measured yet)")
    need = math.ceil(loop.min_new_labels + rate * training_hours - waiting)
    most = math.floor(rate * loop.max_queue_hours - waiting)
    hours = f"{training_hours:.1f} h{' (a guess)' if guessed else ''}"
    if most <= 0:
        return AutoBatch(0, f"batch auto: none: {waiting} still queued are "
                            f"{waiting / rate:.1f} h of work at {rate:.0f} items/h, "
                            f"loop.max_queue_hours is {loop.max_queue_hours:g}")
    if need <= 0:
        return AutoBatch(0, f"batch auto: none: {waiting} still queued cover "
                            f"{loop.min_new_labels} new labels to retrain + {rate:.0f} "
                            f"items/h x {hours} of training")
    size = min(need, most)
    capped = (f"; capped at loop.max_queue_hours {loop.max_queue_hours:g} h"
              if most < need else "")
    return AutoBatch(size, f"batch auto: {size} items = {loop.min_new_labels} new labels "
                           f"to retrain + {rate:.0f} items/h x {hours} of training - "
                           f"{waiting} still queued{capped}")


def items_per_hour(annotations_per_hour: float, ls: LabelStudioConfig) -> float:
    """Items labelled per hour when each query item of a batch gets `overlap`
    annotations on overlap_fraction of the batch and one on the rest."""
    per_item = 1 + (ls.overlap - 1) * ls.overlap_fraction
    return annotations_per_hour / per_item


def training_hours(store: Store, round_: int) -> float | None:
    """How long a training round takes, in hours: this round's phases so far when it
    trained (the newest measure), else the newest finished training round's; None
    before any training."""
    if "train" in store.rounds.phases_done(round_):
        return store.rounds.working_seconds(round_) / 3600
    last = store.rounds.last_trained()
    return None if last is None else store.rounds.working_seconds(last) / 3600


def plan_auto_batch(store: Store, loop: LoopConfig, ls: LabelStudioConfig,
                    round_: int) -> AutoBatch:
    """The auto batch of a round from what the state measured (see the module)."""
    work = throughput(store.annotations.events())
    rate = items_per_hour(work.per_active_hour, ls) if work is not None else None
    hours = training_hours(store, round_)
    return auto_batch_size(rate, DEFAULT_TRAINING_HOURS if hours is None else hours,
                           store.tasks.waiting(Split.TRAIN.value), loop,
                           guessed=hours is None)
