"""The catalogue snapshot a worker without state reads: the same rows, in the same order,
and the controller's decoded cache only where it is shared."""

from __future__ import annotations

from pathlib import Path

from activelearn.data.snapshot import CatalogueSnapshot, catalogue_snapshot
from activelearn.state import Store
from activelearn.state.catalogue import CatalogueRow


def rows() -> list[CatalogueRow]:
    return [CatalogueRow(f"c{i % 2}/{i}.jpg", f"s3://b/c{i % 2}/{i}.jpg", 100 + i, "v1",
                         i % 2, i == 3, 40, 30, "JPEG", "RGB",
                         "truncated" if i == 4 else None, f"{i:064x}", -i, i, i < 2)
            for i in range(5)]


def test_a_snapshot_answers_the_catalogue_reads_like_the_table(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.sqlite") as store:
        table = store.catalogue
        table.replace("imagefolder s3://b", rows(), [], [])
        table.reset_cache("3x16x16")
        table.set_cached(["c0/0.jpg"])
        data = catalogue_snapshot(table)
        assert catalogue_snapshot(table) == data  # equal catalogues, equal bytes
        shared = CatalogueSnapshot.parse(data, shared_cache=True)
        assert list(shared.rows()) == list(table.rows())
        assert shared.rows_of(["c1/3.jpg", "nope", "c0/0.jpg"]) == \
            [r for r in table.rows() if r.item_id in ("c1/3.jpg", "c0/0.jpg")][::-1]
        assert (shared.source(), shared.count(), shared.generation()) == \
            (table.source(), table.count(), table.generation())
        assert shared.cache_geometry() == table.cache_geometry() == "3x16x16"
    elsewhere = CatalogueSnapshot.parse(data, shared_cache=False)
    assert elsewhere.cache_geometry() is None  # another machine: decode, never trust
    assert list(elsewhere.rows()) == list(shared.rows())
