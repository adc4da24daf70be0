"""The catalogue snapshot a worker without state reads: the same rows, in the same order,
and the controller's decoded cache only where it is shared; published in shards by slot
(a relabelled row republishes its shard's patch only), and an older controller's
one-document snapshot still read."""

from __future__ import annotations

from pathlib import Path

from activelearn.data.artifacts import ArtifactStore
from activelearn.data.shards import read_manifest
from activelearn.data.snapshot import CatalogueSnapshot, catalogue_snapshot, publish_catalogue
from activelearn.state import Store
from activelearn.state.catalogue import CatalogueRow


def rows() -> list[CatalogueRow]:
    return [CatalogueRow(f"c{i % 2}/{i}.jpg", f"s3://b/c{i % 2}/{i}.jpg", 100 + i, "v1",
                         i % 2, i == 3, 40, 30, "JPEG", "RGB",
                         "truncated" if i == 4 else None, f"{i:064x}", -i, i, i < 2)
            for i in range(5)]


def test_a_snapshot_answers_the_catalogue_reads_like_the_table(tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")
    with Store.open(tmp_path / "state.sqlite") as store:
        table = store.catalogue
        table.replace("imagefolder s3://b", rows(), [], [])
        table.reset_cache("3x16x16")
        table.set_cached(["c0/0.jpg"])
        name = publish_catalogue(artifacts, table).name
        assert publish_catalogue(artifacts, table).name == name  # equal catalogues, one name
        shared = CatalogueSnapshot.read(artifacts, name, shared_cache=True)
        assert list(shared.rows()) == list(table.rows())
        assert shared.rows_of(["c1/3.jpg", "nope", "c0/0.jpg"]) == \
            [r for r in table.rows() if r.item_id in ("c1/3.jpg", "c0/0.jpg")][::-1]
        assert (shared.source(), shared.count(), shared.generation()) == \
            (table.source(), table.count(), table.generation())
        assert shared.cache_geometry() == table.cache_geometry() == "3x16x16"
    elsewhere = CatalogueSnapshot.read(artifacts, name, shared_cache=False)
    assert elsewhere.cache_geometry() is None  # another machine: decode, never trust
    assert list(elsewhere.rows()) == list(shared.rows())


def test_a_changed_catalogue_republishes_its_changed_rows_as_a_patch(tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")
    many = [CatalogueRow(f"c/{i:05d}.jpg", f"/d/c/{i:05d}.jpg", 1000, "v1", i % 3, False,
                         64, 64, "PNG", "RGB", None, f"{i:064x}", i, i, False)
            for i in range(3000)]
    with Store.open(tmp_path / "state.sqlite") as store:
        store.catalogue.replace("imagefolder /d", many, [], [])
        first = publish_catalogue(artifacts, store.catalogue)
        store.catalogue.replace("imagefolder /d", [], [("c/00007.jpg", 2, True)],
                                ["c/00008.jpg"])
        second = publish_catalogue(artifacts, store.catalogue, previous=first.name)
        assert second.written < first.total / 10
        manifest = read_manifest(artifacts, second.name)
        assert [len(s["patches"]) for s in manifest["shards"]] == [1]
        again = CatalogueSnapshot.read(artifacts, second.name, shared_cache=False)
        assert list(again.rows()) == list(store.catalogue.rows())
        assert again.rows_of(["c/00007.jpg"])[0][4:6] == (2, True)
        assert again.generation() == store.catalogue.generation()


def test_an_older_controllers_one_document_snapshot_is_still_read(tmp_path: Path) -> None:
    artifacts = ArtifactStore(str(tmp_path / "store"), tmp_path / "scratch")
    with Store.open(tmp_path / "state.sqlite") as store:
        store.catalogue.replace("imagefolder s3://b", rows(), [], [])
        name = artifacts.publish_content("catalogues", catalogue_snapshot(store.catalogue),
                                         ".json")
        old = CatalogueSnapshot.read(artifacts, name, shared_cache=False)
        assert list(old.rows()) == list(store.catalogue.rows())
