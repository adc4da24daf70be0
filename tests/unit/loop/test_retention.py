"""Retention (loop/retention.py) on a real state in tmp_path and a local artifact store
(the work dir): which models, shards, folds and snapshots a pass keeps and removes, the
start-of-round cutoff, a content-addressed name reused mid-pass, a store shared with
another project, the work dir's other files, and the disk use `status` shows."""

from __future__ import annotations

import json
import os
import time

import pytest

from activelearn.config import FASHION_MNIST_CLASSES, config_from_dict
from activelearn.data.artifacts import content_name
from activelearn.data.shards import FORMAT
from activelearn.jobs.payloads import CATALOGUE_KEY
from activelearn.loop.retention import (
    apply_retention,
    decide,
    disk_line,
    disk_usage,
    managed_listing,
    mark_round_start,
    marker_name,
    needed_versions,
)
from activelearn.project import Project

OLD = time.time() - 3600  # every artifact's time, unless a test says otherwise


def make_project(tmp_path, keep: int = 2) -> Project:
    return Project(config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "jobs": {"keep_models": keep}}))


def put(project: Project, name: str, at: float = OLD, data: bytes = b"x" * 10) -> None:
    project.artifacts.publish_bytes(name, data)
    os.utime(project.artifacts.path(name), (at, at))


def rounds(project: Project, done: int, open_round: bool) -> None:
    """Round 0 (bootstrap, no model), rounds 1..done finished with models t-r1.., and
    round done+1 still running (its model trained) when open_round; each round's files
    (checkpoint, metrics, score shards and positions, folds) published long ago, the
    newest round's start marker an hour later than them."""
    newest = done + 1 if open_round else done
    with project.store() as store:
        for r in range(newest + 1):
            store.rounds.start(r)
            if r <= done:
                store.rounds.finish(r, f"t-r{r}" if r else None, 40 * (r + 1))
            if r:
                for name in (f"models/t-r{r}.pt", f"models/t-r{r}.json",
                             f"scores/t-r{r}/0123456789abcdef0123.npy",
                             f"scores/t-r{r}/shard-aa-0.npz", f"review/t-r{r}/fold-0-of-2.npz"):
                    put(project, name)
            put(project, marker_name(f"t-r{r}"), at=OLD + 60 * r)
    put(project, marker_name(f"t-r{newest}"), at=OLD + 3000)


def names(project: Project) -> set[str]:
    return {a.name for a in managed_listing(project.artifacts)}


def test_keeps_the_last_models_serves_and_every_unfinished_rounds_files(tmp_path):
    project = make_project(tmp_path, keep=2)
    rounds(project, done=5, open_round=True)
    put(project, "snapshots/aaaa.json")
    put(project, "embed/bbbb.npy")
    put(project, "snapshots/new.json", at=OLD + 3001)  # written after round 6 started
    with project.store() as store:
        assert needed_versions(store, "t", 2) == {"t-r4", "t-r5", "t-r6"}
        swept = apply_retention(project, store)
    left = names(project)
    for r in (1, 2, 3):  # older than the last two finished: gone with their files
        assert not {n for n in left if f"t-r{r}" in n}
    for r in (4, 5, 6):
        assert {f"models/t-r{r}.pt", f"models/t-r{r}.json"} <= left
    # the resumable round 6 keeps its shards and folds, and those of the model a top-up
    # in flight would score with (the newest finished)
    assert {"scores/t-r6/shard-aa-0.npz", "review/t-r6/fold-0-of-2.npz",
            "scores/t-r5/shard-aa-0.npz"} <= left
    assert not {"scores/t-r4/shard-aa-0.npz", "review/t-r4/fold-0-of-2.npz"} & left
    assert "snapshots/aaaa.json" not in left and "embed/bbbb.npy" not in left
    assert "snapshots/new.json" in left  # newer than the newest round's start
    assert marker_name("t-r6") in left and marker_name("t-r3") not in left
    # models r1-r3, shards and positions r1-r4, folds r1-r4, markers r0-r5, 2 snapshots
    assert swept.removed == 6 + 8 + 4 + 6 + 2 and not swept.shared


def test_serves_model_stays_with_keep_models_1_and_no_round_open(tmp_path):
    project = make_project(tmp_path, keep=1)
    rounds(project, done=3, open_round=False)
    with project.store() as store:
        apply_retention(project, store)
    left = names(project)
    assert {"models/t-r3.pt", "models/t-r3.json"} <= left  # serve's: the newest finished
    assert "models/t-r2.pt" not in left and "scores/t-r2/shard-aa-0.npz" not in left
    # round 3's own shards go too: no round can resume them (they are older than its start)
    assert "scores/t-r3/shard-aa-0.npz" not in left


