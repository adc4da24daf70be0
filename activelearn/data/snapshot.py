"""A file source's catalogue as the controller published it, for readers without state.

    data = catalogue_snapshot(store.catalogue)            # the controller: JSON bytes
    catalogue = CatalogueSnapshot.parse(data, shared_cache=False)   # a worker

A worker on another machine never opens state.sqlite: it reads the catalogue (which
files the pool holds, at which positions, with their labels and digests) from this
snapshot in the artifact store and builds the same pool the controller has. The snapshot
answers the reads a SourceState makes of a CatalogueTable (refresh is False for it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from activelearn.state.catalogue import CatalogueRow, CatalogueTable

FORMAT = 1


def catalogue_snapshot(table: CatalogueTable) -> bytes:
    """The catalogue's source, cache geometry and rows as JSON bytes (equal catalogues
    give equal bytes, so the snapshot's name can be its content digest)."""
    document = {"format": FORMAT, "source": table.source(), "generation": table.generation(),
                "cache_geometry": table.cache_geometry(),
                "fields": list(CatalogueRow._fields), "rows": [list(r) for r in table.rows()]}
    return json.dumps(document, separators=(",", ":")).encode()


class CatalogueSnapshot:
    """The reads of a CatalogueTable, answered from a snapshot (see the module).

    shared_cache: the reader sees the controller's decoded cache (a shared disk), so the
    rows' cached flags hold for it; False (another machine) reports no cache geometry,
    and the reader decodes the files it needs."""

    def __init__(self, document: dict[str, Any], shared_cache: bool) -> None:
        fields = document["fields"]
        self._source = document["source"]
        self._generation = int(document["generation"])
        self._geometry = document["cache_geometry"] if shared_cache else None
        self._rows = [CatalogueRow(**dict(zip(fields, values))) for values in document["rows"]]
        self._by_id = {r.item_id: r for r in self._rows}

    @classmethod
    def parse(cls, data: bytes, shared_cache: bool) -> CatalogueSnapshot:
        """The snapshot of catalogue_snapshot's bytes."""
        return cls(json.loads(data), shared_cache)

    def source(self) -> str | None:
        return self._source

    def count(self) -> int:
        return len(self._rows)

    def rows(self) -> Iterator[CatalogueRow]:
        return iter(self._rows)

    def rows_of(self, item_ids: list[str]) -> list[CatalogueRow]:
        return [self._by_id[i] for i in item_ids if i in self._by_id]

    def generation(self) -> int:
        return self._generation

    def cache_geometry(self) -> str | None:
        return self._geometry
