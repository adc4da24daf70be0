"""What a job carries instead of paths on the controller's disk: the config as content
(read back to an equal Config, paths made absolute), the store's URL, the labelled
snapshot; a job run inline reads nothing but its payload and the store; and the
artifacts the next round reads (what retention keeps)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from activelearn.config import config_content, config_from_dict, load_config
from activelearn.data import shards
from activelearn.errors import ConfigError, JobError
from activelearn.jobs.inputs import (
    ARTIFACTS_ENV,
    SCRATCH_ENV,
    WORK_DIRS_ENV,
    labels_snapshot,
    open_job,
    parse_labels,
    public_url,
)
from activelearn.jobs.payloads import FEATURES_KEY, base_payload, current_artifacts
from activelearn.project import Project
from activelearn.state import Store
from activelearn.state.catalogue import CatalogueRow


def test_the_config_travels_as_content_and_reads_back_equal(project_file) -> None:
    cfg = load_config(project_file(strategy={"name": "badge"}, training={"l1": 0.001}))
    raw = json.loads(json.dumps(config_content(cfg)))  # what RQ's JSON serializer carries
    again = config_from_dict(raw, source=cfg.path)
    assert again == cfg


def test_a_payload_names_no_relative_path(project_file, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(project_file(project={"name": "t", "work_dir": "work", "seed": 0},
                                   data={"root": "data"}))
    payload = base_payload(Project(cfg))
    assert payload["config"]["project"]["work_dir"] == str(tmp_path / "work")
    assert payload["config"]["data"]["root"] == str(tmp_path / "data")
    assert payload["artifacts"] == str(tmp_path / "work")  # the default store: the work dir
    job = open_job(payload)  # inline: the controller's own paths
    assert job.shared and job.cfg.work_dir == tmp_path / "work" and job.store.local


def test_the_labelled_snapshot_reads_back_and_is_canonical() -> None:
    train, holdout = {"b": 2, "a": 1}, {"h": 0}
    splits = {"a": "train", "b": "train", "h": "holdout"}
    data = labels_snapshot(train, holdout, splits)
    assert labels_snapshot(dict(reversed(train.items())), holdout, splits) == data
    assert parse_labels(data) == {"train": train, "holdout": holdout, "splits": splits,
                                  "copies": set()}
    with_copies = labels_snapshot(train, holdout, splits, {"a"})
    assert parse_labels(with_copies)["copies"] == {"a"}


def test_the_artifact_store_is_a_folder_or_a_url_jobs_can_write_to(project_file) -> None:
    cfg = load_config(project_file(jobs={"artifacts": "s3://bucket/x"}))
    assert cfg.jobs.remote_artifacts
    for bad in ("http://host/x", "ftp://host/x"):
        with pytest.raises(ConfigError, match="jobs.artifacts: .* is no store jobs can"):
            config_from_dict({**config_content(cfg), "jobs": {"artifacts": bad}})
    local = dataclasses.replace(cfg.jobs, artifacts="file:///tmp/x")
    assert not local.remote_artifacts


@pytest.mark.parametrize(("url", "public"), [
    ("redis://:pw@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("https://user:pw@ls.example/", "https://ls.example/"),
    ("https://token-as-user@ls.example/", "https://ls.example/"),
    ("s3://key:secret@bucket/prefix", "s3://bucket/prefix"),
    ("abfs://container@account.dfs.core.windows.net/x",  # a container, not a credential
     "abfs://container@account.dfs.core.windows.net/x"),
    ("https://img.example/{path}?size=2&X-Amz-Signature=abc&sig=def",
     "https://img.example/{path}?size=2"),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
    ("/a/local/folder", "/a/local/folder"),
])
def test_a_public_url_has_no_credentials(url, public) -> None:
    assert public_url(url) == public


def test_a_payload_carries_no_redis_url_and_no_url_credentials(project_file) -> None:
    cfg = load_config(project_file(
        jobs={"redis_url": "redis://:redis-pw@127.0.0.1:6379/0"},
        label_studio={"url": "http://u:ls-pw@127.0.0.1:8080",
                      "url_template": "https://img.example/{path}?token=tpl-pw"}))
    payload = base_payload(Project(cfg))
    text = json.dumps(payload)
    assert "redis-pw" not in text and "ls-pw" not in text and "tpl-pw" not in text
    assert payload["config"]["jobs"]["redis_url"] == ""
    job = open_job(json.loads(text))  # and it still reads back as the job's config
    assert job.cfg.label_studio.url == "http://127.0.0.1:8080"
    assert job.cfg.model == cfg.model and job.cfg.data == cfg.data


def test_a_worker_opens_the_store_with_its_own_credentials(project_file, tmp_path,
                                                          monkeypatch) -> None:
    cfg = load_config(project_file())  # the store set past the checks, which may refuse it
    cfg = dataclasses.replace(cfg, jobs=dataclasses.replace(
        cfg.jobs, artifacts="s3://key:secret@bucket/prefix"))
    payload = base_payload(Project(cfg))
    assert payload["artifacts"] == "s3://bucket/prefix"
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))
    monkeypatch.setenv(ARTIFACTS_ENV, "s3://mykey:mysecret@bucket/prefix/")
    job = open_job(payload)
    assert job.store.url == "s3://mykey:mysecret@bucket/prefix" and not job.shared
    assert job.store.timeout == cfg.jobs.store_timeout
    monkeypatch.setenv(ARTIFACTS_ENV, "s3://mykey:mysecret@other/prefix")
    with pytest.raises(JobError, match="refused: artifact store s3://bucket/prefix") as exc:
        open_job(payload)
    assert "mysecret" not in str(exc.value)


def test_a_job_bounds_its_store_calls_by_the_projects_store_timeout(project_file, tmp_path,
                                                                     monkeypatch) -> None:
    cfg = load_config(project_file(jobs={"store_timeout": 7}))
    payload = json.loads(json.dumps(base_payload(Project(cfg))))
    assert open_job(payload).store.timeout == 7  # inline
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))  # a worker on a shared disk
    monkeypatch.setenv(WORK_DIRS_ENV, str(cfg.work_dir.resolve().parent))
    assert open_job(payload).store.timeout == 7


def test_current_artifacts_are_the_published_catalogue_and_features_with_their_parts(
        project_file, tmp_path) -> None:
    project = Project(load_config(project_file()))
    many = [CatalogueRow(f"c/{i:05d}.jpg", f"/d/c/{i:05d}.jpg", 1000, "v1", i % 3, False,
                         64, 64, "PNG", "RGB", None, f"{i:064x}", i, i, False)
            for i in range(12_000)]  # two shards
    with Store.open(project.cfg.work_dir / "state.sqlite") as store:
        assert current_artifacts(project, store) == set()  # nothing published yet
        store.catalogue.replace("imagefolder /d", many, [], [])
        first = base_payload(project, store)["catalogue"]
        features = shards.publish(project.artifacts, "features", shards.Source(
            np.arange(10), np.arange(1, 11), lambda k: {"values": np.zeros((len(k), 4))}),
            {"table": "features"})
        store.meta.set(FEATURES_KEY, features.name)
        parts = set(shards.read_manifest(project.artifacts, first)["parts"])
        assert current_artifacts(project, store) == {first, *parts, features.name,
                                                     *features.parts}
        store.catalogue.replace("imagefolder /d", [], [("c/00007.jpg", 2, True)], [])
        second = base_payload(project, store)["catalogue"]
        assert second != first
        now = current_artifacts(project, store)
        assert second in now and first not in now
        kept = parts & now  # the unchanged shard's base, and the patched one's
        assert kept == parts and len(now) == len(parts) + 1 + 1 + len(features.parts) + 1
        for name in now:
            assert project.artifacts.exists(name)


def test_current_artifacts_name_the_weights_a_remote_store_serves(project_file,
                                                                 tmp_path) -> None:
    weights = tmp_path / "pretrained.pt"
    weights.write_bytes(b"not really a checkpoint")
    cfg = load_config(project_file(model={"weights": str(weights), "train": "head"}))
    cfg = dataclasses.replace(cfg, jobs=dataclasses.replace(cfg.jobs,
                                                            artifacts="s3://bucket/x"))
    project = Project(cfg)
    with Store.open(tmp_path / "state.sqlite") as store:
        (name,) = current_artifacts(project, store)
    assert name == f"weights/{hashlib.sha256(weights.read_bytes()).hexdigest()}.pt"
