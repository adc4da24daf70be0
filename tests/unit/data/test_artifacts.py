"""The artifact store on a local folder: atomic, put-if-absent publication, names that
cannot leave the store, and what a reader sees of a failed write."""

from __future__ import annotations

from pathlib import Path

import pytest

from activelearn.data.artifacts import ArtifactStore, content_name
from activelearn.errors import JobError


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")


def test_published_artifacts_are_read_back_and_removed(store: ArtifactStore) -> None:
    assert not store.exists("models/v1.json")
    store.publish_bytes("models/v1.json", b'{"a": 1}')
    assert store.exists("models/v1.json") and store.read_json("models/v1.json") == {"a": 1}
    assert store.fetch("models/v1.json") == store.path("models/v1.json")  # no copy: local
    store.remove("models/v1.json")
    store.remove("models/v1.json")  # nothing there: nothing to do
    with pytest.raises(FileNotFoundError):
        store.fetch("models/v1.json")


def test_an_exclusive_publication_never_replaces_the_first(store: ArtifactStore) -> None:
    store.publish_bytes("models/v1.pt", b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        store.publish_bytes("models/v1.pt", b"second", exclusive=True)
    assert store.read_bytes("models/v1.pt") == b"first"
    store.publish_bytes("models/v1.pt", b"third")  # not exclusive: replaced whole
    assert store.read_bytes("models/v1.pt") == b"third"


def test_a_write_that_fails_leaves_nothing_to_read(store: ArtifactStore) -> None:
    def half(tmp: Path) -> None:
        tmp.write_bytes(b"half of it")
        raise KeyboardInterrupt  # a job stopped mid-write

    with pytest.raises(KeyboardInterrupt):
        store.publish("scores/v/shard-0.npz", half)
    assert not store.exists("scores/v/shard-0.npz")
    assert [p.name for p in Path(store.url).rglob("*") if p.is_file()] == []


def test_content_names_are_digests_and_published_once(store: ArtifactStore) -> None:
    name = store.publish_content("snapshots", b"labels", ".json")
    assert name == content_name("snapshots", b"labels", ".json")
    assert name.startswith("snapshots/") and len(name) == len("snapshots/") + 20 + 5
    assert store.publish_content("snapshots", b"labels", ".json") == name
    assert store.publish_content("snapshots", b"other", ".json") != name


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.npz", "models/../../x.pt",
                                  "models//v.pt", "", ".hidden", "a\\b", "models/ v.pt",
                                  "s3://bucket/key"])
def test_names_outside_the_store_are_refused(store: ArtifactStore, name: str) -> None:
    for call in (lambda: store.publish_bytes(name, b"x"), lambda: store.exists(name),
                 lambda: store.fetch(name)):
        with pytest.raises(JobError, match="is not a plain relative path inside the store"):
            call()
    assert not Path(store.url).exists()


def test_a_file_url_is_a_local_store(tmp_path: Path) -> None:
    store = ArtifactStore(f"file://{tmp_path}/s", tmp_path / "scratch")
    assert store.local and store.url == str(tmp_path / "s")
    store.publish_bytes("a.json", b"1")
    assert (tmp_path / "s" / "a.json").read_bytes() == b"1"
