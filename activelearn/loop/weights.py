"""A cycle's weights before any model: model.weights: pool resolved (made by a pretrain
job the first time, after the first round's holdout is drawn: its items never take
part), then the backbone's embeddings of what the embedding cache lacks (any weights)."""

from __future__ import annotations

from collections.abc import Callable

from activelearn.data.sources.base import Pool
from activelearn.jobs.kinds.embed import embed
from activelearn.learn.embedding import uses_embeddings
from activelearn.project import Project
from activelearn.state import Store


def prepare_weights(project: Project, store: Store, pool: Pool, echo: Callable[[str], None],
                    progress: bool, ready: bool = True) -> None:
    """Resolve model.weights: pool (see Project.resolve_weights; ready: the holdout is
    drawn), then, when the project uses embeddings, embed what the embedding cache lacks.
    Nothing to embed while pool stays unresolved."""
    if project.cfg.model.pool_weights:
        made = project.resolve_weights(store, pool, progress, ready)
        if made is not None:
            info = made.info
            how = (f"pretrained {info.get('method')} for {info.get('epochs')} epochs on "
                   f"{info.get('items')} train items in {info.get('seconds', 0):.1f} s"
                   if made.trained else "reused the pretrained weights")
            echo(f"  {how}: {made.name}")
    cfg = project.cfg
    if not cfg.model.pool_weights and uses_embeddings(cfg):  # once per item
        embedded = embed(project, store, pool, progress)
        if embedded:
            echo(f"embedded {embedded} items with {cfg.model.name} ({cfg.model.weights})")
