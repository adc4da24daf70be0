"""A worker's own decoded cache: images decoded once per machine, whatever project asks.

    cache = DecodedCache(Path("/var/tmp/al/decoded"), parse_size("2GB"))
    found = cache.read(digests, (3, 64, 64), out, rows)   # [len(digests)] bool, into out
    cache.write(digests, images)                          # images: [n, 3, 64, 64] uint8

A worker with a remote artifact store has no memmap cache (data/cache.py, the
controller's), so without this it decodes every image it scores from its URI every round.
Here an image is kept under its content, the file's sha256 (the catalogue's) and the
geometry it was decoded at, one small file each, FOLDER/<c>x<h>x<w>/<sha[:2]>/<sha>.u8: a
48-byte header (magic, digest, geometry, crc32 of the pixels), then the pixels. Any
project on the machine with the same images shares the rows; round 2 reads from the
store only what changed. (Reading 20k rows of 3x64x64 takes about what the memmap takes.)

Worker processes (and their DataLoader workers) share a folder: a row is written to a
temporary file renamed into place, so a reader sees a whole row or none, and two writers
of a row write the same bytes. A row whose header or checksum does not match (a torn
write after a power cut, a bad disk) is removed and decoded again (said once). The
folder is bounded by `limit` bytes: a shared `usage` file counts what was written (under
flock); whoever passes the limit scans the folder and removes the least recently used
rows (by mtime: a hit touches its row, at most once a minute) down to 90% of it, so an
eviction pass comes once per tenth of the limit written. A write that fails (a full
disk, a quota, a read-only folder) turns the process's writes off with one warning line:
the job goes on decoding.

The worker process sets the cache up (`activelearn worker --cache-size`) and hands it to
the pools it opens through the environment (DECODED_ENV; data/sources: open_pool).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import struct
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from activelearn.errors import OptionError

log = logging.getLogger("activelearn.decoded")

DECODED_ENV = "ACTIVELEARN_DECODED_CACHE"  # JSON {"folder": ..., "limit": bytes}, set by a worker
MAGIC = b"ALDC1\0"
HEADER = struct.Struct("<6s32sHHHI")  # magic, sha256, channels, h, w, crc32 of the pixels
LOW_WATER = 0.9  # an eviction pass leaves the folder at this share of the limit
TOUCH_EVERY_S = 60.0  # a hit refreshes its row's mtime (the LRU order) at most this often
STALE_TEMP_S = 3600.0  # temporary files older than this are a crashed writer's: removed
USAGE, TRIM_LOCK = "usage", "trim.lock"
UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9,
         "GB": 10**9, "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes of a size such as 2GB, 500MB, 1.5G, 512MiB or 0 (else OptionError)."""
    found = SIZE.fullmatch(str(text))
    unit = found.group(2).upper() if found else ""
    if found is None or unit not in UNITS:
        raise OptionError("{cache_size} {value!r}: not a size; write it as 2GB, 500MB or "
                          "0 (no cache)", {"cache_size": "cache_size"}, value=str(text))
    return int(float(found.group(1)) * UNITS[unit])


@dataclass
class CacheStats:
    """What a process's cache did: rows found, not found (decoded), written, evicted, and
    corrupt rows dropped."""

    hits: int = 0
    misses: int = 0
    written: int = 0
    evictions: int = 0
    corrupt: int = 0

    def since(self, before: CacheStats) -> CacheStats:
        return CacheStats(*(getattr(self, f.name) - getattr(before, f.name)
                            for f in fields(self)))

    def add(self, other: CacheStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def copy(self) -> CacheStats:
        return dataclasses.replace(self)


def format_size(size: int) -> str:
    """A byte count for people: 230 MB, 2 GB, 1.5 GB, 512 kB."""
    unit, scale = next(((u, s) for u, s in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6),
                                            ("kB", 10**3)) if size >= s), ("B", 1))
    value = size / scale
    return f"{value:.1f}".removesuffix(".0") + f" {unit}" if value < 10 else f"{value:.0f} {unit}"


