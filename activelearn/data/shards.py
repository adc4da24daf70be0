"""Per-slot tables published in content-addressed shards (the catalogue snapshot, head
mode's pool embeddings), so a small change republishes little and a reader fetches only
the parts it has not fetched before.

    made = publish(store, "features", Source(keys, digests, arrays_of), spec, previous=old)
    manifest = read_manifest(store, made.name)
    found, digests = gather(store, manifest, keys, "values", out)    # a reader

- A row is addressed by a stable key (a catalogue slot, an embedding-cache row), never by
  its pool position (positions shift when items are added). Keys fall into fixed shards
  of SHARD_SIZE slots: a change to a row touches its shard only.
- A shard is a base and a chain of patches, each the rows changed (and keys removed)
  since the part before it: a 1% change scattered over every shard writes about 1% of
  the bytes. A shard is rebased (a new base) before its patches would pass
  MAX_PATCH_FRACTION of its rows or MAX_CHAIN parts, and early, past a point of its own
  (_point), one shard a publication: rebases spread over publications.
- Parts (named arrays, memory-mappable) and the manifest (JSON; "parts" names every
  artifact it references: what retention keeps) are named by their sha256, checked when
  read: a tampered part is refused with one line, a missing one is "missing input".
- What changed is found from per-row digests (the caller's: a row's values, an
  embedding's tag) kept in every part beside the rows: the previous manifest's parts
  answer it (the controller's own copies: a publisher keeps what it uploaded).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from activelearn.data.artifacts import ArtifactStore, content_name
from activelearn.errors import StateError

__all__ = ["SHARD_SIZE", "Published", "Source", "gather", "missing_input", "publish",
           "read_manifest", "shard_rows"]

FORMAT = "activelearn-shards/1"
SHARD_SIZE = 10_000  # slots a shard covers
MAX_PATCH_FRACTION = 0.5  # a shard's patches never hold this share of its rows ...
MAX_CHAIN = 48  # ... nor this many patches
_SPREAD = 0.6180339887  # the golden ratio's fraction: rebase points spread over the shards
_MAGIC = b"ALPART1\n"
_ALIGN = 64
_EMPTY = np.zeros(0, dtype=np.int64)

ArraysOf = Callable[[np.ndarray], dict[str, np.ndarray]]


class Source(NamedTuple):
    """A table to publish. keys: [rows] int64, unique, >= 0; digests: [rows] uint64, what
    each row holds (equal digest, equal row); arrays_of(keys sorted) -> the rows' data
    as named arrays (any shapes: the reader of the table knows them)."""

    keys: np.ndarray
    digests: np.ndarray
    arrays_of: ArraysOf


@dataclass
class Published:
    """A publication: the manifest's name, the bytes this call uploaded (parts and
    manifest) and the bytes of everything the manifest references (itself included)."""

    name: str
    written: int = 0
    total: int = 0
    parts: list[str] = field(default_factory=list)


def missing_input(filename: str) -> StateError:
    """The one line for an artifact a job reads that the store no longer has."""
    return StateError(f"{filename}: the job's input is missing from the artifact store "
                      "(removed meanwhile?); the next cycle publishes it again")


# -- parts ------------------------------------------------------------------------------
def encode_part(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as one file: a magic line, a JSON header (dtype, shape, offset of
    each array) and the arrays' bytes, each at a 64-byte boundary (np.memmap maps them)."""
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    header: dict[str, Any] = {}
    offset = 0
    for k, v in arrays.items():
        header[k] = [v.dtype.str, list(v.shape), offset]
        offset += -(-v.nbytes // _ALIGN) * _ALIGN
    text = json.dumps(header, sort_keys=True).encode()
    start = -(-(len(_MAGIC) + 8 + len(text)) // _ALIGN) * _ALIGN
    out = bytearray(start + offset)
    out[:len(_MAGIC)] = _MAGIC
    out[len(_MAGIC):len(_MAGIC) + 8] = len(text).to_bytes(8, "little")
    out[len(_MAGIC) + 8:len(_MAGIC) + 8 + len(text)] = text
    for k, v in arrays.items():
        at = start + header[k][2]
        out[at:at + v.nbytes] = v.tobytes()
    return bytes(out)


def open_part(store: ArtifactStore, name: str) -> dict[str, np.ndarray]:
    """A part's arrays, memory-mapped from its local copy, after its content was checked
    against its name (StateError for a missing, tampered or torn part)."""
    path = _verified(store, name)
    with open(path, "rb") as f:
        head = f.read(len(_MAGIC) + 8)
        length = int.from_bytes(head[len(_MAGIC):], "little")
        if head[:len(_MAGIC)] != _MAGIC:
            raise _damaged(store, name)
        header = json.loads(f.read(length))
    start = -(-(len(_MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    arrays = {}
    for k, (dtype, shape, offset) in header.items():
        if int(np.prod(shape)) == 0:
            arrays[k] = np.zeros(shape, dtype=dtype)
        else:
            arrays[k] = np.memmap(path, dtype=dtype, mode="r", offset=start + offset,
                                  shape=tuple(shape))
    return arrays


def _verified(store: ArtifactStore, name: str) -> Path:
    """The local copy of a content-addressed artifact, its sha256 checked against its
    name (read in 1 MB blocks: nothing held, nothing mapped). A fetched copy that does
    not match is fetched once more (a torn local copy), then refused."""
    for _ in range(1 if store.local else 2):
        try:
            path = store.fetch(name)
        except FileNotFoundError as exc:
            raise missing_input(str(exc.filename)) from None
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        if Path(name).stem.startswith(digest.hexdigest()[:20]):
            return path
        if not store.local:
            path.unlink(missing_ok=True)
    raise _damaged(store, name)


def _damaged(store: ArtifactStore, name: str) -> StateError:
    return StateError(f"{store.url}/{name}: its content does not match its name (tampered "
                      "with or corrupt); refused. The next cycle publishes it again")


def read_manifest(store: ArtifactStore, name: str) -> dict[str, Any]:
    """A manifest, checked against its name (StateError: missing, tampered, not one)."""
    document = json.loads(_verified(store, name).read_bytes())
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateError(f"{store.url}/{name}: not a sharded table ({FORMAT}); "
                         "the next cycle publishes it again")
    return document


# -- reading ----------------------------------------------------------------------------
def _latest(parts: list[dict[str, np.ndarray]], keys: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each key ([n] int64): the part holding its current row (-1: none, or removed)
    and the row's index in that part. Later parts win."""
    which = np.full(len(keys), -1, dtype=np.int64)
    where = np.zeros(len(keys), dtype=np.int64)
    open_ = np.ones(len(keys), dtype=bool)
    for p in range(len(parts) - 1, -1, -1):
        if not open_.any():
            break
        part_keys = np.asarray(parts[p]["keys"])
        at = np.searchsorted(part_keys, keys)
        hit = open_ & (at < len(part_keys))
        hit[hit] = part_keys[at[hit]] == keys[hit]
        which[hit], where[hit] = p, at[hit]
        open_ &= ~hit
        deleted = parts[p].get("deleted", _EMPTY)
        if len(deleted):
            open_ &= ~np.isin(keys, np.asarray(deleted))
    return which, where


def _parts_of(store: ArtifactStore, entry: dict[str, Any]) -> list[dict[str, np.ndarray]]:
    return [open_part(store, name) for name, _ in [entry["base"], *entry["patches"]]]


def shard_rows(store: ArtifactStore, entry: dict[str, Any]
               ) -> tuple[list[dict[str, np.ndarray]], np.ndarray, np.ndarray, np.ndarray]:
    """A shard's current rows: (parts, keys [n] sorted, part [n], index in part [n])."""
    parts = _parts_of(store, entry)
    keys = np.unique(np.concatenate([np.asarray(p["keys"]) for p in parts]))
    which, where = _latest(parts, keys)
    kept = which >= 0
    return parts, keys[kept], which[kept], where[kept]


def _shard_digests(store: ArtifactStore, entry: dict[str, Any]
                   ) -> tuple[np.ndarray, np.ndarray]:
    parts, keys, which, where = shard_rows(store, entry)
    digests = np.zeros(len(keys), dtype=np.uint64)
    for p, part in enumerate(parts):
        sel = which == p
        digests[sel] = np.asarray(part["digests"])[where[sel]]
    return keys, digests


def gather(store: ArtifactStore, manifest: dict[str, Any], keys: np.ndarray, column: str,
           out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill out[i] ([len(keys), ...]) with the `column` row of keys[i], one shard mapped
    at a time; returns (found [n] bool, digests [n] uint64)."""
    keys = np.asarray(keys, dtype=np.int64)
    found = np.zeros(len(keys), dtype=bool)
    digests = np.zeros(len(keys), dtype=np.uint64)
    size = int(manifest["shard_size"])
    shard_of = keys // size
    for entry in manifest["shards"]:
        idx = np.flatnonzero(shard_of == entry["index"])
        if not len(idx):
            continue
        parts = _parts_of(store, entry)
        which, where = _latest(parts, keys[idx])
        for p, part in enumerate(parts):
            sel = which == p
            if sel.any():
                out[idx[sel]] = part[column][where[sel]]
                digests[idx[sel]] = np.asarray(part["digests"])[where[sel]]
                found[idx[sel]] = True
        del parts  # unmapped before the next shard: memory bounded by a shard
    return found, digests


# -- publishing -------------------------------------------------------------------------
def publish(store: ArtifactStore, folder: str, source: Source, spec: dict[str, Any],
            info: dict[str, Any] | None = None, previous: str | None = None,
            shard_size: int = SHARD_SIZE) -> Published:
    """Publish the table under folder/ (parts under folder/parts/): patches on top of the
    previous manifest's shards when it describes the same table (spec and shard size
    equal), new bases otherwise. info: what readers learn beside the rows."""
    keys = np.asarray(source.keys, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys, digests = keys[order], np.asarray(source.digests).astype(np.uint64)[order]
    if len(keys) and (keys[0] < 0 or (np.diff(keys) == 0).any()):
        raise StateError(f"{folder}: rows without a unique slot; run `activelearn ingest`")
    old, force = _previous(store, previous, spec, shard_size)
    writer = _Writer(store, folder, source.arrays_of, force)

    def rows_of(k: int) -> tuple[np.ndarray, np.ndarray]:  # shard k's keys and digests
        lo, hi = np.searchsorted(keys, [k * shard_size, (k + 1) * shard_size])
        return keys[lo:hi], digests[lo:hi]

    entries: dict[int, dict[str, Any]] = {}
    changes = {}
    for k in sorted(set((keys // shard_size).tolist()) | set(old)):
        shard_keys, shard_digests = rows_of(k)
        if not len(shard_keys):
            continue  # no row: no shard
        if k not in old:
            entries[k] = writer.base(k, shard_keys, shard_digests)
            continue
        entry, old_keys, old_digests = old[k]
        changed, deleted = _changes(shard_keys, shard_digests, old_keys, old_digests)
        if len(changed) or len(deleted):
            patched = entry["patched"] + len(changed) + len(deleted)
            changes[k] = (changed, deleted, patched, max(
                patched / len(shard_keys) / MAX_PATCH_FRACTION,
                (len(entry["patches"]) + 1) / MAX_CHAIN))
        else:
            entries[k] = entry
    # rebased: the shards a patch would take past a limit, and at most one more, the
    # furthest past its own point
    rebased = {k for k, c in changes.items() if c[3] > 1}
    early = [(c[3] - _point(k), k) for k, c in changes.items() if _point(k) < c[3] <= 1]
    rebased |= {max(early)[1]} if early else set()
    for k, (changed, deleted, patched, _) in changes.items():
        shard_keys, shard_digests = rows_of(k)
        entry = old[k][0]
        if k in rebased:
            entries[k] = writer.base(k, shard_keys, shard_digests)
        else:
            patch = writer.part(shard_keys[changed], shard_digests[changed], deleted)
            entries[k] = {**entry, "patches": [*entry["patches"], patch],
                          "rows": len(shard_keys), "patched": patched}
    return writer.manifest(spec, info or {}, shard_size, [entries[k] for k in sorted(entries)])


def _previous(store: ArtifactStore, name: str | None, spec: dict[str, Any], size: int
              ) -> tuple[dict[int, tuple[dict, np.ndarray, np.ndarray]], bool]:
    """The previous publication's shards with their keys and digests ({} when there is
    none of this table), and whether it was damaged (its parts are then written again
    even where their names exist)."""
    if not name or not name.endswith(".json"):  # none, or an older whole-table artifact
        return {}, False
    try:
        manifest = read_manifest(store, name)
        if manifest.get("table") != spec or manifest.get("shard_size") != size:
            return {}, False
        return {e["index"]: (e, *_shard_digests(store, e)) for e in manifest["shards"]}, False
    except (StateError, ValueError, KeyError):
        return {}, True


def _point(k: int) -> float:
    """Shard k's own point between half and all of its patch limits (MAX_PATCH_FRACTION,
    MAX_CHAIN) past which it may be rebased: spread over the shards by the golden ratio,
    so shards changing alike reach theirs in different publications."""
    return 0.5 + 0.5 * ((k * _SPREAD) % 1.0)


def _changes(keys: np.ndarray, digests: np.ndarray, old_keys: np.ndarray,
             old_digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices into keys of new or changed rows, old keys no longer there)."""
    at = np.searchsorted(old_keys, keys)
    same = at < len(old_keys)
    same[same] = (old_keys[at[same]] == keys[same]) & (old_digests[at[same]] == digests[same])
    return np.flatnonzero(~same), np.setdiff1d(old_keys, keys, assume_unique=True)


class _Writer:
    """Writes parts and the manifest, counting the bytes uploaded."""

    def __init__(self, store: ArtifactStore, folder: str, arrays_of: ArraysOf,
                 force: bool) -> None:
        self.store, self.folder, self.arrays_of, self.force = store, folder, arrays_of, force
        self.written = 0

    def part(self, keys: np.ndarray, digests: np.ndarray, deleted: np.ndarray) -> list:
        """Publish one part; its [name, bytes]."""
        arrays = {"keys": keys, "digests": digests, "deleted": deleted.astype(np.int64),
                  **self.arrays_of(keys)}
        data = encode_part(arrays)
        name = content_name(f"{self.folder}/parts", data, ".part")
        if self.force or not self.store.exists(name):
            self.store.publish_bytes(name, data)
            self.written += len(data)
        return [name, len(data)]

    def base(self, k: int, keys: np.ndarray, digests: np.ndarray) -> dict[str, Any]:
        return {"index": int(k), "base": self.part(keys, digests, _EMPTY), "patches": [],
                "rows": len(keys), "patched": 0}

    def manifest(self, spec: dict[str, Any], info: dict[str, Any], size: int,
                 shards: list[dict[str, Any]]) -> Published:
        parts = [p for s in shards for p in [s["base"], *s["patches"]]]
        document = {"format": FORMAT, "table": spec, "info": info, "shard_size": size,
                    "shards": shards, "parts": [name for name, _ in parts]}
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        name = content_name(self.folder, data, ".json")
        if self.force or not self.store.exists(name):
            self.store.publish_bytes(name, data)
            self.written += len(data)
        return Published(name, self.written, len(data) + sum(b for _, b in parts),
                         [n for n, _ in parts])
