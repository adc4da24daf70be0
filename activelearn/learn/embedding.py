"""A pretrained backbone's embeddings of the pool, computed once and kept in the embedding
cache (data/embeddings.py); in head mode a round reads them instead of running the
backbone, and the cold start picks its first batch from them.

    embedder = Embedder.for_pool(cfg.model, pool, cache_dir, source)
    embedder.embed_missing(pool.images, rows, tags, device)   # only what the cache lacks
    features = embedder.features(rows, tags)                  # [items, dim] float16 tensor

With a remote artifact store the controller publishes the pool's embeddings in shards by
embedding-cache row (publish_features, data/shards.py): a changed pool republishes the
rows that changed; a worker maps the shards it fetched and gathers its pool's rows
(published_features), one shard at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from activelearn.config import Config, ModelConfig
from activelearn.data.artifacts import ArtifactStore
from activelearn.data.embeddings import EmbeddingCache, cache_key, item_keys
from activelearn.data.imageset import FileImages, ImageSet, is_lazy
from activelearn.data.shards import (
    Published,
    Source,
    gather,
    missing_input,
    publish,
    read_manifest,
)
from activelearn.data.sources import cache_dir
from activelearn.data.sources.base import Pool
from activelearn.errors import DataError
from activelearn.learn.backbones import Backbone, load_backbone
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.networks import SplitModel
from activelearn.strategies import SelectionInput, get_strategy, select_batch

log = logging.getLogger("activelearn.embedding")

FEATURES_FOLDER = "features"  # the published embeddings' manifests (parts: features/parts)
CHUNK = 4096  # items embedded, then written and flushed, at a time (the resume granule)


@dataclass
class Embedder:
    """A backbone, its normaliser and the cache its embeddings go to."""

    backbone: Backbone
    norm: Normalizer
    cache: EmbeddingCache
    precision: str = "float32"  # model.embed_precision

    @classmethod
    def for_pool(cls, model: ModelConfig, images: ImageSet, cache_dir: Path,
                 source: dict[str, Any]) -> Embedder:
        """The configured backbone for these images ([items, channels, h, w]) and its
        cache under cache_dir; source: what identifies the data source (its config)."""
        _, channels, height, width = images.shape
        backbone = load_backbone(model, channels, (height, width))
        norm = Normalizer(backbone.mean, backbone.std)
        made_by = {k: v for k, v in backbone.describe().items() if k != "weights"}
        key = cache_key({**made_by, "transform": {  # the weights by digest, not by path
            "image": [channels, height, width], "size": backbone.size,
            "mean": norm.mean, "std": norm.std}, "source": source,
            "precision": model.embed_precision})
        return cls(backbone, norm, EmbeddingCache(cache_dir, key, backbone.dim),
                   model.embed_precision)

    def embed_missing(self, images: ImageSet, rows: np.ndarray, tags: np.ndarray,
                      device: torch.device, batch_size: int = 64,
                      progress: bool = False) -> int:
        """Embed the items (images[i] at rows[i] with tags[i]) the cache does not hold,
        CHUNK at a time (written before the next chunk starts); returns how many."""
        todo = self.cache.missing(rows, tags)
        if not len(todo):
            return 0
        self.cache.reserve(int(np.max(rows)) + 1)
        predictor = self.predictor(device, batch_size)
        start = time.perf_counter()
        bar = tqdm(total=len(todo), desc="embed", unit="img", unit_scale=True, leave=False,
                   disable=not progress)
        for lo in range(0, len(todo), CHUNK):
            part = todo[lo:lo + CHUNK]
            with self._autocast(device):  # (the fast path is traced under it too)
                vectors = predictor(images[torch.from_numpy(part)],
                                    embeddings=True).embeddings
            assert vectors is not None
            self.cache.write(rows[part], vectors, tags[part])
            bar.update(len(part))
        bar.close()
        log.info("embedded %d items with %s in %.1f s", len(todo), self.backbone.name,
                 time.perf_counter() - start)
        return len(todo)

    def _autocast(self, device: torch.device) -> Any:
        """Lower-precision arithmetic for the backbone (model.embed_precision)."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=getattr(torch, self.precision))

    def predictor(self, device: torch.device, batch_size: int) -> Predictor:
        """The backbone as a Predictor whose embeddings are the backbone's output."""
        model = SplitModel(self.backbone.features, self.backbone.dim, 1, 0.0)
        return Predictor(model, self.norm, device, batch_size)

    def features(self, rows: np.ndarray, tags: np.ndarray) -> torch.Tensor:
        """[items, dim] float16: the cached embeddings of rows; DataError when some are
        not computed yet (or their items changed since)."""
        absent = self.cache.missing(rows, tags)
        if len(absent):
            raise DataError(f"{self.cache.path}: {len(absent)} of {len(rows)} items have no "
                            "embedding yet; run `activelearn cycle` (it embeds the pool "
                            "before training)")
        return torch.from_numpy(self.cache.read(rows))