def test_current_catalogue_and_its_parts_stay_old_ones_go(tmp_path):
    project = make_project(tmp_path)
    rounds(project, done=2, open_round=False)
    manifest = {"format": FORMAT, "parts": ["catalogues/parts/p1.part",
                                            "catalogues/parts/p2.part"]}
    data = json.dumps(manifest).encode()
    current = content_name("catalogues", data, ".json")  # read_manifest checks the digest
    put(project, current, data=data)
    for name in (*manifest["parts"], "catalogues/old.json", "catalogues/parts/p0.part"):
        put(project, name)
    with project.store() as store:
        store.meta.set(CATALOGUE_KEY, current)
        apply_retention(project, store)
    left = names(project)
    assert {current, *manifest["parts"]} <= left
    assert not {"catalogues/old.json", "catalogues/parts/p0.part"} & left


def test_a_name_reused_while_the_pass_runs_stays(tmp_path):
    """publish_content of a name that exists touches it: a pass that listed it as old
    looks again before removing and keeps it."""
    project = make_project(tmp_path)
    rounds(project, done=2, open_round=False)
    name = project.artifacts.publish_content("snapshots", b"labels", ".json")
    os.utime(project.artifacts.path(name), (OLD, OLD))
    with project.store() as store:
        decision = decide(project, store, managed_listing(project.artifacts))
        assert name in {a.name for a in decision.remove}
        assert project.artifacts.publish_content("snapshots", b"labels", ".json") == name
        assert decision.cutoff is not None
        assert not project.artifacts.remove(name, older_than=decision.cutoff)
    assert project.artifacts.exists(name)


def test_the_start_marker_keeps_the_first_start(tmp_path):
    project = make_project(tmp_path)
    mark_round_start(project.artifacts, "t-r1")
    path = project.artifacts.path(marker_name("t-r1"))
    os.utime(path, (OLD, OLD))
    mark_round_start(project.artifacts, "t-r1")  # the resumed round
    assert path.stat().st_mtime == pytest.approx(OLD)


def test_a_store_with_another_projects_models_keeps_its_content_folders(tmp_path):
    project = make_project(tmp_path, keep=1)
    rounds(project, done=3, open_round=False)
    put(project, "models/other-r1.pt")
    put(project, "scores/other-r1/shard-aa-0.npz")
    put(project, "snapshots/shared.json")
    with project.store() as store:
        lines: list[str] = []
        swept = apply_retention(project, store, lines.append)
    left = names(project)
    assert swept.shared and "another project's models" in lines[0]
    assert {"models/other-r1.pt", "scores/other-r1/shard-aa-0.npz",
            "snapshots/shared.json"} <= left
    assert "models/t-r1.pt" not in left


def test_nothing_outside_the_artifact_folders_and_nothing_before_a_round(tmp_path):
    project = make_project(tmp_path)
    put(project, "snapshots/aaaa.json")
    with project.store() as store:  # no round yet: no cutoff, nothing goes
        assert apply_retention(project, store).removed == 0
    rounds(project, done=2, open_round=False)
    work = project.work_dir
    (work / "report").mkdir()
    (work / "report" / "index.html").write_text("report")
    os.utime(work / "report" / "index.html", (OLD, OLD))
    put(project, "pretrained/abc.pt")
    with project.store() as store:
        assert apply_retention(project, store).removed > 0
    assert (work / "report" / "index.html").is_file() and (work / "state.sqlite").is_file()
    assert "pretrained/abc.pt" in names(project)
    assert "snapshots/aaaa.json" not in names(project)


def test_disk_usage_by_kind(tmp_path):
    project = make_project(tmp_path)
    put(project, "models/t-r1.pt", data=b"m" * 1000)
    put(project, "scores/t-r1/shard-aa-0.npz", data=b"s" * 200)
    put(project, "catalogues/c.json", data=b"c" * 30)
    put(project, "review/t-r1/fold-0-of-2.npz", data=b"r" * 4)
    copies = project.artifacts.copies  # WORK_DIR/fetched/fetched/DIGEST
    copies.mkdir(parents=True)
    (copies / "x").write_bytes(b"f" * 7)
    usage = disk_usage(project)
    assert usage["bytes"] == {"models": 1000, "scores": 200, "snapshots": 30, "other": 4}
    assert usage["total"] == 1234 and usage["artifacts"] == 4 and usage["fetched"] == 7
    assert disk_line(usage) == ("disk: store 1.2 kB in 4 artifacts (models 1 kB, scores "
                                "200 B, snapshots 30 B, other 4 B), fetched copies 7 B")
