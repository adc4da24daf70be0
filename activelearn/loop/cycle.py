"""`activelearn cycle`: one cron-safe round of the real loop against Label Studio.

A cycle pulls the annotations finished since the last pull, then decides what the
round needs (plan.py: decide_round):

- bootstrap: the first round: a random holdout batch (labelled by people, used only for
  evaluation) and a random initial batch, pushed to Label Studio;
- train: enough new labels came back: train, evaluate on the holdout, send likely label
  errors to review, select a batch with the strategy, push it with the model's
  suggestions;
- topup: too few tasks wait unlabelled: select a batch with the latest model and push;
- nothing: only the pull.

Selection stops at the labelling budget (loop.budget), and once a loop.stop_when criterion
is met (loop/stopping.py: the forecast's gain, the holdout accuracy); pulls and
training go on.

Which phases a plan runs is the table plan.PLANS; what each phase does is Cycle.phases (the
batch planner in batches.py, the task pusher in push.py, training and review here).
Every phase is recorded in state before and after it runs and reads what earlier phases
left in state or on disk (the batch, the checkpoint), so a rerun after a crash resumes
the unfinished round at its first unfinished phase. Pushing is idempotent (Label Studio
is asked which items already have tasks), a pull is recorded with its cursor in one
transaction. After a finished round, retention.py removes from the artifact store what no
round, `serve` or review needs any more (jobs.keep_models).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.errors import ActiveLearnError, StateError
from activelearn.failpoints import failpoint
from activelearn.jobs.kinds.train import train
from activelearn.kinds import RoundStatus, Split
from activelearn.learn.checkpoints import (
    checkpoint_name,
    metrics_name,
    model_problem,
    model_version,
)
from activelearn.loop.batch_size import plan_auto_batch
from activelearn.loop.batches import BatchPlanner
from activelearn.loop.clean import needs_clean, propagate_labels, record_items, run_clean
from activelearn.loop.lock import CycleLock
from activelearn.loop.plan import PLANS, Decision, Plan, decide_round
from activelearn.loop.project import init_project
from activelearn.loop.pull import pull_annotations
from activelearn.loop.push import TaskPusher, check_image_mode
from activelearn.loop.retention import mark_round_start, retain_after_round
from activelearn.loop.review import push_reviews, review_specs, select_reviews
from activelearn.loop.stopping import project_outlook
from activelearn.loop.weights import prepare_weights
from activelearn.project import Project
from activelearn.quality.gold import read_gold_file
from activelearn.quality.stopping import accuracy_text
from activelearn.state import Store

if TYPE_CHECKING:
    from activelearn.annotation.backend import AnnotationBackend
    from activelearn.jobs.executor import Executor


class Cycle:
    """One cycle of a project: the round state machine. The project hands it its
    collaborators (the annotation backend, the executor, the artifact store; see
    loop.run.run_cycle); the project's link to the annotation project is made by `run`."""

    def __init__(self, project: Project, store: Store, pool: Pool, lock: CycleLock,
                 echo: Callable[[str], None], progress: bool = True,
                 retrain: bool = False) -> None:
        self.project, self.store, self.pool = project, store, pool
        self.artifacts = project.artifacts
        self.lock, self.echo, self.progress, self.retrain = lock, echo, progress, retrain
        self.planner = BatchPlanner(project, store, pool, echo, progress)
        self.pusher: TaskPusher | None = None  # once the project is linked (run)

    @property
    def cfg(self) -> Config:
        return self.project.cfg  # model.weights: pool resolved mid-round (initial)

    @property
    def backend(self) -> AnnotationBackend:
        return self.project.backend  # connected by the project when first used

    @property
    def executor(self) -> Executor:
        return self.project.executor

    @property
    def phases(self) -> dict[str, Callable[[int], None]]:
        """Phase name -> what it does with a round number."""
        assert self.pusher is not None, "run() links the project first"
        return {"holdout": self.planner.holdout, "initial": self._initial,
                "train": self._train, "evaluate": self._evaluate, "review": self._review,
                "select": self._select, "push": self.pusher.push}

    def run(self) -> None:
        """Link the project, pull, then run (or resume) the round the state needs."""
        check_image_mode(self.cfg, self.pool)
        self._check_lock()
        project_id = self._prepare()
        self.pusher = TaskPusher(self.cfg, self.store, self.backend, self.pool, project_id,
                                 self.echo)
        running = next((r.round for r in self.store.rounds.all()
                        if r.status == RoundStatus.RUNNING.value), None)
        round_ = running if running is not None else self._next_round()
        with self._phase(round_, "pull"):
            pull_annotations(self.backend, self.store, project_id, self.cfg.classes,
                             round_, self.planner.position, self.echo)
            if self.cfg.cleaning.propagate_labels:
                copied = propagate_labels(self.store, round_)
                if copied:
                    self.echo(f"  copied {copied} labels to duplicates of labelled items")
        if running is not None:
            plan = Plan(self.store.rounds.phases_done(running)["plan"])
            self.echo(f"round {running}: resuming the unfinished {plan.value} round")
        else:
            decision = Decision(Plan.TRAIN, "a retrain was asked for") \
                if self.retrain and self.store.batches.all() else self.decide()
            if decision.plan is None:
                self.echo(f"nothing to do: {decision.why}")
                return
            self.echo(f"round {round_}: {decision.plan.value} ({decision.why})")
            plan = decision.plan
        self._run_round(round_, plan)

    def decide(self) -> Decision:
        """What this cycle's round does, and why."""
        return decide_round(self.store, self.cfg.loop, self._latest_model(),
                            self._unselectable)

    def _unselectable(self) -> str | None:
        """Why a top-up now would select nothing (no round is recorded then), or None."""
        if not len(self.planner.candidates()):
            return "the pool is used up: no unlabeled item left to select"
        if not isinstance(self.cfg.loop.batch, int):  # auto: may plan none
            auto = plan_auto_batch(self.store, self.cfg.loop, self.cfg.label_studio,
                                   self._next_round())
            return auto.why if auto.size <= 0 else None
        return None

    # -- the round's state machine ------------------------------------------------
    def _run_round(self, round_: int, plan: Plan) -> None:
        start = time.perf_counter()
        rounds = self.store.rounds
        rounds.start(round_)
        mark_round_start(self.artifacts, self._version(round_))  # retention's cutoff
        if "plan" not in rounds.phases_done(round_):
            rounds.record_phase(round_, "plan", "done", plan.value)
        plan = self._recover(round_, plan)
        done = rounds.phases_done(round_)
        phases = self.phases
        for name in PLANS[plan]:
            if name not in done:
                with self._phase(round_, name):
                    phases[name](round_)
        version = self._version(round_) if plan is Plan.TRAIN else None
        rounds.finish(round_, version, len(self.store.labels.current(Split.TRAIN.value)))
        self.echo(f"round {round_} done in {time.perf_counter() - start:.1f} s")
        retain_after_round(self.project, self.store, self.echo)  # what no round needs goes

    @contextmanager
    def _phase(self, round_: int, name: str) -> Iterator[None]:
        """Record the phase before and after it runs; a failure is recorded with its reason
        and leaves the round running, so the next cycle resumes it."""
        self._check_lock()
        rounds = self.store.rounds
        rounds.record_phase(round_, name, "started")
        try:
            yield
        except BaseException as exc:
            reason = str(exc) or type(exc).__name__
            rounds.record_phase(round_, name, "failed", reason)
            rounds.fail(round_, f"{name}: {reason}")
            raise
        rounds.record_phase(round_, name, "done")
        failpoint(f"after:{name}")

    def _check_lock(self) -> None:
        """Stop (before writing anything more) when the lock is no longer this cycle's."""
        holder = self.store.locks.holder(self.lock.name)
        if self.lock.lost or holder is None or holder.owner != self.lock.owner:
            raise ActiveLearnError("another cycle took over the lock (this one stalled, or "
                                   "the lock was handed over); stopping without further "
                                   "changes")

    def _recover(self, round_: int, plan: Plan) -> Plan:
        """The model files a round still needs are checked before it goes on: a lost or
        unreadable model of this round is trained again (with the evaluation that read
        it), and a top-up whose latest model is unusable becomes a training round. The
        round never uses another model than the one state names, and never fails the
        same way on every run."""
        rounds, done = self.store.rounds, self.store.rounds.phases_done(round_)
        if "select" in done:
            return plan
        if plan is Plan.TRAIN and "train" in done:
            problem = model_problem(self.artifacts, self._version(round_))
            if problem is not None:
                self.echo(f"  the model of round {round_} is unusable ({problem}): "
                          "training it again")
                for name in ("train", "evaluate"):
                    rounds.record_phase(round_, name, "lost", problem)
                self._discard_model(self._version(round_))
        elif plan is Plan.TOPUP:
            latest = self._latest_model()
            problem = latest and model_problem(self.artifacts, latest[1])
            if latest is not None and problem:
                self.echo(f"  the latest model {latest[1]} is unusable ({problem}): this "
                          "round trains a new one instead")
                rounds.record_phase(round_, "plan", "done", Plan.TRAIN.value)
                return Plan.TRAIN
        return plan

    def _discard_model(self, version: str) -> None:
        """Remove what is left of a model version's files, so training publishes anew."""
        for name in (checkpoint_name(version), metrics_name(version)):
            self.artifacts.remove(name)

    def _initial(self, round_: int) -> None:
        """The initial batch; with model.weights: pool the pretraining runs first (the
        holdout is drawn by now: its items stay out), then the embeddings."""
        if self.cfg.model.pool_weights:  # other weights were embedded before the round
            prepare_weights(self.project, self.store, self.pool, self.echo, self.progress)
        self.planner.initial(round_)

    # -- phases of a training round ------------------------------------------------
    def _train(self, round_: int) -> None:
        # files left by a run killed between publishing and recording the phase
        self._discard_model(self._version(round_))
        result = train(self.project, self.store, round_, self._version(round_),
                       self.progress)
        self.echo(f"  trained {result['version']} ({made_by(result)}) on {result['labels']} "
                  f"labels in {result['seconds']:.1f} s ({result['epochs']} epochs, "
                  f"{result['device']})")

    def _evaluate(self, round_: int) -> None:
        """Record the metrics the train job measured (written next to the checkpoint)."""
        version = self._version(round_)
        name = metrics_name(version)
        try:
            result = self.artifacts.read_json(name)
            metrics = result["metrics"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # the next run finds the model unusable and trains it again (see _recover)
            raise StateError(f"{self.artifacts.url}/{name}: the metrics of {version} are "
                             f"unreadable ({type(exc).__name__}); the next cycle trains the "
                             "round again") from None
        made = {k: result[k] for k in ("model", "mode", "weights_sha256") if k in result}
        for split, found in metrics.items():
            self.store.metrics.record(round_, split, version, {**found, **made})
            self.echo(f"  {split} accuracy {accuracy_text(found)}, macro-F1 "
                      f"{found['macro_f1']:.4f} ({found['items']} items)")
        if "holdout" not in metrics:
            self.echo("  no holdout labels yet: nothing to evaluate on")
            return
        labelled = len(self.store.labels.current(Split.TRAIN.value))
        for line in project_outlook(self.store, self.cfg.loop, labelled).lines():
            self.echo(f"  {line}")

    def _review(self, round_: int) -> None:
        """Send the labels the out-of-fold models contradict most to review in Label
        Studio (quality.review_per_round; 0 = off); see review.py."""
        quality = self.cfg.quality
        if quality.review_per_round <= 0:
            return
        assert self.pusher is not None
        version = self._version(round_)
        found = select_reviews(self.project, self.store, round_, version, self.progress)
        specs = review_specs(self.store.reviews.rows(round_), self.cfg.classes, version,
                             self.pusher.image_of)
        ls = self.cfg.label_studio
        pushed = push_reviews(self.backend, self.pusher.project_id, self.store, round_, specs,
                              ls.import_chunk, ls.max_overlap)
        self.echo(f"  label review: {found} labels the out-of-fold models contradict "
                  f"(folds {quality.review_folds}), {pushed} review tasks pushed")

    def _select(self, round_: int) -> None:
        latest = self._latest_model(including=round_)
        self.planner.select(round_, latest[1] if latest else None)

    # -- state helpers --------------------------------------------------------------
    def _prepare(self) -> int:
        """Link the Label Studio project, record the pool's items (cleaning new ones) and
        the gold file's items; returns the project id."""
        ls = self.cfg.label_studio
        gold = {}  # read first: a broken gold file fails before anything is written
        if self.cfg.quality.gold_file:  # again each cycle: the file may have grown
            gold = read_gold_file(self.cfg.quality.gold_file, self.cfg.classes,
                                  self.planner.position)
        linked = init_project(self.backend, self.store,
                              ls.project_title or self.cfg.project.name,
                              list(self.cfg.classes), ls.instructions)
        self.backend.projects.ensure_overlap(linked.project_id, ls.max_overlap)
        record_items(self.store, self.pool, self.cfg.splits, self.cfg.project.seed)
        if needs_clean(self.store, self.pool):  # the first ingest, or new items appeared
            summary = run_clean(self.pool, self.store, self.cfg.cleaning,
                                self.project.paths.clean)
            self.echo(f"  clean: {summary.groups} duplicate groups ({summary.grouped_items} "
                      f"items), {summary.leakage_pairs} leakage pairs, in "
                      f"{summary.seconds:.1f} s")
        if gold:
            self.store.gold.add(gold.items())
        return linked.project_id

    def _latest_model(self, including: int | None = None) -> tuple[int, str] | None:
        """(round, model version) of the newest model state names: a finished round's
        model, or the round `including` if it trained already. Whether its files are
        usable is not looked at here (see _recover): never an older model instead."""
        found = None
        for r in self.store.rounds.all():
            if r.status == RoundStatus.DONE.value and r.model_version:
                found = (r.round, r.model_version)
            elif r.round == including and "train" in self.store.rounds.phases_done(r.round):
                found = (r.round, self._version(r.round))
        return found

    def _next_round(self) -> int:
        rounds = self.store.rounds.all()
        return rounds[-1].round + 1 if rounds else 0

    def _version(self, round_: int) -> str:
        return model_version(self.cfg.project.name, round_)


def made_by(result: dict) -> str:
    """"small_cnn, head on weights 5ff016cebd3ecf1d": what a train job's model is."""
    text = f"{result.get('model', '?')}, {result.get('mode', 'scratch')}"
    return text + (f" on weights {result['weights_sha256']}"
                   if result.get("weights_sha256") else "")
