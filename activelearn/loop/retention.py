"""Retention: after each finished round, what the artifact store no longer needs goes, so a
cron loop that runs every 10 minutes for months keeps its disk (or bucket) flat.

What stays:

- models: the last jobs.keep_models versions trained by finished rounds (the newest is
  the model `serve` answers with and a top-up selects with), and the version of every
  round not finished (a killed round resumes with its own model; its review's folds and
  score shards stay too, so it scores and trains only what is missing);
- what the next round's jobs read (jobs.payloads.current_artifacts: the catalogue's and
  the pool embeddings' manifests with every part they list, the published weights file);
- anything written since the newest round first started (by the store's clock: the time
  of that round's marker, retention/VERSION.start, published put-if-absent when the round
  starts, so a resumed round keeps its first start). Rounds run one at a time under the
  cycle lock, so whatever a round in flight reads or is publishing now is newer than
  that, or is named above. A content-addressed name reused now is `touch`ed by
  publish_content (its time becomes now), and every removal looks at the time again just
  before it removes (ArtifactStore.remove(older_than=...));
- anything outside the folders below (a local store is the work dir: the state, reports,
  backups), pretrained checkpoints (pretrained/, pretrain/) and other projects' models.

What goes: older checkpoints and their metrics, score shards and position lists
(scores/VERSION/), out-of-fold folds (review/VERSION/), labelled snapshots, embed
positions and outputs, catalogue and feature manifests and parts no longer current, old
weights files, old round markers; and the controller's fetched copies of what the store
no longer holds (WORK_DIR/fetched). A store that holds another project's models (two
projects on one prefix) keeps its content-addressed folders whole: only this project's
versioned names go (say so once per round).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from activelearn.config.service_checks import mask_password
from activelearn.data.artifacts import ArtifactStore, Listed
from activelearn.data.decoded import format_size
from activelearn.errors import JobError
from activelearn.jobs.scratch import folder_bytes, prune_copies
from activelearn.kinds import RoundStatus
from activelearn.project import Project
from activelearn.state import Store

# torch-free at import: `status` calls disk_usage (jobs.payloads and learn.checkpoints,
# which import torch, are imported where a pass runs)

log = logging.getLogger("activelearn.retention")

MARKERS = "retention"  # retention/VERSION.start: when a round first started
VERSIONED = ("models", "scores", "review", MARKERS)  # named by this project's versions
CONTENT = ("snapshots", "catalogues", "features", "embed", "embeddings", "weights")
KEPT_WHOLE = ("pretrained", "pretrain")  # listed by usage, never removed here
KINDS = {"models": "models", "scores": "scores", "snapshots": "snapshots",
         "catalogues": "snapshots", "features": "snapshots"}  # usage's kinds; else other
CLOCK_SLACK = 600.0  # seconds: the cutoff without a marker (the state's clock, not the store's)


@dataclass
class Decision:
    """One retention pass's verdict on a listing: what goes, and why the rest stays."""

    remove: list[Listed]
    keep_versions: set[str]
    cutoff: float | None  # unix seconds, the store's clock; None: nothing goes
    shared: bool  # another project's models in the store: content folders kept whole
    kept: list[Listed] = field(default_factory=list)


@dataclass
class Swept:
    """What a pass removed (artifacts and bytes), what the store holds after it, and the
    fetched copies pruned (files, bytes)."""

    removed: int
    freed: int
    held: int
    copies: int
    copies_freed: int
    shared: bool


def marker_name(version: str) -> str:
    """The artifact marking when a round (of this model version's name) first started."""
    return f"{MARKERS}/{version}.start"


def mark_round_start(artifacts: ArtifactStore, version: str) -> None:
    """Publish the round's start marker, put-if-absent: a resumed round keeps the time
    of its first start (what retention spares everything written since)."""
    with contextlib.suppress(FileExistsError):
        artifacts.publish_bytes(marker_name(version), b"", exclusive=True)


def model_version(project_name: str, round_: int) -> str:
    """learn.checkpoints.model_version, imported when used (see the imports)."""
    from activelearn.learn.checkpoints import model_version as version

    return version(project_name, round_)


def needed_versions(store: Store, project_name: str, keep_models: int) -> set[str]:
    """The model versions that stay: the last keep_models versions of finished rounds
    (the newest is serve's) and every unfinished round's own version."""
    rounds = store.rounds.all()
    done = [r.model_version for r in rounds
            if r.status == RoundStatus.DONE.value and r.model_version]
    keep = set(done[-keep_models:])
    keep.update(model_version(project_name, r.round) for r in rounds
                if r.status != RoundStatus.DONE.value)
    return keep


def decide(project: Project, store: Store, listing: list[Listed]) -> Decision:
    """What a pass over `listing` (the store's managed folders) removes; see the module."""
    from activelearn.jobs.payloads import current_artifacts

    cfg = project.cfg
    name = cfg.project.name
    keep = needed_versions(store, name, cfg.jobs.keep_models)
    rounds = store.rounds.all()
    unfinished = [r.round for r in rounds if r.status != RoundStatus.DONE.value]
    working = {model_version(name, r) for r in unfinished}
    if unfinished:  # a top-up in flight scores with the latest finished round's model
        working.update([r.model_version for r in rounds if r.status == RoundStatus.DONE.value
                        and r.model_version][-1:])
    newest = rounds[-1].round if rounds else None
    markers = {marker_name(model_version(name, r)) for r in unfinished}
    if newest is not None:
        markers.add(marker_name(model_version(name, newest)))
    ours = re.compile(rf"^(?:models|scores|review|{MARKERS})/({re.escape(name)}-r\d+)"
                      r"(?:\.pt|\.json|\.start|/.+)$")
    shared = any(a.name.startswith("models/") and not ours.match(a.name) for a in listing)
    current = current_artifacts(project, store)
    cutoff = _cutoff(store, listing, markers)
    decision = Decision([], keep, cutoff, shared)
    for artifact in listing:
        if cutoff is not None and artifact.modified is not None \
                and artifact.modified < cutoff \
                and _removable(artifact.name, ours, keep, working, markers, current, shared):
            decision.remove.append(artifact)
        else:
            decision.kept.append(artifact)
    return decision


