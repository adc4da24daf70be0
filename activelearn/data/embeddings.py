"""The embedding cache: a backbone's embedding of every pool item, computed once, as
float16 rows of one memory-mapped file under WORK_DIR/cache.

    cache = EmbeddingCache(work_dir / "cache", key, dim=512)
    rows, tags = item_keys(pool)
    todo = cache.missing(rows, tags)            # [k] positions into rows
    cache.write(rows[todo], vectors, tags[todo])
    cache.read(rows)                            # [items, 512] float16

One file per key: the key digests the backbone, its weights' sha256, the eval transform
(input size, channels, normalisation) and the data source, so another backbone or
transform never reads these rows. An item's row is its catalogue slot (file sources) or
its pool position (in-memory datasets); beside each row a tag (from the item's content:
the file's sha256, the image's bytes) says what it holds, so a changed file or a
reordered pool is embedded again, and new items extend the file. Rows are written and
flushed before their tags, so an interrupted pass resumes where it stopped and a reader
never takes an unwritten row for a computed one. Processes writing different rows at
once (embed jobs on one machine) do not disturb each other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from activelearn.data.imageset import as_tensor, is_lazy

_ROWS_AT_ONCE = 1 << 16  # rows whose tags are computed per block (in-memory pools)


class EmbeddingCache:
    """One embedding file (rows x dim float16) and its tags file (rows int64, 0 = empty)."""

    def __init__(self, folder: Path, key: str, dim: int) -> None:
        self.key, self.dim = key, int(dim)
        self.path = Path(folder) / f"embeddings-{key}.f16"
        self.tags_path = self.path.with_suffix(".tags")

    def rows(self) -> int:
        """How many rows the files have room for."""
        try:
            return self.tags_path.stat().st_size // 8
        except FileNotFoundError:
            return 0

    def reserve(self, rows: int) -> None:
        """Grow both files to at least `rows` rows (new rows are empty)."""
        if rows <= self.rows():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for path, width in ((self.path, 2 * self.dim), (self.tags_path, 8)):
            with open(path, "ab") as f:
                f.truncate(rows * width)

    def tags(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows)] int64: what each row holds (0: nothing yet)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.int64)
        inside = rows < self.rows()
        if inside.any():
            mapped = np.memmap(self.tags_path, dtype=np.int64, mode="r")
            out[inside] = mapped[rows[inside]]
            del mapped
        return out

    def missing(self, rows: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """Positions into rows ([items]) whose row does not hold tags ([items]) yet."""
        return np.flatnonzero(self.tags(rows) != np.asarray(tags, dtype=np.int64))

    def write(self, rows: np.ndarray, vectors: np.ndarray, tags: np.ndarray) -> None:
        """Store vectors ([len(rows), dim], cast to float16) at rows, then their tags."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return
        if vectors.shape != (len(rows), self.dim):
            raise ValueError(f"vectors {vectors.shape} for {len(rows)} rows of dim {self.dim}")
        self.reserve(int(rows.max()) + 1)
        total = self.rows()
        mapped = np.memmap(self.path, dtype=np.float16, mode="r+", shape=(total, self.dim))
        mapped[rows] = vectors.astype(np.float16)
        mapped.flush()
        del mapped
        marks = np.memmap(self.tags_path, dtype=np.int64, mode="r+", shape=(total,))
        marks[rows] = np.asarray(tags, dtype=np.int64)
        marks.flush()
        del marks

    def read(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows), dim] float16: the rows (in memory; read the file forwards)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float16)
        if len(rows):
            mapped = np.memmap(self.path, dtype=np.float16, mode="r",
                               shape=(self.rows(), self.dim))
            order = np.argsort(rows, kind="stable")
            out[order] = mapped[rows[order]]
            del mapped
        return out


def cache_key(description: dict[str, Any]) -> str:
    """A short stable name for what produced the embeddings (backbone, weights digest,
    eval transform, source): the first 16 hex digits of its JSON's sha256."""
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def item_keys(images: Any, sha256: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, tags), each [items] int64, of a pool's images: rows are the catalogue slots
    of file images (their sha256 gives the tag) or the positions of in-memory images
    (a digest of each image's bytes gives the tag). Tags are never 0."""
    if is_lazy(images):
        if sha256 is None:
            raise ValueError("file images need their sha256 to be embedded")
        rows = np.asarray(images.slots, dtype=np.int64)
        tags = np.array([int(h[:15], 16) for h in sha256], dtype=np.int64)
    else:
        rows = np.arange(len(images), dtype=np.int64)
        tags = np.empty(len(images), dtype=np.int64)
        for start in range(0, len(images), _ROWS_AT_ONCE):
            block = as_tensor(images[start:start + _ROWS_AT_ONCE]).numpy()
            flat = np.ascontiguousarray(block.reshape(len(block), -1))
            tags[start:start + len(block)] = [
                int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=7).digest(), "big")
                for r in flat]
    return rows, tags | (1 << 60)
