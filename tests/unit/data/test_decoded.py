"""A worker's own decoded cache (data/decoded.py) on a real folder, and FileImages reading
through it: round trip, the size bound (least recently used evicted), a corrupt row
detected by its tag and decoded again, a disk that refuses writes (a file size limit in
a subprocess: the job goes on, one warning), and two processes filling one cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelearn.config import load_config
from activelearn.data.decoded import HEADER, DecodedCache, parse_size
from activelearn.data.imageset import FileImages, as_tensor, batches, slices
from activelearn.data.snapshot import CatalogueSnapshot, catalogue_snapshot
from activelearn.data.sources import open_pool
from activelearn.errors import OptionError
from activelearn.state import Store
from support.images import class_folders

SHAPE = (3, 8, 8)
ROW = HEADER.size + 3 * 8 * 8  # bytes of one row's file


def digest(i: int) -> str:
    return hashlib.sha256(f"image {i}".encode()).hexdigest()


def images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *SHAPE), dtype=np.uint8)


def read(cache: DecodedCache, digests: list[str]) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(digests), *SHAPE), np.uint8)
    found = cache.read(digests, SHAPE, out, np.arange(len(digests)))
    return found, out


def test_rows_round_trip_and_are_counted(tmp_path):
    cache = DecodedCache(tmp_path / "decoded", 10**6)
    cache.prepare()
    pixels = images(5)
    cache.write([digest(i) for i in range(5)], pixels)
    found, out = read(DecodedCache(tmp_path / "decoded", 10**6), [digest(i) for i in range(7)])
    assert found.tolist() == [True] * 5 + [False] * 2
    assert (out[:5] == pixels).all() and not out[5:].any()
    assert cache.usage() == 5 * ROW
    assert cache.path(digest(0), SHAPE).parent.parent.name == "3x8x8"  # per geometry
    other = np.zeros((1, 1, 8, 8), np.uint8)  # another geometry of the same file: not it
    assert not cache.read([digest(0)], (1, 8, 8), other, np.arange(1)).any()
    assert not read(cache, ["", "not-a-digest"])[0].any()  # never found, never an error


def test_the_folder_stays_under_its_limit_and_the_least_recently_used_go(tmp_path):
    cache = DecodedCache(tmp_path / "decoded", 10 * ROW)
    cache.prepare()
    pixels = images(30)
    cache.write([digest(i) for i in range(8)], pixels[:8])
    for age, i in enumerate(range(8)):  # rows 0-7 written long ago, row 0 the oldest
        os.utime(cache.path(digest(i), SHAPE), (1000 + age, 1000 + age))
    assert read(cache, [digest(0)])[0].all()  # a hit makes row 0 the most recent
    cache.write([digest(i) for i in range(8, 12)], pixels[8:12])  # 12 rows: 3 must go
    found, _ = read(cache, [digest(i) for i in range(12)])
    assert found.tolist() == [True, False, False, False] + [True] * 8
    assert cache.stats.evictions == 3
    # from now on each row written gets a time of its own in the past, in writing order
    # (after its write: the trim a write may start sees it as the newest), so the order
    # holds whatever the clock's resolution; row 0's hit stays the most recent use
    past = time.time() - 10_000

    def aged(rows: range) -> None:
        for i in rows:
            path = cache.path(digest(i), SHAPE)
            if path.exists():
                os.utime(path, (past + i, past + i))

    aged(range(8, 12))
    for start in range(12, 30, 2):
        cache.write([digest(start), digest(start + 1)], pixels[start:start + 2])
        aged(range(start, start + 2))
        rows = list((tmp_path / "decoded").rglob("*.u8"))
        assert sum(p.stat().st_size for p in rows) <= 10 * ROW
    found, out = read(cache, [digest(i) for i in range(30)])
    assert found[26:].all() and (out[26:] == pixels[26:]).all()  # the newest stay,
    # and those read since (0, and 4-7 by the check above); the others went, oldest first
    assert found[[0, 4, 5, 6, 7]].all() and not found[1:4].any() and not found[8:26].any()
    assert cache.stats.evictions == 30 - len(list((tmp_path / "decoded").rglob("*.u8")))
    assert cache.usage() == sum(p.stat().st_size for p in (tmp_path / "decoded").rglob("*.u8"))


def test_a_corrupt_row_is_dropped_said_once_and_decoded_again(tmp_path, caplog):
    cache = DecodedCache(tmp_path / "decoded", 10**6)
    cache.prepare()
    pixels = images(3)
    cache.write([digest(i) for i in range(3)], pixels)
    flipped = cache.path(digest(0), SHAPE)
    data = bytearray(flipped.read_bytes())
    data[-1] ^= 0xFF  # one pixel changed: the checksum in the header no longer matches
    flipped.write_bytes(bytes(data))
    cut = cache.path(digest(1), SHAPE)
    cut.write_bytes(cut.read_bytes()[:-10])  # a torn row
    with caplog.at_level(logging.WARNING, "activelearn.decoded"):
        found, _ = read(cache, [digest(i) for i in range(3)])
    assert found.tolist() == [False, False, True]
    assert not flipped.exists() and not cut.exists()
    assert cache.stats.corrupt == 2
    assert len([r for r in caplog.records if "corrupt row" in r.message]) == 1
    cache.write([digest(0), digest(1)], pixels[:2])  # decoded again, kept again
    found, out = read(cache, [digest(i) for i in range(3)])
    assert found.all() and (out == pixels).all()


def pngs(folder: Path, count: int) -> tuple[list[str], list[str]]:
    """count distinct 8x8 PNG files; their paths and sha256 digests."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(images(count, seed=1)):
        path = folder / f"{i}.png"
        Image.fromarray(pixels.transpose(1, 2, 0)).save(path)
        paths.append(str(path))
    return paths, [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


def test_file_images_decode_once_then_read_the_cache_also_in_loader_workers(tmp_path):
    paths, digests = pngs(tmp_path / "photos", 40)

    def opened() -> FileImages:
        return FileImages(paths, (8, 8), 3, digests=digests,
                          decoded=DecodedCache(tmp_path / "decoded", 10**6))

    first = opened()
    assert first.loader_workers() > 0  # nothing cached: decoded in DataLoader workers
    expected = np.concatenate([b.numpy() for b in batches(first, slices(40, 8))])
    assert (first.decoded.stats.hits, first.decoded.stats.misses) == (0, 40)  # counted here
    first.decoded.path(digests[5], (3, 8, 8)).unlink()
    few = opened()
    assert few.loader_workers() == 0  # one of 40 missing: decoded here, no processes
    assert (np.concatenate([b.numpy() for b in batches(few, slices(40, 8))])
            == expected).all()
    assert (few.decoded.stats.hits, few.decoded.stats.misses) == (39, 1)
    for i in (5, 6, 7, 8):
        first.decoded.path(digests[i], (3, 8, 8)).unlink(missing_ok=True)
    again = opened()
    assert again.loader_workers() > 0  # 4 of 40 missing: the workers read and decode
    loaded = np.concatenate([b.numpy() for b in batches(again, slices(40, 8))])
    assert (loaded == expected).all()
    assert (again.decoded.stats.hits, again.decoded.stats.misses) == (36, 4)
    for path in paths:  # from now on a decode would give blank images and warnings
        os.remove(path)
    third = opened()
    assert third.loader_workers() == 0  # all cached: read here, cheaper than a process
    loaded = np.concatenate([b.numpy() for b in batches(third, slices(40, 8))])
    assert (loaded == expected).all()
    assert (third.decoded.stats.hits, third.decoded.stats.misses) == (40, 0)
    assert (as_tensor(third[[3, 1]]).numpy() == expected[[3, 1]]).all()  # subsets share it


FULL_DISK = """
import json, logging, resource, signal, sys
import numpy as np
from pathlib import Path
from activelearn.data.decoded import DecodedCache
from activelearn.data.imageset import FileImages, as_tensor
logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
folder, limit = Path(sys.argv[1]), int(sys.argv[2])
paths, digests = sys.argv[3].split(","), sys.argv[4].split(",")
cache = DecodedCache(folder, 10**6)
cache.prepare()
if limit:  # a write past the limit fails with EFBIG (SIGXFSZ ignored)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
images = FileImages(paths, (8, 8), 3, digests=digests, decoded=cache)
first = as_tensor(images).numpy()
again = as_tensor(images).numpy()
assert (first == again).all() and first.any()
print(json.dumps({"off": cache.off, "misses": cache.stats.misses, "hits": cache.stats.hits,
                  "rows": len(list(folder.rglob("*.u8"))),
                  "temporary": len(list(folder.rglob("*.tmp")))}))
"""


def on_a_full_disk(folder: Path) -> tuple[list[str], int, str]:
    """How to run a script with `folder` on a full disk: on a real 32 kB filesystem (a
    tmpfs mounted in a mount namespace of the script's own, where `unshare` may make
    one), else under a file size limit below a row's size (each write then fails with
    EFBIG, after its temporary file was made, as ENOSPC would). Returns the command's
    prefix, the file size limit the script sets (0: none) and the error expected."""
    folder.mkdir()
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-Urm", "true"], capture_output=True).returncode == 0:
        mount = 'mount -t tmpfs -o size=32k tmpfs "$0" && exec "$@"'
        return ["unshare", "-Urm", "sh", "-c", mount, str(folder)], 0, \
            "No space left on device"
    return [], ROW // 2, "File too large"


def test_a_full_disk_leaves_the_job_working_with_one_warning(tmp_path):
    paths, digests = pngs(tmp_path / "photos", 12)
    prefix, limit, error = on_a_full_disk(tmp_path / "decoded")
    run = subprocess.run([*prefix, sys.executable, "-c", FULL_DISK, str(tmp_path / "decoded"),
                          str(limit), ",".join(paths), ",".join(digests)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["off"] == error
    assert found["rows"] < 12 and found["temporary"] == 0  # nothing half-written left
    # what fitted is read back, the rest decoded both times
    assert (found["hits"], found["misses"]) == (found["rows"], 24 - found["rows"])
    warnings = [line for line in run.stderr.splitlines() if "cannot write" in line]
    assert len(warnings) == 1, run.stderr
    assert f"cannot write ({error}); images are decoded without it" in warnings[0]


FILLER = """
import sys, hashlib, numpy as np
from pathlib import Path
from activelearn.data.decoded import DecodedCache
shape = (3, 8, 8)
pixels = np.random.default_rng(0).integers(0, 256, (300, *shape), dtype=np.uint8)
digests = [hashlib.sha256(f"image {i}".encode()).hexdigest() for i in range(300)]
order = np.random.default_rng(int(sys.argv[2])).permutation(300)
cache = DecodedCache(Path(sys.argv[1]), 10**7)
for rep in range(3):
    for start in range(0, 300, 10):
        part = order[start:start + 10]
        out = np.zeros((len(part), *shape), np.uint8)
        found = cache.read([digests[i] for i in part], shape, out, np.arange(len(part)))
        assert (out[found] == pixels[part][found]).all(), "a row read back wrong"
        cache.write([digests[i] for i in part], pixels[part])
print(cache.stats.corrupt, cache.off)
"""


def test_two_processes_filling_one_cache_leave_no_torn_row(tmp_path):
    folder = tmp_path / "decoded"
    DecodedCache(folder, 10**7).prepare()
    procs = [subprocess.Popen([sys.executable, "-c", FILLER, str(folder), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split() == ["0", "None"]  # no corrupt row seen, writes stayed on
    pixels = np.random.default_rng(0).integers(0, 256, (300, *SHAPE), dtype=np.uint8)
    found, out = read(DecodedCache(folder, 10**7), [digest(i) for i in range(300)])
    assert found.all() and (out == pixels).all()
    assert not list(folder.rglob("*.tmp"))


@pytest.mark.parametrize(("text", "size"), [("2GB", 2 * 10**9), ("500MB", 500 * 10**6),
                                            ("1.5G", 1_500_000_000), ("512MiB", 512 * 2**20),
                                            ("0", 0), ("4096", 4096)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["2 parsecs", "-1GB", "GB", "", "1e9"])
def test_a_bad_size_names_the_option(text):
    with pytest.raises(OptionError, match=r"^cache_size .*: not a size; write it as 2GB"):
        parse_size(text)


def test_loader_workers_that_cannot_write_are_reported_once_by_their_parent(tmp_path,
                                                                           caplog):
    paths, digests = pngs(tmp_path / "photos", 40)
    folder = tmp_path / "decoded"
    folder.mkdir()
    (folder / "3x8x8").write_text("a file where the geometry's folder goes")
    images = FileImages(paths, (8, 8), 3, digests=digests, decoded=DecodedCache(folder, 10**6))
    with caplog.at_level(logging.WARNING, "activelearn.decoded"):
        loaded = np.concatenate([b.numpy() for b in batches(images, slices(40, 4))])
        again = np.concatenate([b.numpy() for b in batches(images, slices(40, 4))])
    assert (loaded == again).all() and loaded.any()
    assert images.decoded.off == "Not a directory"
    assert images.decoded.stats.misses == 80
    assert len([r for r in caplog.records if "cannot write" in r.message]) == 1


def test_a_folder_that_cannot_be_made_turns_writes_off_once(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = DecodedCache(blocker / "decoded", 10**6)
    with caplog.at_level(logging.WARNING, "activelearn.decoded"):
        cache.prepare()
        cache.write([digest(0)], images(1))
    assert cache.off is not None
    assert len(caplog.records) == 1 and "cannot write" in caplog.records[0].message
    assert not read(cache, [digest(0)])[0].any()


def test_the_environment_hands_the_cache_on(tmp_path, monkeypatch):
    cache = DecodedCache(tmp_path / "decoded", 12345)
    monkeypatch.setenv("ACTIVELEARN_DECODED_CACHE", cache.environment())
    opened = DecodedCache.from_environment()
    assert opened is not None and (opened.folder, opened.limit) == (cache.folder, 12345)
    monkeypatch.delenv("ACTIVELEARN_DECODED_CACHE")
    assert DecodedCache.from_environment() is None


def test_a_pool_from_a_snapshot_without_a_memmap_cache_uses_the_workers_cache(
        project_file, tmp_path, monkeypatch):
    root = class_folders(tmp_path / "photos", ["a", "b"], per_class=3)
    cfg = load_config(project_file(data={"source": "imagefolder", "root": str(root),
                                         "limit": None, "test_limit": None},
                                   classes=["a", "b"]))
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        controller = open_pool(cfg, store)  # catalogued: the files' sha256
        document = catalogue_snapshot(store.catalogue)
    assert controller.images.decoded is None  # the controller has none
    cache = DecodedCache(tmp_path / "decoded", 10**6)
    monkeypatch.setenv("ACTIVELEARN_DECODED_CACHE", cache.environment())
    elsewhere = open_pool(cfg, catalogue=CatalogueSnapshot.parse(document, False))
    assert elsewhere.images.decoded is not None
    assert elsewhere.images.digests == controller.hashes.sha256
    as_tensor(elsewhere.images)
    assert (elsewhere.images.decoded.stats.misses, len(list(cache.folder.rglob("*.u8")))) \
        == (6, 6)
    monkeypatch.delenv("ACTIVELEARN_DECODED_CACHE")
    assert open_pool(cfg, catalogue=CatalogueSnapshot.parse(document, False)).images \
        .decoded is None  # a worker that set none up