def _removable(name: str, ours: re.Pattern[str], keep: set[str], working: set[str],
               markers: set[str], current: set[str], shared: bool) -> bool:
    """Whether an artifact no longer needed by name (its age is checked by the caller)."""
    folder = name.split("/", 1)[0]
    if folder in VERSIONED:
        found = ours.match(name)
        if found is None:  # another project's, or a name we do not know: not ours
            return False
        version = found.group(1)
        if folder == "models":
            return version not in keep
        if folder == MARKERS:
            return name not in markers
        return version not in working  # scores, review: a resumable round's stay
    return folder in CONTENT and not shared and name not in current


def _cutoff(store: Store, listing: list[Listed], markers: set[str]) -> float | None:
    """The store-clock time before which unreferenced artifacts may go: the earliest
    start marker of the newest and unfinished rounds; without one (rounds from before
    retention), the newest round's recorded start less CLOCK_SLACK; None before any."""
    times = [a.modified for a in listing if a.name in markers]
    if times and all(t is not None for t in times) and len(times) == len(markers):
        return min(t for t in times if t is not None)
    last = store.rounds.last()
    if last is None or not last.get("started_at"):
        return None
    return float(last["started_at"]) - CLOCK_SLACK


def managed_listing(artifacts: ArtifactStore) -> list[Listed]:
    """The artifacts retention manages or counts: a remote store's whole listing; in a
    local store (the work dir) only the artifact folders, never the state or reports."""
    if not artifacts.local:
        return artifacts.list()
    return [a for folder in (*VERSIONED, *CONTENT, *KEPT_WHOLE)
            for a in artifacts.list(folder)]


def apply_retention(project: Project, store: Store,
                    echo: Callable[[str], None] = log.info) -> Swept:
    """One retention pass (after a finished round, or by hand): list, decide, remove the
    artifacts no longer needed (each looked at again just before), then prune the
    controller's fetched copies of what the store no longer holds. JobError when the
    store cannot be listed or answers with an error (nothing is lost: the next pass
    goes on where this one stopped)."""
    artifacts = project.artifacts
    started = time.time()
    listing = managed_listing(artifacts)
    decision = decide(project, store, listing)
    removed, freed = [], 0
    for artifact in decision.remove:
        assert decision.cutoff is not None
        if artifacts.remove(artifact.name, older_than=decision.cutoff):
            removed.append(artifact.name)
            freed += artifact.size
    if decision.shared:
        echo("  retention: this store holds another project's models; only this "
             "project's models, shards and folds are removed (give each project its own "
             "jobs.artifacts prefix)")
    gone = set(removed)
    present = {a.name for a in listing if a.name not in gone}
    copies, copies_freed = (0, 0) if artifacts.local else \
        prune_copies(artifacts, present, before=started)
    held = sum(a.size for a in listing) - freed
    log.info("retention: removed %d artifacts (%d bytes), %d copies; cutoff %s",
             len(removed), freed, copies, decision.cutoff)
    return Swept(len(removed), freed, held, copies, copies_freed, decision.shared)


def retain_after_round(project: Project, store: Store, echo: Callable[[str], None]) -> None:
    """apply_retention after a finished round: one line when it removed something; a
    store error is said in one line and the cycle goes on (the round is done; the next
    one retries)."""
    try:
        swept = apply_retention(project, store, echo)
    except JobError as exc:
        echo(f"  retention skipped: {exc}")
        return
    if swept.removed or swept.copies:
        copies = f" and {swept.copies} fetched copies ({format_size(swept.copies_freed)})" \
            if swept.copies else ""
        echo(f"  retention: removed {swept.removed} artifacts ({format_size(swept.freed)})"
             f"{copies}; the store holds {format_size(swept.held)}")


def disk_usage(project: Project) -> dict[str, Any]:
    """What the project's artifacts take, for `status`: the store's bytes by kind
    (models, scores, snapshots: labelled, catalogue and feature snapshots; other), its
    artifact count, and the bytes of this machine's fetched copies (WORK_DIR/fetched).
    Lists the store once (JobError when it cannot)."""
    artifacts = project.artifacts
    kinds = dict.fromkeys(("models", "scores", "snapshots", "other"), 0)
    listing = managed_listing(artifacts)
    for artifact in listing:
        kinds[KINDS.get(artifact.name.split("/", 1)[0], "other")] += artifact.size
    return {"store": mask_password(artifacts.url),
            "bytes": kinds, "total": sum(kinds.values()), "artifacts": len(listing),
            "fetched": folder_bytes(artifacts.scratch)}


def disk_line(usage: dict[str, Any]) -> str:
    """disk_usage as status's one line: "disk: store 41 MB in 63 artifacts (models 30 MB,
    scores 8 MB, snapshots 3 MB, other 120 kB), fetched copies 12 MB"."""
    kinds = ", ".join(f"{kind} {format_size(n)}" for kind, n in usage["bytes"].items())
    return (f"disk: store {format_size(usage['total'])} in {usage['artifacts']} artifacts "
            f"({kinds}), fetched copies {format_size(usage['fetched'])}")


