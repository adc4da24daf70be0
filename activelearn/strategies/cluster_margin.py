"""Cluster-margin (Citovsky et al. 2021, "Batch active learning at scale"): the
lowest-margin candidates, spread over clusters."""

from __future__ import annotations

import numpy as np

from activelearn.strategies._clustering import cluster, members_of
from activelearn.strategies._inputs import check, require
from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy
from activelearn.strategies.scoring import rank_by_score
from activelearn.strategies.uncertainty import Margin

# Lowest-margin candidates kept per pick (the paper keeps k_m = 10 x the batch): the
# clustering then sees 10,000 candidates for a batch of 1,000, whatever the pool.
_KEPT_PER_PICK = 10


@register_strategy
class ClusterMargin(Strategy):
    """Keep the 10 x n candidates of smallest margin (top two probabilities closest),
    cluster their embeddings into n clusters (k-means, seeded), then take one candidate
    per cluster in turn, smallest clusters first, each cluster's by smallest margin.

    The margin pre-filter makes it cheap on pools of millions: only the kept candidates'
    embeddings are read. A score is 1 - margin, as for `margin`.
    """

    name = "cluster-margin"
    needs_embeddings = True

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        uncertainty = Margin().compute_score(require(inp, "probs", self.name))
        kept = rank_by_score(uncertainty, min(_KEPT_PER_PICK * n, inp.size), rng)
        points = np.asarray(check(inp, "embeddings", self.name)[kept], dtype=np.float32)
        _, assignment = cluster(points, n, rng, self.name)
        # members_of keeps kept's order in each cluster: by smallest margin.
        members = members_of(assignment.labels, n)
        smallest_first = np.argsort(assignment.sizes(n), kind="stable")
        chosen = _round_robin([members[c] for c in smallest_first], n)
        positions = kept[chosen]
        return Selection(positions=positions, scores=uncertainty[positions])


def _round_robin(queues: list[np.ndarray], n: int) -> np.ndarray:
    """[n] items taken one per queue in turn (first items of every queue, then second
    ones...), skipping exhausted queues; the queues hold at least n items together."""
    items = np.concatenate(queues)
    turn = np.concatenate([np.arange(len(q)) for q in queues])
    queue = np.repeat(np.arange(len(queues)), [len(q) for q in queues])
    return items[np.lexsort((queue, turn))][:n]