def uses_embeddings(cfg: Config) -> bool:
    """True when the project reads the backbone's cached embeddings: head mode, or a
    cold start picked from them."""
    return bool(cfg.model.weights) and (cfg.model.train == "head"
                                        or cfg.loop.initial_strategy != "random")


def project_embedder(cfg: Config, pool: Pool) -> Embedder:
    """The project's backbone (model.weights) for its pool, with its embedding cache
    under WORK_DIR/cache."""
    root = cfg.data.root  # as a job sees it: a local path made absolute (jobs.kinds.embed)
    if root and "://" not in root and not os.path.isabs(root):
        root = os.path.abspath(root)
    return Embedder.for_pool(cfg.model, pool.images, cache_dir(cfg),
                             {"source": cfg.data.source, "root": root})


def pool_keys(pool: Pool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, tags) of the pool's items in the embedding cache (see data/embeddings.py)."""
    return item_keys(pool.images, None if pool.hashes is None else pool.hashes.sha256)


def pool_rows(pool: Pool) -> np.ndarray:
    """[items] int64: the pool's rows in the embedding cache (pool_keys without the tags,
    which in-memory pools compute from every image)."""
    if isinstance(pool.images, FileImages):
        return np.asarray(pool.images.slots, dtype=np.int64)
    return np.arange(len(pool.images), dtype=np.int64)


def publish_features(artifacts: ArtifactStore, cache: EmbeddingCache, rows: np.ndarray,
                     tags: np.ndarray, previous: str | None) -> Published:
    """Publish the cached embeddings of rows ([items] embedding-cache rows, their tags
    [items]) in shards by row, as patches on the previous publication (a manifest name)
    where it is one; a row's tag is its digest (a row changes when its item does).
    DataError when some are not computed yet."""
    absent = cache.missing(rows, tags)
    if len(absent):
        raise DataError(f"{cache.path}: {len(absent)} of {len(rows)} items have no "
                        "embedding yet; run `activelearn cycle` (it embeds the pool first)")
    spec = {"table": "features", "cache": cache.key, "dim": cache.dim, "dtype": "float16"}
    source = Source(rows, np.asarray(tags, dtype=np.int64).view(np.uint64),
                    lambda keys: {"values": cache.read(keys)})
    return publish(artifacts, FEATURES_FOLDER, source, spec, previous=previous)


def published_features(artifacts: ArtifactStore, name: str, pool: Pool) -> torch.Tensor:
    """[items, dim] float16, the pool's embeddings as the controller published them under
    `name` (a manifest; an older controller's .npy in pool order is read too), gathered
    one mapped shard at a time into one array. StateError for a missing or tampered
    part; DataError when rows are missing or hold other items than the pool's."""
    if name.endswith(".npy"):
        try:
            return torch.from_numpy(np.load(artifacts.fetch(name)))
        except FileNotFoundError as exc:
            raise missing_input(str(exc.filename)) from None
    manifest = read_manifest(artifacts, name)
    rows = pool_rows(pool)
    out = np.empty((len(rows), int(manifest["table"]["dim"])), dtype=np.float16)
    found, digests = gather(artifacts, manifest, rows, "values", out)
    stale = ~found
    if is_lazy(pool.images):  # file pools: the tags are the files' digests, cheap
        stale |= digests.view(np.int64) != pool_keys(pool)[1]
    if stale.any():
        raise DataError(f"{artifacts.url}/{name}: {int(stale.sum())} of {len(rows)} pool "
                        "items have no published embedding (or another item's); run "
                        "`activelearn cycle` (it publishes them again)")
    return torch.from_numpy(out)


def with_features(pool: Pool, features: torch.Tensor) -> Pool:
    """The pool with its images replaced by their embeddings ([items, dim]): what head
    mode trains on and scores."""
    return replace(pool, images=features)


def pool_features(cfg: Config, pool: Pool, device: torch.device,
                  progress: bool = False) -> torch.Tensor:
    """[items, dim] float16: the backbone's embeddings of the whole pool, computing here
    (inline) only those the cache lacks."""
    embedder = project_embedder(cfg, pool)
    rows, tags = pool_keys(pool)
    embedder.embed_missing(pool.images, rows, tags, device, progress=progress)
    return embedder.features(rows, tags)


def cold_start(name: str, features: torch.Tensor, positions: np.ndarray, n: int,
               seed: int) -> np.ndarray:
    """[n] pool positions out of `positions` that strategy `name` (kmeans, typiclust)
    picks from their embeddings (features: [pool items, dim]), best first."""
    emb = features[torch.from_numpy(positions)].float().numpy()
    inp = SelectionInput(np.ones((len(positions), 1), dtype=np.float32), emb)
    chosen, _ = select_batch(get_strategy(name), inp, positions, n, seed)
    return chosen