class DecodedCache:
    """The rows of one folder, bounded by limit bytes (see the module). Holds no open
    file, so it pickles into DataLoader workers, each of which opens the rows itself.
    off: why writes are off in this process (None: they are on)."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = Path(folder), int(limit)
        self.stats = CacheStats()
        self.off: str | None = None
        self.quiet = False  # a DataLoader worker: its parent says what it reports
        self._told_corrupt = False

    @classmethod
    def from_environment(cls) -> DecodedCache | None:
        """The cache a worker process set up (DECODED_ENV), None when it set none."""
        settings = json.loads(os.environ.get(DECODED_ENV) or '{"limit": 0}')
        return cls(Path(settings["folder"]), settings["limit"]) if settings["limit"] else None

    def environment(self) -> str:
        """DECODED_ENV's value that makes the pools this process opens use this cache."""
        return json.dumps({"folder": str(self.folder), "limit": self.limit})

    def read(self, digests: Sequence[str], shape: tuple[int, int, int], out: np.ndarray,
             rows: np.ndarray) -> np.ndarray:
        """Copy the cached image of digests[i] into out[rows[i]] ([channels, h, w] =
        shape); returns which were found ([len(digests)] bool). An empty digest is never
        found."""
        found, base = np.zeros(len(digests), bool), self._base(shape)
        for i, digest in enumerate(digests):
            key = _key(digest)
            pixels = None if key is None else self._read_row(base, digest, key, shape)
            if pixels is not None:
                out[rows[i]] = pixels.reshape(shape)
                found[i] = True
        hits = int(found.sum())
        self.stats.hits += hits
        self.stats.misses += len(digests) - hits
        return found

    def write(self, digests: Sequence[str], images: np.ndarray) -> None:
        """Keep images ([len(digests), channels, h, w] uint8) under their digests
        (empty digests skipped); then evict when the folder passed the limit."""
        if self.off is not None or self.limit <= 0 or len(digests) == 0:
            return
        shape = (int(images.shape[1]), int(images.shape[2]), int(images.shape[3]))
        base, added = self._base(shape), 0
        try:
            for digest, image in zip(digests, images, strict=True):
                key = _key(digest)
                if key is not None:
                    added += self._write_row(base, digest, key, shape,
                                             np.ascontiguousarray(image))
                    self.stats.written += 1
        except OSError as exc:
            self.turn_off(exc)  # what was written before stays, and counted
        with contextlib.suppress(OSError):  # a count gone wrong is set right by a trim
            if added and self._add_usage(added) > self.limit:
                self.trim()

    def usage(self) -> int:
        """The bytes the folder's rows take (as the writers counted them)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.folder / USAGE).read_bytes().strip() or 0)
        return 0

    def prepare(self) -> None:
        """Make the folder, count what it holds and evict down to the limit (a worker
        starting, perhaps with a smaller limit than the last one); off when it cannot."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._add_usage(0)
        except OSError as exc:
            self.turn_off(exc)
            return
        self.trim()

    def trim(self) -> None:
        """Scan the folder, remove crashed writers' temporary files and, when the rows
        pass the limit, the least recently used ones down to LOW_WATER of it; the usage
        count set to what is left. One process trims at a time (the others go on)."""
        try:
            lock = os.open(self.folder / TRIM_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                counted, entries = self.usage(), self._scan()
                total = sum(size for _, size, _ in entries)
                # added to the count as it is now: rows others wrote meanwhile stay counted
                self._add_usage(total - self._evict(entries, total) - counted)
            finally:
                os.close(lock)  # releases the lock
        except BlockingIOError:
            return  # another process is trimming
        except OSError as exc:
            self.turn_off(exc)

    def summary(self) -> dict[str, object]:
        """The stats as status shows them: hits, misses, bytes, limit, evictions, ..."""
        return {**asdict(self.stats), "bytes": self.usage(), "limit": self.limit,
                "folder": str(self.folder), "off": self.off}

    def absorb(self, stats: CacheStats, off: str | None) -> None:
        """A DataLoader worker's stats (and its writes' state) taken into this one's."""
        self.stats.add(stats)
        if off is not None and self.off is None:
            self.off = off
            log.warning(_off_line(self.folder, off))

    def turn_off(self, exc: OSError) -> None:
        """Writes off for this process, said once (a full disk, quota, read-only folder)."""
        if self.off is not None:
            return
        self.off = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        if not self.quiet:
            log.warning(_off_line(self.folder, self.off))

    def path(self, digest: str, shape: tuple[int, int, int]) -> Path:
        """Where the row of digest at shape ([channels, h, w]) lives."""
        return Path(_row_path(self._base(shape), digest))

    def _base(self, shape: tuple[int, ...]) -> str:
        return os.path.join(self.folder, "x".join(map(str, shape)))  # the geometry's folder

    def _read_row(self, base: str, digest: str, key: bytes,
                  shape: tuple[int, int, int]) -> np.ndarray | None:
        path, row_bytes = _row_path(base, digest), shape[0] * shape[1] * shape[2]
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            data = os.read(fd, HEADER.size + row_bytes + 1)
            stale = time.time() - os.fstat(fd).st_mtime > TOUCH_EVERY_S
        except OSError:
            return None
        finally:
            os.close(fd)
        if len(data) != HEADER.size + row_bytes or HEADER.unpack_from(data) != (
                MAGIC, key, *shape, zlib.crc32(memoryview(data)[HEADER.size:])):
            self._drop(path)
            return None
        if stale:
            with contextlib.suppress(OSError):  # an LRU order a minute off is fine
                os.utime(path)
        return np.frombuffer(data, np.uint8, offset=HEADER.size)

    def _write_row(self, base: str, digest: str, key: bytes, shape: tuple[int, int, int],
                   image: np.ndarray) -> int:
        path = Path(_row_path(base, digest))
        data = HEADER.pack(MAGIC, key, *shape, zlib.crc32(image.data)) + image.tobytes()
        temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # the first row of its folder
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return len(data)

    def _drop(self, path: str) -> None:
        self.stats.corrupt += 1
        Path(path).unlink(missing_ok=True)
        if not self._told_corrupt and not self.quiet:
            self._told_corrupt = True
            log.warning("decoded cache %s: a corrupt row (%s) was dropped and is decoded "
                        "again", self.folder, os.path.basename(path))

    def _add_usage(self, delta: int) -> int:
        """Add delta to the shared usage count (under flock); returns the new count."""
        fd = os.open(self.folder / USAGE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 32, 0).strip()
            current = int(raw) if raw.isdigit() else 0
            new = max(0, current + delta)
            os.pwrite(fd, f"{new:020d}\n".encode(), 0)  # fixed width: rewritten in place
            return new
        finally:
            os.close(fd)

    def _scan(self) -> list[tuple[float, int, str]]:
        """(mtime, size, path) of every row; stale temporary files removed."""
        entries: list[tuple[float, int, str]] = []
        now = time.time()
        for geometry in _folders(self.folder):
            for bucket in _folders(Path(geometry)):
                with os.scandir(bucket) as found:
                    for entry in found:
                        try:
                            st = entry.stat()
                        except FileNotFoundError:
                            continue
                        if entry.name.endswith(".tmp"):
                            if now - st.st_mtime > STALE_TEMP_S:
                                Path(entry.path).unlink(missing_ok=True)
                        elif entry.name.endswith(".u8"):
                            entries.append((st.st_mtime, st.st_size, entry.path))
        return entries

    def _evict(self, entries: list[tuple[float, int, str]], total: int) -> int:
        """Remove the oldest rows until total is LOW_WATER of the limit; bytes removed."""
        removed, target = 0, int(self.limit * LOW_WATER)
        for _, size, path in sorted(entries) if total > self.limit else ():
            if total - removed <= target:
                break
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed += size
            self.stats.evictions += 1
        return removed


def _key(digest: str) -> bytes | None:
    """The 32 bytes of a sha256 hex digest; None for anything else (never cached)."""
    if not digest or len(digest) != 64:
        return None
    with contextlib.suppress(ValueError):
        return bytes.fromhex(digest)
    return None


def _row_path(base: str, digest: str) -> str:
    return f"{base}/{digest[:2]}/{digest}.u8"


def _folders(folder: Path) -> list[str]:
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as found:
        return [e.path for e in found if e.is_dir(follow_symlinks=False)]
    return []


def _off_line(folder: Path, reason: str) -> str:
    return (f"decoded cache {folder}: cannot write ({reason}); images are decoded without "
            "it from now on (free space there, or give the worker another cache folder)")
