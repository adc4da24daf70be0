"""A file source's catalogue as the controller published it, for readers without state.

    name = publish_catalogue(artifacts, store.catalogue, previous).name   # the controller
    catalogue = CatalogueSnapshot.read(artifacts, name, shared_cache=False)  # a worker

A worker on another machine never opens state.sqlite: it reads the catalogue (which
files the pool holds, at which positions, with their labels and digests) from this
snapshot in the artifact store and builds the same pool the controller has. The snapshot
answers the reads a SourceState makes of a CatalogueTable (refresh is False for it).

Format 2 (FORMAT): the rows in shards by catalogue slot (data/shards.py): a changed
catalogue republishes the rows that changed, and a worker fetches only the parts it has
not fetched yet. Format 1, one JSON document of every row (what an older controller
published; a payload of it may still wait in Redis after an upgrade), is still read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from activelearn.data.artifacts import ArtifactStore
from activelearn.data.shards import (
    Published,
    Source,
    missing_input,
    publish,
    read_manifest,
    shard_rows,
)
from activelearn.state.catalogue import CatalogueRow, CatalogueTable

FORMAT = 2
FOLDER = "catalogues"  # manifests here, their parts under catalogues/parts/
FIELDS = list(CatalogueRow._fields)


def catalogue_snapshot(table: CatalogueTable) -> bytes:
    """Format 1: the catalogue's source, cache geometry and rows as one JSON document
    (equal catalogues give equal bytes). Kept to read what older controllers published."""
    document = {"format": 1, "source": table.source(), "generation": table.generation(),
                "cache_geometry": table.cache_geometry(),
                "fields": FIELDS, "rows": [list(r) for r in table.rows()]}
    return json.dumps(document, separators=(",", ":")).encode()


def publish_catalogue(store: ArtifactStore, table: CatalogueTable,
                      previous: str | None = None) -> Published:
    """Publish the catalogue in shards by slot (format 2), as patches on top of the
    previous publication (its manifest's name) where it is one; see data/shards.py."""
    rows = list(table.rows())
    slots = np.array([r.slot for r in rows], dtype=np.int64)
    by_slot = dict(zip(slots.tolist(), rows))
    # a row's digest: of its values' repr (str, int, bool, None: stable), cheaper than
    # its JSON; only the rows a part holds are written as JSON
    digests = np.array([int.from_bytes(hashlib.blake2b(repr(tuple(r)).encode(),
                                                       digest_size=8).digest(), "little")
                        for r in rows], dtype=np.uint64)

    def arrays_of(keys: np.ndarray) -> dict[str, np.ndarray]:
        text = json.dumps([list(by_slot[k]) for k in keys.tolist()], separators=(",", ":"))
        return {"rows": np.frombuffer(text.encode(), dtype=np.uint8)}

    info = {"source": table.source(), "generation": table.generation(),
            "cache_geometry": table.cache_geometry()}
    return publish(store, FOLDER, Source(slots, digests, arrays_of),
                   {"table": "catalogue", "format": FORMAT, "fields": FIELDS}, info, previous)


class CatalogueSnapshot:
    """The reads of a CatalogueTable, answered from a snapshot (see the module).

    shared_cache: the reader sees the controller's decoded cache (a shared disk), so the
    rows' cached flags hold for it; False (another machine) reports no cache geometry,
    and the reader decodes the files it needs."""

    def __init__(self, info: dict[str, Any], rows: list[CatalogueRow],
                 shared_cache: bool) -> None:
        self._source = info["source"]
        self._generation = int(info["generation"])
        self._geometry = info["cache_geometry"] if shared_cache else None
        self._rows = sorted(rows, key=lambda r: r.item_id)  # as the table lists them
        self._by_id = {r.item_id: r for r in self._rows}

    @classmethod
    def parse(cls, data: bytes, shared_cache: bool) -> CatalogueSnapshot:
        """The snapshot of a format-1 document (catalogue_snapshot's bytes)."""
        return cls._format1(json.loads(data), shared_cache)

    @classmethod
    def _format1(cls, document: dict[str, Any], shared_cache: bool) -> CatalogueSnapshot:
        fields = document["fields"]
        rows = [CatalogueRow(**dict(zip(fields, values))) for values in document["rows"]]
        return cls(document, rows, shared_cache)

    @classmethod
    def read(cls, store: ArtifactStore, name: str, shared_cache: bool) -> CatalogueSnapshot:
        """The snapshot published under `name`, of either format: a format-2 manifest and
        its parts (each fetched once per name, checked against its name), or a format-1
        document. StateError for a missing or tampered part."""
        try:
            document = json.loads(store.read_bytes(name))
        except FileNotFoundError as exc:
            raise missing_input(str(exc.filename)) from None
        if document.get("format") == 1:
            return cls._format1(document, shared_cache)
        document = read_manifest(store, name)  # checked against its name
        fields = document["table"]["fields"]
        make = CatalogueRow._make if fields == FIELDS else \
            (lambda values: CatalogueRow(**dict(zip(fields, values))))
        rows: list[CatalogueRow] = []
        for entry in document["shards"]:
            parts, _, which, where = shard_rows(store, entry)
            texts = {p: json.loads(bytes(parts[p]["rows"])) for p in set(which.tolist())}
            rows += [make(texts[p][i]) for p, i in zip(which.tolist(), where.tolist())]
        return cls(document["info"], rows, shared_cache)

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
