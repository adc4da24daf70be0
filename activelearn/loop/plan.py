"""What a cycle's round does: the plans, the phases each one runs, and the decision
between them from the state (see cycle.Cycle, which runs them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from activelearn.config import LoopConfig
from activelearn.kinds import Split
from activelearn.loop.stopping import stop_reason
from activelearn.state import Store


class Plan(str, Enum):
    BOOTSTRAP = "bootstrap"
    TRAIN = "train"
    TOPUP = "topup"


# The phases each plan runs, in order; Cycle.phases says what each one does.
PLANS: dict[Plan, tuple[str, ...]] = {
    Plan.BOOTSTRAP: ("holdout", "initial", "push"),
    Plan.TRAIN: ("train", "evaluate", "review", "select", "push"),
    Plan.TOPUP: ("select", "push"),
}


@dataclass
class Decision:
    plan: Plan | None
    why: str


def decide_round(store: Store, cfg: LoopConfig, latest: tuple[int, str] | None,
                 unselectable: Callable[[], str | None]) -> Decision:
    """What the next round does, and why: bootstrap first; train once loop.min_new_labels
    labels changed since the latest model (round, version; None before the first); top
    the queue up when fewer than loop.min_queued tasks wait, within the budget, unless
    loop.stop_when is met or a batch would hold nothing (unselectable(): why, e.g. the
    pool is used up; None: it would not); else nothing: no round is recorded (a top-up
    that selects nothing would record an empty round on every cron run)."""
    if not store.batches.all():
        return Decision(Plan.BOOTSTRAP, "first round: holdout and initial batch")
    train_labels = len(store.labels.current(Split.TRAIN.value))
    waiting = store.tasks.waiting(Split.TRAIN.value)
    if latest is None:
        if train_labels and (train_labels >= cfg.min_new_labels or waiting == 0):
            return Decision(Plan.TRAIN, f"first model, {train_labels} labels")
        new, since = train_labels, "so far"
    else:
        new = store.labels.changed_since(latest[0], Split.TRAIN)
        since = f"since model {latest[1]}"
        if new >= cfg.min_new_labels:
            return Decision(Plan.TRAIN, f"{new} new labels {since}")
    room = cfg.budget - train_labels - waiting
    topup = room > 0 and waiting < cfg.min_queued
    stopped = stop_reason(store, cfg) if topup else None
    empty = unselectable() if topup and stopped is None else None
    if topup and stopped is None and empty is None:
        return Decision(Plan.TOPUP, f"only {waiting} tasks wait (min_queued "
                                    f"{cfg.min_queued})")
    budget = ("; labelling budget reached" if room <= 0 else f"; {stopped}" if stopped
              else f"; {empty}" if empty else "")
    return Decision(None, f"{new} new labels {since} (retrain at {cfg.min_new_labels}), "
                          f"{waiting} tasks waiting in Label Studio{budget}")
