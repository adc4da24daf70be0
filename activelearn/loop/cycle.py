"""`activelearn cycle`: one cron-safe round of the real loop against Label Studio.

A cycle pulls the annotations finished since the last pull, then decides what the
round needs (see `decide`):

- bootstrap: the first round: a random holdout batch (labelled by people, used only for
  evaluation) and a random initial batch, pushed to Label Studio;
- train: enough new labels came back: train, evaluate on the holdout, score the pool,
  select a batch with the strategy, push it with the model's suggestions;
- topup: too few tasks wait unlabelled: select a batch with the latest model and push;
- nothing: only the pull.

Every phase is recorded in state before and after it runs and reads what earlier
phases left in state or on disk (the batch, the checkpoint), so a rerun after a crash
resumes the unfinished round at its first unfinished phase. Pushing is idempotent
(Label Studio is asked which items already have tasks), a pull is recorded with its
cursor in one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from activelearn.annotation.label_studio.client import LabelStudioBackend
from activelearn.annotation.label_studio.tasks import Suggestion, TaskSpec, image_reference
from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.data.splits import assign_splits
from activelearn.errors import ActiveLearnError, ConfigError, StateError
from activelearn.failpoints import failpoint
from activelearn.jobs import steps
from activelearn.jobs.executor import Executor, make_executor
from activelearn.jobs.functions import checkpoint_path
from activelearn.loop import rounds as loop
from activelearn.loop.clean import needs_clean, propagate_labels, run_clean, selectable_positions
from activelearn.loop.lock import CycleLock
from activelearn.loop.project import init_project
from activelearn.loop.pull import pull_annotations
from activelearn.loop.quality_hooks import QualityHooks
from activelearn.loop.relabel import apply_relabels, request_relabels
from activelearn.loop.review import push_reviews, review_specs, select_reviews
from activelearn.state import BatchKind, RoundStatus, Split, Store

log = logging.getLogger("activelearn.cycle")


QUERY_KINDS = (BatchKind.QUERY.value, BatchKind.GOLD.value)


class Plan(str, Enum):
    BOOTSTRAP = "bootstrap"
    TRAIN = "train"
    TOPUP = "topup"


PHASES = {
    Plan.BOOTSTRAP: ["holdout", "initial", "push"],
    Plan.TRAIN: ["train", "evaluate", "review", "select", "push"],
    Plan.TOPUP: ["select", "push"],
}


@dataclass
class Decision:
    plan: Plan | None
    why: str


class Cycle(QualityHooks):
    """One cycle of a project: the collaborators are passed in (see run_cycle)."""

    def __init__(self, cfg: Config, store: Store, backend: LabelStudioBackend, pool: Pool,
                 executor: Executor, lock: CycleLock, echo: Callable[[str], None],
                 progress: bool = True) -> None:
        self.cfg, self.store, self.backend, self.pool = cfg, store, backend, pool
        self.executor, self.lock, self.echo, self.progress = executor, lock, echo, progress
        self.position = {item_id: i for i, item_id in enumerate(pool.item_ids)}
        self.project_id = 0

    # -- the cycle ----------------------------------------------------------------
    def run(self) -> None:
        self._check_image_mode()
        linked = init_project(self.backend, self.store, self._title(), list(self.cfg.classes),
                              self.cfg.label_studio.instructions)
        self.project_id = linked.project_id
        self.backend.ensure_overlap(self.project_id, self.cfg.label_studio.max_overlap)
        self._ensure_items()
        self._ensure_gold()
        running = next((r.round for r in self.store.rounds()
                        if r.status == RoundStatus.RUNNING.value), None)
        round_ = running if running is not None else self._next_round()
        with self._phase(round_, "pull"):
            pull_annotations(self.backend, self.store, self.project_id, self.cfg.classes,
                             round_, self.position, self.echo)
            if self.cfg.cleaning.propagate_labels:
                copied = propagate_labels(self.store, round_)
                if copied:
                    self.echo(f"  copied {copied} labels to duplicates of labelled items")
        if running is not None:
            plan = Plan(self.store.phases_done(running)["plan"])
            self.echo(f"round {running}: resuming the unfinished {plan.value} round")
        else:
            decision = self.decide()
            if decision.plan is None:
                self.echo(f"nothing to do: {decision.why}")
                return
            self.echo(f"round {round_}: {decision.plan.value} ({decision.why})")
            plan = decision.plan
        self._run_round(round_, plan)

    def decide(self) -> Decision:
        """What this cycle's round does, and why."""
        store, cfg = self.store, self.cfg.loop
        if not store.batches():
            return Decision(Plan.BOOTSTRAP, "first round: holdout and initial batch")
        train_labels = len(store.labels(Split.TRAIN.value))
        waiting = store.waiting_tasks(Split.TRAIN.value)
        latest = self._latest_model()
        if latest is None:
            if train_labels and (train_labels >= cfg.min_new_labels or waiting == 0):
                return Decision(Plan.TRAIN, f"first model, {train_labels} labels")
            new, since = train_labels, "so far"
        else:
            new = store.labels_changed_since(latest[0], Split.TRAIN)
            since = f"since model {latest[1]}"
            if new >= cfg.min_new_labels:
                return Decision(Plan.TRAIN, f"{new} new labels {since}")
        room = cfg.budget - train_labels - waiting
        if room > 0 and waiting < cfg.min_queued:
            return Decision(Plan.TOPUP, f"only {waiting} tasks wait (min_queued "
                                        f"{cfg.min_queued})")
        budget = "; labelling budget reached" if room <= 0 else ""
        return Decision(None, f"{new} new labels {since} (retrain at {cfg.min_new_labels}), "
                              f"{waiting} tasks waiting in Label Studio{budget}")

    def _run_round(self, round_: int, plan: Plan) -> None:
        start = time.perf_counter()
        self.store.start_round(round_)
        done = self.store.phases_done(round_)
        if "plan" not in done:
            self.store.record_phase(round_, "plan", "done", plan.value)
        for name in PHASES[plan]:
            if name not in done:
                with self._phase(round_, name):
                    getattr(self, f"_{name}")(round_)
        version = self._version(round_) if plan is Plan.TRAIN else None
        self.store.finish_round(round_, version, len(self.store.labels(Split.TRAIN.value)))
        self.echo(f"round {round_} done in {time.perf_counter() - start:.1f} s")

    @contextmanager
    def _phase(self, round_: int, name: str) -> Iterator[None]:
        """Record the phase before and after it runs; a failure is recorded with its reason
        and leaves the round running, so the next cycle resumes it."""
        if self.lock.lost:
            raise ActiveLearnError("another cycle took over the lock (this one stalled for "
                                   "minutes); stopping without further changes")
        self.store.record_phase(round_, name, "started")
        try:
            yield
        except BaseException as exc:
            reason = str(exc) or type(exc).__name__
            self.store.record_phase(round_, name, "failed", reason)
            self.store.fail_round(round_, f"{name}: {reason}")
            raise
        self.store.record_phase(round_, name, "done")
        failpoint(f"after:{name}")

    # -- phases -------------------------------------------------------------------
    def _holdout(self, round_: int) -> None:
        candidates = self._candidates()
        n = min(self.cfg.label_studio.holdout, len(candidates))
        self._random_batch(round_, n, BatchKind.HOLDOUT, candidates)

    def _initial(self, round_: int) -> None:
        self._random_batch(round_, min(self.cfg.loop.initial, self.cfg.loop.budget),
                           BatchKind.INITIAL, self._candidates())

    def _train(self, round_: int) -> None:
        result = steps.train(self.executor, self.cfg, round_, self._version(round_),
                             self.progress)
        self.echo(f"  trained {result['version']} on {result['labels']} labels in "
                  f"{result['seconds']:.1f} s ({result['epochs']} epochs, {result['device']})")

    def _evaluate(self, round_: int) -> None:
        """Record the metrics the train job measured (written next to the checkpoint)."""
        version = self._version(round_)
        path = checkpoint_path(self.cfg, version).with_suffix(".json")
        try:
            metrics = json.loads(path.read_text())["metrics"]
        except (OSError, ValueError, KeyError) as exc:
            raise StateError(f"{path}: the metrics of {version} are unreadable ({exc}); "
                             "delete the checkpoint to train the round again") from None
        for split, found in metrics.items():
            self.store.record_metrics(round_, split, version, found)
            self.echo(f"  {split} accuracy {found['accuracy']:.4f}, macro-F1 "
                      f"{found['macro_f1']:.4f} ({found['items']} items)")
        if "holdout" not in metrics:
            self.echo("  no holdout labels yet: nothing to evaluate on")

    def _review(self, round_: int) -> None:
        """Send the labels the out-of-fold models contradict most to review in Label
        Studio (quality.review_per_round; 0 = off); see review.py."""
        if self.cfg.quality.review_per_round <= 0:
            return
        version = self._version(round_)
        found = select_reviews(self.executor, self.cfg, self.store, round_, version,
                               self.progress)
        specs = review_specs(self.store.reviews(round_), self.cfg.classes, version,
                             self._image_of)
        ls = self.cfg.label_studio
        pushed = push_reviews(self.backend, self.project_id, self.store, round_, specs,
                              ls.import_chunk, ls.max_overlap)
        self.echo(f"  label review: {found} labels the out-of-fold models contradict "
                  f"(folds {self.cfg.quality.review_folds}), {pushed} review tasks pushed")

    def _image_of(self, item_id: str) -> str:
        """The task image reference of an item (label_studio.image_mode)."""
        ls, pos = self.cfg.label_studio, self.position[item_id]
        return image_reference(
            ls.image_mode, item_id, path=self.pool.paths[pos] if self.pool.paths else "",
            image=self.pool.images[pos].numpy() if ls.image_mode == "data-uri" else None,
            document_root=ls.document_root, url_template=ls.url_template)

    def _select(self, round_: int) -> None:
        room = self.cfg.loop.budget - len(self.store.labels(Split.TRAIN.value)) \
            - self.store.waiting_tasks(Split.TRAIN.value)
        candidates = self._candidates()
        n = min(self.cfg.loop.batch, room, len(candidates))
        if n <= 0:
            self.echo("  no batch: the labelling budget is reached or the pool is used up")
            return
        gold = self._gold_share(n)
        asked = request_relabels(self.store, self.cfg.quality, round_, n - len(gold))
        if asked:
            self.echo(f"  asked for another annotation of {asked} disputed items")
        latest = self._latest_model(including=round_)
        if latest is None:  # a top-up before any model: random, like the initial batch
            self._random_batch(round_, n - len(gold) - asked, BatchKind.QUERY, candidates)
        else:
            self._query_batch(round_, n - len(gold) - asked, latest[1], candidates)
        if gold:
            self._gold_batch(round_, gold)

    def _push(self, round_: int) -> None:
        ls = self.cfg.label_studio
        if ls.image_mode == "local-files" and self.pool.paths:
            folder = os.path.commonpath([os.path.dirname(os.path.abspath(p))
                                         for p in self.pool.paths])
            self.backend.ensure_local_storage(self.project_id, folder)
        tasked = self.store.tasks(include_deleted=True)
        listed: dict[str, int] | None = None  # the project's tasks, listed at the first push
        for batch in self.store.batches(round_):
            members = self.store.batch_items(batch["batch_id"])
            items = [(i, s) for i, s in members if i not in tasked]
            if not items:
                continue
            specs = self._task_specs(round_, batch, items)
            failpoint("push:before-import")
            if listed is None:
                listed = self.backend.existing_keys(self.project_id)
            task_ids = self.backend.push(self.project_id, specs, ls.import_chunk, listed)
            failpoint("push:imported")  # the crash between import and bookkeeping
            self.store.record_tasks(batch["batch_id"], round_, task_ids)
            self._set_overlap(batch, members, task_ids)
            if batch["model_version"] and batch["kind"] == BatchKind.QUERY.value:
                self.backend.set_model_version(self.project_id, batch["model_version"])
            self.echo(f"  pushed {len(task_ids)} {batch['kind']} tasks: "
                      f"{self.backend.url}/projects/{self.project_id}/data")
        reopened = apply_relabels(self.store, self.backend, round_)
        if reopened:
            self.echo(f"  raised the overlap of {reopened} disputed tasks by one")

    # -- batches ------------------------------------------------------------------
    def _random_batch(self, round_: int, n: int, kind: BatchKind,
                      candidates: np.ndarray) -> None:
        """n of the candidate pool positions (see _candidates), drawn at random."""
        rng = np.random.default_rng([self.cfg.project.seed, round_, len(candidates)])
        chosen = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
        items = [(self.pool.item_ids[i], 0.0) for i in chosen]
        self.store.add_batch(round_, kind, "random", self.cfg.project.seed, None, items,
                             move_to=Split.HOLDOUT if kind is BatchKind.HOLDOUT else None)

    def _query_batch(self, round_: int, n: int, version: str, selectable: np.ndarray) -> None:
        """n of the selectable pool positions, chosen by the strategy with the model."""
        seed = self.cfg.project.seed * 1000 + round_
        candidates = loop.candidate_positions(selectable, self.cfg.strategy.candidates, seed)
        labeled = self._split_positions(Split.TRAIN, labeled=True)
        chosen = steps.score_and_select(self.executor, self.cfg, version, candidates, labeled,
                                        n, seed, self.progress)
        ids = [self.pool.item_ids[i] for i in chosen["positions"]]
        suggestions = list(zip(ids, chosen["labels"], chosen["confidence"]))
        self.store.add_batch(round_, BatchKind.QUERY, self.cfg.strategy.name, seed, version,
                             list(zip(ids, chosen["scores"])), suggestions)
        self.echo(f"  selected {len(ids)} of {len(candidates)} candidates with "
                  f"{self.cfg.strategy.name} (model {version}, jobs {self.executor.name})")

    def _task_specs(self, round_: int, batch: dict, items: list[tuple[str, float]]
                    ) -> list[TaskSpec]:
        suggested = self.store.suggestions(batch["batch_id"])
        classes, specs = self.cfg.classes, []
        for item_id, score in items:
            guess = suggested.get(item_id)
            specs.append(TaskSpec(
                item_id=item_id, image=self._image_of(item_id), round=round_,
                strategy=batch["strategy"],
                score=score if batch["kind"] in QUERY_KINDS else None,
                # a gold task must look like the query tasks around it
                kind=BatchKind.QUERY.value if batch["kind"] in QUERY_KINDS else batch["kind"],
                suggestion=Suggestion(classes[guess[0]], guess[1], batch["model_version"])
                if guess else None))
        return specs

    def _check_image_mode(self) -> None:
        ls = self.cfg.label_studio
        if ls.image_mode == "data-uri":
            return
        if not self.pool.paths:
            raise ConfigError(f"{self.cfg.path}: label_studio.image_mode: {ls.image_mode} "
                              f"needs image files, and the {self.cfg.data.source} source has "
                              "none; use data-uri")
        if ls.image_mode == "local-files":
            root = os.path.abspath(ls.document_root)
            outside = [p for p in self.pool.paths[:1000]
                       if not os.path.abspath(p).startswith(root + os.sep)]
            if outside:
                raise ConfigError(f"{self.cfg.path}: label_studio.document_root: {outside[0]} "
                                  f"is not inside {root}")

    # -- state helpers --------------------------------------------------------------
    def _ensure_items(self) -> None:
        """Record the pool's items with their split once; later cycles add new items."""
        pool = self.pool
        if self.store.item_count() == 0:
            splits = assign_splits(pool.labels, pool.is_test, self.cfg.splits,
                                   self.cfg.project.seed)
        else:
            splits = np.full(len(pool), Split.TRAIN.value, dtype=object)
        self.store.add_items((item_id, i, pool.paths[i] if pool.paths else None, str(splits[i]))
                             for i, item_id in enumerate(pool.item_ids))
        if needs_clean(self.store, pool):  # the first ingest, or new items appeared
            summary = run_clean(pool, self.store, self.cfg.cleaning,
                                self.cfg.work_dir / "clean")
            self.echo(f"  clean: {summary.groups} duplicate groups ({summary.grouped_items} "
                      f"items), {summary.leakage_pairs} leakage pairs, in "
                      f"{summary.seconds:.1f} s")

    def _candidates(self) -> np.ndarray:
        """Pool positions that may still be selected: train split, never batched, not
        gold, and only a duplicate group's representative (see clean.selectable_positions)."""
        return selectable_positions(self.store, self.pool.item_ids,
                                    also_taken=set(self.store.gold_labels()))

    def _split_positions(self, *splits: Split, labeled: bool = False) -> np.ndarray:
        wanted = {s.value for s in splits}
        labels = self.store.labels() if labeled else None
        return np.array([self.position[i] for i, s in self.store.splits().items()
                         if s in wanted and i in self.position
                         and (labels is None or i in labels)], dtype=np.int64)

    def _latest_model(self, including: int | None = None) -> tuple[int, str] | None:
        """(round, model version) of the newest trained model (a done round, or the round
        `including` if it trained already)."""
        found = None
        for r in self.store.rounds():
            trained = r.status == RoundStatus.DONE.value or r.round == including
            if trained and checkpoint_path(self.cfg, self._version(r.round)).exists():
                found = (r.round, self._version(r.round))
        return found

    def _next_round(self) -> int:
        rounds = self.store.rounds()
        return rounds[-1].round + 1 if rounds else 0

    def _version(self, round_: int) -> str:
        return f"{self.cfg.project.name}-r{round_}"

    def _title(self) -> str:
        return self.cfg.label_studio.project_title or self.cfg.project.name


def run_cycle(cfg: Config, echo: Callable[[str], None], progress: bool = True) -> bool:
    """Run one cycle under the project's lock. Returns False (and does nothing) when
    another cycle holds the lock."""
    from activelearn.data.sources import load_source

    state_path = cfg.work_dir / "state.sqlite"
    with CycleLock(state_path) as lock:
        if lock.holder is not None:
            h = lock.holder
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.acquired_at))
            echo(f"another cycle is running (pid {h.pid} on {h.host}, since {since}); "
                 "nothing done")
            return False
        if lock.took_over is not None:
            echo(f"took over the lock of a cycle that is gone (pid {lock.took_over.pid} on "
                 f"{lock.took_over.host}); resuming its round")
        ls = cfg.label_studio
        executor = make_executor(cfg.jobs)  # Redis first: an outage fails before any change
        backend = LabelStudioBackend.connect(ls.url, workers=ls.parallel_requests)
        if cfg.training.threads > 0:
            torch.set_num_threads(cfg.training.threads)
        pool = load_source(cfg.data, cfg.classes)
        store = Store(state_path)
        try:
            Cycle(cfg, store, backend, pool, executor, lock, echo, progress).run()
        finally:
            store.close()
    return True
