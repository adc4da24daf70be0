"""k-means selection: the candidate nearest each of n centroids, larger clusters first."""

from __future__ import annotations

import numpy as np

from activelearn.strategies._clustering import largest_first, nearest_unpicked
from activelearn.strategies._inputs import check
from activelearn.strategies.base import Selection, SelectionInput, Strategy, register_strategy


@register_strategy
class KMeans(Strategy):
    """Cluster the candidates' embeddings into n clusters (k-means, seeded) and pick, for
    each centroid, the nearest candidate not picked yet, larger clusters first.

    It reads only the embeddings, so it also picks the first batch, before any model
    exists (the caller passes probs of ones). A score is the cluster's size: the
    candidates nearest its centroid.
    """

    name = "kmeans"
    needs_embeddings = True

    def _select(self, inp: SelectionInput, n: int, rng: np.random.Generator) -> Selection:
        emb = check(inp, "embeddings", self.name)
        centroids, assignment, sizes, order = largest_first(emb, n, rng, self.name)
        positions = nearest_unpicked(emb, centroids, order, assignment.nearest)
        return Selection(positions=positions, scores=sizes[order].astype(np.float64))
