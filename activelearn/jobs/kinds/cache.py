"""The cache job: decode a shard of the catalogued files into the decoded cache
(data.cache: memmap) when the workers share the controller's disk.

Controller side: `build_cache(project, store, ...)` shards the files the cache lacks and
records what the jobs wrote (and the files that failed, as unusable). Worker side: `run`
decodes its files into their rows of the cache. On the gpu queue, jobs.score_timeout,
retried jobs.retries times.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activelearn.data.cache import missing, write_rows
from activelearn.data.snapshot import CatalogueSnapshot
from activelearn.data.sources import project_cache
from activelearn.errors import JobError
from activelearn.jobs.inputs import open_job
from activelearn.jobs.kind import JobKind, Progress
from activelearn.jobs.payloads import base_payload
from activelearn.jobs.resident import WorkerCache

if TYPE_CHECKING:
    from activelearn.jobs.controller import ProjectHandles
    from activelearn.state import Store


# -- controller side --------------------------------------------------------------------
def build_cache(project: ProjectHandles, store: Store, progress: bool) -> int:
    """Decode the catalogued files the decoded cache lacks as `cache` jobs of
    jobs.shard_size files, and record what they wrote (and the files that failed, as
    unusable). Returns the images written."""
    cfg = project.cfg
    rows = list(store.catalogue.rows())
    todo = [r.item_id for r in missing(project_cache(cfg), store.catalogue, rows)]
    shard = cfg.jobs.shard_size
    base = base_payload(project, store)
    payloads = [{**base, "item_ids": todo[start:start + shard]}
                for start in range(0, len(todo), shard)]
    written = 0
    for result in project.executor.run(KIND, payloads, total=len(todo), desc="cache",
                                       progress=progress):
        store.catalogue.set_cached(result["written"])
        store.catalogue.mark_unusable(result["failed"])
        written += len(result["written"])
    return written


# -- worker side ------------------------------------------------------------------------
def run(payload: dict[str, Any], progress: Progress, cache: WorkerCache) -> dict[str, Any]:
    """payload: config, artifacts, catalogue, item_ids. Decodes those catalogued files
    into their rows of the project's decoded cache (data.cache: memmap; the controller
    sized the file, on a disk this job shares). The files are the catalogue snapshot's
    (never paths from the payload). Returns the ids written and, per id, why a file
    failed; the controller records both."""
    job = open_job(payload)
    if not job.shared:
        raise JobError("refused: a cache job writes the controller's decoded cache, which "
                       "this worker does not share (a remote artifact store)")
    snapshot = CatalogueSnapshot.read(job.store, payload["catalogue"], shared_cache=True)
    rows = snapshot.rows_of([str(i) for i in payload["item_ids"]])
    written, failed = write_rows(project_cache(job.cfg), rows, workers=0,
                                 done=lambda ok, bad: progress(len(ok) + len(bad)))
    return {"written": written, "failed": failed}


KIND = JobKind("cache", queue="gpu", timeout="score_timeout", run=run,
               describe=lambda payload: f"cache {len(payload['item_ids'])} images")
