"""The batch planner: which items go into a round's batches, recorded in state.

The first round draws a random holdout batch (labelled by people, used only for
evaluation) and an initial batch (random, or picked from a pretrained backbone's
embeddings: loop.initial_strategy). A select phase asks the strategy for a query
batch with the latest model (random before there is one), and mixes in gold items
(quality.gold_rate) and requests for another annotation of disputed items
(quality.relabel_fraction); with loop.batch auto its size follows the measured
throughput (batch_size.py). Only candidates are ever chosen: train-split items never
batched, labelled or tasked, not gold, and only a duplicate group's representative. Like
the labelling budget, a criterion of loop.stop_when that is met stops selection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.jobs.kinds.select import score_and_select
from activelearn.kinds import BatchKind, Split
from activelearn.learn.embedding import cold_start, pool_keys, project_embedder
from activelearn.loop.batch_size import plan_auto_batch
from activelearn.loop.clean import selectable_positions
from activelearn.loop.relabel import request_relabels
from activelearn.loop.stopping import stop_reason
from activelearn.project import Project
from activelearn.state import Store
from activelearn.strategies import candidate_positions


class BatchPlanner:
    """Plans the batches of one project's rounds (see the module)."""

    def __init__(self, project: Project, store: Store, pool: Pool,
                 echo: Callable[[str], None], progress: bool = True) -> None:
        self.project, self.store, self.pool = project, store, pool
        self.echo, self.progress = echo, progress
        self.position = {item_id: i for i, item_id in enumerate(pool.item_ids)}

    @property
    def cfg(self) -> Config:
        return self.project.cfg  # model.weights: pool resolved mid-round

    def holdout(self, round_: int) -> None:
        """The random holdout batch: its items move to the holdout split."""
        candidates = self.candidates()
        n = min(self.cfg.label_studio.holdout, len(candidates))
        self._random_batch(round_, n, BatchKind.HOLDOUT, candidates)

    def initial(self, round_: int) -> None:
        """The initial batch, the first training labels: random, or representative items
        of the backbone's embeddings (loop.initial_strategy: kmeans, typiclust)."""
        n, how = min(self.cfg.loop.initial, self.cfg.loop.budget), self.cfg.loop.initial_strategy
        if how == "random":
            self._random_batch(round_, n, BatchKind.INITIAL, self.candidates())
            return
        candidates = self.candidates()
        embedder = project_embedder(self.cfg, self.pool)
        features = embedder.features(*pool_keys(self.pool))
        chosen = cold_start(how, features, candidates, min(n, len(candidates)),
                            self.cfg.project.seed + round_)
        self.store.batches.add(round_, BatchKind.INITIAL, how, self.cfg.project.seed, None,
                               [(self.pool.item_ids[i], 0.0) for i in chosen])

    def select(self, round_: int, version: str | None) -> None:
        """A batch of up to loop.batch items (auto: as many as batch_size.py plans)
        within the labelling budget: gold items, relabel requests, and new items chosen
        by the strategy with the model `version` (random when there is no model yet);
        none once loop.stop_when is met."""
        store, loop = self.store, self.cfg.loop
        labelled = len(store.labels.current(Split.TRAIN.value))
        stopped = stop_reason(store, loop, labelled)
        if stopped:
            self.echo(f"  no batch: {stopped}")
            return
        room = loop.budget - labelled - store.tasks.waiting(Split.TRAIN.value)
        candidates = self.candidates()
        size = self._batch_size(round_)
        if size <= 0:  # auto: the queue holds enough (the line above said why)
            return
        n = min(size, room, len(candidates))
        if n <= 0:
            self.echo("  no batch: the labelling budget is reached or the pool is used up")
            return
        gold = self._gold_share(n)
        asked = request_relabels(store, self.cfg.quality, round_, n - len(gold))
        if asked:
            self.echo(f"  asked for another annotation of {asked} disputed items")
        if version is None:  # a top-up before any model: random, like the initial batch
            self._random_batch(round_, n - len(gold) - asked, BatchKind.QUERY, candidates)
        else:
            self._query_batch(round_, n - len(gold) - asked, version, candidates)
        if gold:
            self._gold_batch(round_, gold)

    def _batch_size(self, round_: int) -> int:
        """loop.batch, or with auto the planned size (its reason printed)."""
        if isinstance(self.cfg.loop.batch, int):
            return self.cfg.loop.batch
        auto = plan_auto_batch(self.store, self.cfg.loop, self.cfg.label_studio, round_)
        self.echo(f"  {auto.why}")
        return auto.size

    def candidates(self) -> np.ndarray:
        """Pool positions that may still be selected (see the module)."""
        return selectable_positions(self.store, self.pool.item_ids,
                                    also_taken=set(self.store.gold.labels()))

    def _labeled_train_positions(self) -> np.ndarray:
        labels = self.store.labels.current()
        return np.array([self.position[i] for i, s in self.store.items.splits().items()
                         if s == Split.TRAIN.value and i in self.position and i in labels],
                        dtype=np.int64)

    def _random_batch(self, round_: int, n: int, kind: BatchKind,
                      candidates: np.ndarray) -> None:
        """n of the candidate pool positions, drawn at random."""
        rng = np.random.default_rng([self.cfg.project.seed, round_, len(candidates)])
        chosen = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
        items = [(self.pool.item_ids[i], 0.0) for i in chosen]
        self.store.batches.add(round_, kind, "random", self.cfg.project.seed, None, items,
                               move_to=Split.HOLDOUT if kind is BatchKind.HOLDOUT else None)

    def _query_batch(self, round_: int, n: int, version: str, selectable: np.ndarray) -> None:
        """n of the selectable pool positions, chosen by the strategy with the model."""
        strategy = self.cfg.strategy
        seed = self.cfg.project.seed * 1000 + round_
        candidates = candidate_positions(selectable, strategy.candidates, seed)
        labeled = self._labeled_train_positions()
        chosen = score_and_select(self.project, self.store, version, candidates, labeled, n,
                                  seed, self.progress)
        ids = [self.pool.item_ids[i] for i in chosen["positions"]]
        suggestions = list(zip(ids, chosen["labels"], chosen["confidence"]))
        picked = chosen["strategy"]  # strategy.name, or what auto picked this round
        self.store.batches.add(round_, BatchKind.QUERY, picked, seed, version,
                               list(zip(ids, chosen["scores"])), suggestions)
        weighted = ", per expected second of labelling" if chosen.get("cost_weighted") else ""
        auto = f" (strategy auto, {len(labeled)} labels)" if picked != strategy.name else ""
        self.echo(f"  selected {len(ids)} of {len(candidates)} candidates with {picked}{auto}"
                  f"{weighted} (model {version}, jobs {self.project.executor.name})")

    def _gold_share(self, n: int) -> list[str]:
        """The gold items that take quality.gold_rate of a batch of n (never all of it)."""
        rate = self.cfg.quality.gold_rate
        unused = self.store.gold.unbatched() if rate > 0 else []
        count = min(int(round(n * rate)), len(unused), n - 1)
        if count <= 0:
            return []
        rng = np.random.default_rng([self.cfg.project.seed, n, len(unused)])
        return [unused[i] for i in sorted(rng.choice(len(unused), size=count, replace=False))]

    def _gold_batch(self, round_: int, gold: list[str]) -> None:
        """A gold batch whose scores are drawn from the round's query batch, so the gold
        tasks sort among the others."""
        batches = self.store.batches
        scores = [s for b in batches.all(round_) if b["kind"] == BatchKind.QUERY.value
                  for _, s in batches.items(b["batch_id"])] or [0.0]
        rng = np.random.default_rng([self.cfg.project.seed, round_])
        items = [(item_id, float(rng.choice(scores))) for item_id in gold]
        batches.add(round_, BatchKind.GOLD, "gold", self.cfg.project.seed, None, items)
        self.echo(f"  mixed {len(gold)} gold items into the batch")
