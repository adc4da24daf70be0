"""Sharded tables on an S3 store (moto's server): a worker fetches only the parts it has
not fetched before, a torn local copy is fetched again, and a part changed in the bucket
is refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelearn.data import shards
from activelearn.data.artifacts import ArtifactStore
from activelearn.errors import StateError

SPEC = {"table": "test"}


def source(values: np.ndarray, digests: np.ndarray) -> shards.Source:
    return shards.Source(np.arange(len(values)), digests, lambda k: {"values": values[k]})


def read(store: ArtifactStore, name: str, count: int) -> np.ndarray:
    out = np.zeros((count, 4), dtype=np.float32)
    found, _ = shards.gather(store, shards.read_manifest(store, name), np.arange(count),
                             "values", out)
    assert found.all()
    return out


def fetched(store: ArtifactStore) -> set[str]:
    """The names a worker's scratch holds a copy of."""
    root = store.scratch / "fetched"
    return {"/".join(p.relative_to(root).parts[1:]) for p in root.rglob("*") if p.is_file()}


def test_a_worker_fetches_only_new_parts_and_refuses_a_changed_one(s3_bucket,
                                                                   tmp_path: Path) -> None:
    url = f"s3://{s3_bucket.name}/artifacts"
    controller = ArtifactStore(url, tmp_path / "controller")
    values = np.arange(5000 * 4, dtype=np.float32).reshape(5000, 4)
    digests = np.arange(1, 5001, dtype=np.uint64)
    first = shards.publish(controller, "t", source(values, digests), SPEC, shard_size=1000)
    worker = ArtifactStore(url, tmp_path / "worker")
    assert np.array_equal(read(worker, first.name, 5000), values)
    assert fetched(worker) == {first.name, *first.parts}
    values[[10, 2500]] += 1
    digests[[10, 2500]] += 9999
    second = shards.publish(controller, "t", source(values, digests), SPEC, shard_size=1000,
                            previous=first.name)
    before = fetched(worker)
    assert np.array_equal(read(worker, second.name, 5000), values)
    new = set(second.parts) - set(first.parts)
    assert len(new) == 2 and fetched(worker) - before == {second.name, *new}

    # a torn copy in the worker's scratch: fetched again
    part = second.parts[0]
    copy = worker.fetch(part)
    copy.write_bytes(copy.read_bytes()[:-10])
    assert np.array_equal(read(worker, second.name, 5000), values)

    # a part changed in the bucket: refused, by a worker that never fetched it before
    key = f"artifacts/{part}"
    body = bytearray(s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"]
                     .read())
    body[-1] ^= 1
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=bytes(body))
    fresh = ArtifactStore(url, tmp_path / "fresh")
    with pytest.raises(StateError, match="does not match its name") as exc:
        read(fresh, second.name, 5000)
    assert "\n" not in str(exc.value) and part in str(exc.value)
