"""What a job carries instead of paths on the controller's disk: the config as content
(read back to an equal Config, paths made absolute), the store's URL, the labelled
snapshot; and a job run inline reads nothing but its payload and the store."""

from __future__ import annotations

import dataclasses
import json

import pytest

from activelearn.config import config_content, config_from_dict, load_config
from activelearn.errors import ConfigError
from activelearn.jobs.inputs import labels_snapshot, open_job, parse_labels
from activelearn.jobs.payloads import base_payload
from activelearn.project import Project


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
