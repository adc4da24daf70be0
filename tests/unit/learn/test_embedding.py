"""The pool's embeddings as the controller publishes them for workers elsewhere: rows by
embedding-cache row, gathered back in pool order; rows not published (or not computed)
refused with one line; an older controller's whole-pool .npy still read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from activelearn.data.artifacts import ArtifactStore
from activelearn.data.embeddings import EmbeddingCache
from activelearn.data.sources.base import Pool
from activelearn.errors import DataError
from activelearn.learn.embedding import publish_features, published_features


def pool_of(count: int) -> Pool:
    return Pool([f"i{k}" for k in range(count)], torch.zeros((count, 1, 2, 2), dtype=torch.uint8),
                np.zeros(count, dtype=np.int64), np.zeros(count, dtype=bool), ["a"])


def test_published_features_read_back_in_pool_order_and_patches_apply(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")
    cache = EmbeddingCache(tmp_path / "cache", "k", 4)
    rows = np.arange(300)
    tags = rows + (1 << 60)
    vectors = np.random.default_rng(0).standard_normal((300, 4)).astype(np.float16)
    with pytest.raises(DataError, match="300 of 300 items have no embedding yet"):
        publish_features(store, cache, rows, tags, None)
    cache.write(rows, vectors, tags)
    first = publish_features(store, cache, rows, tags, None)
    assert torch.equal(published_features(store, first.name, pool_of(300)),
                       torch.from_numpy(vectors))
    vectors[7] += 1
    cache.write(rows[7:8], vectors[7:8], tags[7:8] + 1)
    second = publish_features(store, cache, rows, np.r_[tags[:7], tags[7] + 1, tags[8:]],
                              first.name)
    assert second.written < first.total / 10
    assert torch.equal(published_features(store, second.name, pool_of(300)),
                       torch.from_numpy(vectors))
    with pytest.raises(DataError, match="10 of 310 pool items have no published embedding"):
        published_features(store, second.name, pool_of(310))


def test_an_older_controllers_whole_pool_array_is_still_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")
    vectors = np.ones((5, 4), dtype=np.float16)
    buffer = io.BytesIO()
    np.save(buffer, vectors)
    store.publish_bytes("features/old-digest.npy", buffer.getvalue())
    assert torch.equal(published_features(store, "features/old-digest.npy", pool_of(5)),
                       torch.from_numpy(vectors))
