"""Sticky shards: a job that reads part of the pool goes, where it can, to the worker that
read the same part last time, so that worker's decoded cache (data/decoded.py) already
holds its images and a round on workers elsewhere reads from the store only what changed.

    keys = [p.get("affinity") for p in payloads]      # e.g. 3: pool positions 30,000-39,999
    owners = assign(keys, live_workers)               # worker names, or None: any worker
    queue = personal_queue("activelearn-gpu", owner)  # "activelearn-gpu@<worker>"

Every worker listens on a queue of its own per queue it serves (before the shared ones),
and the executor puts an affine job there. A key is the number of a fixed part of the
pool; its owner is the worker at that number, round-robin over the sorted names of the
workers alive on the queue, so the same parts and the same workers give the same owners
every round with no memory kept anywhere (a part that has nothing left to score moves no
other); a worker that joins or leaves moves some keys, which
cost one re-read each. A job whose owner died before taking it goes back to the shared
queue (executor._wait), so nothing waits on a worker that is gone. Workers keep their
names across restarts only with `activelearn worker --name`.
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = "@"  # between a queue's name and its worker's in a personal queue
# The key of a training job: one worker (the owner of the pool's first part) trains every
# round, so the labelled and holdout images it decoded (most of which no score job reads)
# stay in one cache, and a round reads from the store only the labels that are new.
TRAINER = 0


def personal_queue(queue: str, worker: str) -> str:
    """The queue only this worker takes jobs from, for the shared queue `queue`."""
    return f"{queue}{SEPARATOR}{worker}"


def is_personal(queue: str) -> bool:
    return SEPARATOR in queue


def assign(keys: Sequence[int | None], workers: Sequence[str]) -> list[str | None]:
    """The owner (a worker name) of each key, None for a job without one or when no
    worker is alive: key k belongs to the k-th of the sorted workers, round-robin."""
    names = sorted(set(workers))
    return [None if key is None or not names else names[int(key) % len(names)]
            for key in keys]
