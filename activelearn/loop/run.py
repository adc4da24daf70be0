"""Running one cycle of a project: under its lock, with Redis, the artifact store and
Label Studio checked before any change, the pool catalogued (its decoded cache built by
the workers when they share this disk) and the backbone's embeddings computed; then the
round itself (cycle.Cycle)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from activelearn.failpoints import failpoint
from activelearn.jobs.kinds.cache import build_cache
from activelearn.learn.backbones import check_weights
from activelearn.loop.cycle import Cycle
from activelearn.loop.lock import CycleLock
from activelearn.loop.weights import prepare_weights
from activelearn.project import Project


def run_cycle(project: Project, echo: Callable[[str], None], progress: bool = True,
              retrain: bool = False) -> bool:
    """Run one cycle under the project's lock (retrain: train a new model now, whatever
    the labels since the last one). Returns False (and does nothing) when another cycle
    holds the lock."""
    cfg = project.cfg
    if cfg.model.weights and not cfg.model.pool_weights:  # before any work
        check_weights(cfg.model)
    with CycleLock(project.state_path) as lock:
        if lock.holder is not None:
            h = lock.holder
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.acquired_at))
            echo(f"another cycle is running (pid {h.pid} on {h.host}, since {since}); "
                 "nothing done")
            return False
        if lock.took_over is not None:
            echo(f"took over the lock of a cycle that is gone (pid {lock.took_over.pid} on "
                 f"{lock.took_over.host}); resuming its round")
        failpoint("cycle:locked")
        executor = project.connect()  # an outage fails before any change
        if cfg.training.threads > 0:
            torch.set_num_threads(cfg.training.threads)
        with project.store() as store:
            # the workers decode the cache, when they share this disk
            inline = executor.name == "inline" or cfg.jobs.remote_artifacts
            pool = project.open_pool(store, progress=progress, build_cache=inline)
            if (cfg.data.cache == "memmap" and not inline
                    and build_cache(project, store, progress)):
                pool = project.open_pool(store, refresh=False)
            # model.weights: pool: made once the holdout is drawn (else in `initial`)
            prepare_weights(project, store, pool, echo, progress,
                            ready=bool(store.batches.all()))
            Cycle(project, store, pool, lock, echo, progress, retrain).run()
    return True
