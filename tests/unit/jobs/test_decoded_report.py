"""What a worker reports of its decoded cache (jobs/worker.py: DecodedReport) and how
`status --queues` words it (reporting/status.py: decoded_line)."""

from __future__ import annotations

from types import SimpleNamespace

from activelearn.data.decoded import CacheStats, DecodedCache
from activelearn.jobs.worker import DecodedReport
from activelearn.reporting.status import decoded_line


def test_counts_are_summed_over_the_pools_of_a_workers_jobs(tmp_path):
    own = DecodedCache(tmp_path / "decoded", 2 * 10**9)
    own.prepare()
    report = DecodedReport(own)
    assert report.update(None)["hits"] == 0  # before any job: the cache, no counts
    first = DecodedCache(own.folder, own.limit)  # a job's pool opens its own
    first.stats = CacheStats(hits=5, misses=3, written=3)
    pool = SimpleNamespace(images=SimpleNamespace(decoded=first))
    assert (report.update(pool)["hits"], report.update(pool)["misses"]) == (5, 3)  # once
    first.stats.hits += 2  # the next job on the same pool
    assert report.update(pool)["hits"] == 7
    second = DecodedCache(own.folder, own.limit)  # another project's pool replaced it
    second.stats, second.off = CacheStats(hits=4), "No space left on device"
    summary = report.update(SimpleNamespace(images=SimpleNamespace(decoded=second)))
    assert (summary["hits"], summary["misses"], summary["written"]) == (11, 3, 3)
    assert summary["off"] == "No space left on device"
    assert (summary["limit"], summary["folder"]) == (2 * 10**9, str(own.folder))
    # a head-mode pool holds embeddings, not FileImages: nothing to add
    assert report.update(SimpleNamespace(images=object()))["hits"] == 11


def test_the_status_line():
    stats = {"hits": 18000, "misses": 2000, "bytes": 230 * 10**6, "limit": 2 * 10**9,
             "evictions": 0, "corrupt": 0, "off": None}
    assert decoded_line(stats) == "decoded cache: 18,000 hits, 2,000 misses, 230 MB of 2 GB"
    stats.update(evictions=1200, corrupt=2, off="No space left on device",
                 bytes=1_500_000_000)
    assert decoded_line(stats) == (
        "decoded cache: 18,000 hits, 2,000 misses, 1.5 GB of 2 GB, 1,200 evicted, 2 corrupt "
        "rows decoded again; writes off (No space left on device): images are decoded "
        "without it")
