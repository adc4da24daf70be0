"""Sharded tables in the artifact store: rows read back by key in any order, a 1% change
scattered over every shard republishes about 1% of the bytes, a shard is rebased before
its patches grow past their limit, and a part that is gone or not what its name says is
one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelearn.data import shards
from activelearn.data.artifacts import ArtifactStore
from activelearn.errors import StateError

SPEC = {"table": "test", "dim": 8}


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")


class Table:
    """rows keyed by slot (vectors [rows, 8] float16), each with a digest."""

    def __init__(self, slots: np.ndarray, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.keys = np.asarray(slots, dtype=np.int64)
        self.values = self.rng.standard_normal((len(slots), 8)).astype(np.float16)
        self.digests = np.arange(1, len(slots) + 1, dtype=np.uint64)

    def source(self) -> shards.Source:
        at = {k: i for i, k in enumerate(self.keys.tolist())}
        return shards.Source(self.keys, self.digests,
                             lambda keys: {"values": self.values[[at[k] for k in keys]]})

    def change(self, positions: np.ndarray) -> None:
        self.values[positions] += 1
        self.digests[positions] += 1_000_000

    def read(self, store: ArtifactStore, name: str, keys: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((len(keys), 8), dtype=np.float16)
        found, _ = shards.gather(store, shards.read_manifest(store, name), keys, "values", out)
        return found, out


def test_rows_read_back_by_key_in_any_order(store: ArtifactStore) -> None:
    table = Table(np.r_[np.arange(0, 2500), np.arange(4000, 4100)])  # a hole: slots freed
    made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    manifest = shards.read_manifest(store, made.name)
    assert [s["index"] for s in manifest["shards"]] == [0, 1, 2, 4]
    assert set(manifest["parts"]) == {s["base"][0] for s in manifest["shards"]}
    assert made.written == made.total  # everything was new
    order = np.random.default_rng(1).permutation(len(table.keys))
    wanted = np.r_[table.keys[order], 3000]  # and one slot nobody holds
    found, out = table.read(store, made.name, wanted)
    assert found.tolist() == [True] * len(order) + [False]
    assert np.array_equal(out[:-1], table.values[order])
    again = shards.publish(store, "t", table.source(), SPEC, shard_size=1000,
                           previous=made.name)
    assert (again.name, again.written) == (made.name, 0)  # nothing changed: nothing written


def test_a_scattered_1_percent_change_republishes_about_1_percent(store: ArtifactStore
                                                                  ) -> None:
    table = Table(np.arange(20_000))
    first = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    table.change(np.arange(0, 20_000, 100))  # every shard touched
    kept = np.arange(20_000) % 200 != 1  # 0.5% removed, 1% appended
    table.keys, table.values, table.digests = (
        np.r_[table.keys[kept], np.arange(20_000, 20_200)],
        np.r_[table.values[kept], np.ones((200, 8), dtype=np.float16)],
        np.r_[table.digests[kept], np.arange(7, 207, dtype=np.uint64)])
    second = shards.publish(store, "t", table.source(), SPEC, shard_size=1000,
                            previous=first.name)
    assert second.written / second.total < 0.05
    manifest = shards.read_manifest(store, second.name)
    assert all(len(s["patches"]) == 1 for s in manifest["shards"] if s["index"] < 20)
    found, out = table.read(store, second.name, np.arange(20_200))
    assert np.array_equal(found, np.r_[kept, np.ones(200, dtype=bool)])  # removed: gone
    assert np.array_equal(out[found], table.values)


def test_a_shard_is_rebased_before_its_patches_pass_their_limit(store: ArtifactStore
                                                                ) -> None:
    table = Table(np.arange(3000))
    made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    first = set(shards.read_manifest(store, made.name)["parts"])
    for step in range(20):  # 5% of every shard changes each time
        table.change(np.arange(step % 20, 3000, 20))
        made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000,
                              previous=made.name)
        for entry in shards.read_manifest(store, made.name)["shards"]:
            assert entry["patched"] <= shards.MAX_PATCH_FRACTION * entry["rows"]
            assert len(entry["patches"]) <= shards.MAX_CHAIN
    bases = {s["base"][0] for s in shards.read_manifest(store, made.name)["shards"]}
    assert not bases & first  # every shard rebased meanwhile
    assert made.written < made.total / 2  # never all at once
    found, out = table.read(store, made.name, table.keys)
    assert found.all() and np.array_equal(out, table.values)


def test_another_table_or_shard_size_starts_from_new_bases(store: ArtifactStore) -> None:
    table = Table(np.arange(2000))
    made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    table.change(np.array([5]))
    other = shards.publish(store, "t", table.source(), {**SPEC, "dim": 9}, shard_size=1000,
                           previous=made.name)
    assert all(not s["patches"] for s in shards.read_manifest(store, other.name)["shards"])


def test_a_missing_part_is_the_missing_input_line(store: ArtifactStore) -> None:
    table = Table(np.arange(1500))
    made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    store.remove(shards.read_manifest(store, made.name)["parts"][1])
    with pytest.raises(StateError, match="input is missing from the artifact store") as exc:
        table.read(store, made.name, table.keys)
    assert "\n" not in str(exc.value)


def test_a_tampered_part_is_refused_and_the_next_publication_writes_it_again(
        store: ArtifactStore) -> None:
    table = Table(np.arange(1500))
    made = shards.publish(store, "t", table.source(), SPEC, shard_size=1000)
    part = shards.read_manifest(store, made.name)["parts"][0]
    data = bytearray(store.path(part).read_bytes())
    data[-1] ^= 1  # one bit of a row
    store.path(part).write_bytes(bytes(data))
    with pytest.raises(StateError, match="does not match its name") as exc:
        table.read(store, made.name, table.keys)
    assert part in str(exc.value) and "\n" not in str(exc.value)
    again = shards.publish(store, "t", table.source(), SPEC, shard_size=1000,
                           previous=made.name)  # the controller finds it damaged
    assert again.name == made.name and again.written == again.total
    found, out = table.read(store, again.name, table.keys)
    assert found.all() and np.array_equal(out, table.values)


def test_rows_without_a_unique_slot_are_refused(store: ArtifactStore) -> None:
    table = Table(np.array([1, 2, 2]))
    with pytest.raises(StateError, match="rows without a unique slot"):
        shards.publish(store, "t", table.source(), SPEC)
