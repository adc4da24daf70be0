"""Hostile project files: each is refused at load by the real `activelearn` command with
exit 2, one short line naming the file (and the line or key), no traceback, and nothing
written (the work dir is never made)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import ROOT
from support.project_files import write_project

ACTIVELEARN = ROOT / ".venv" / "bin" / "activelearn"
ENV_KEYS = ("ACTIVELEARN_ARTIFACTS", "ACTIVELEARN_REDIS_URL", "ACTIVELEARN_LS_URL")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([str(ACTIVELEARN), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str,
                   code: int = 2) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr and "a bug in activelearn" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def base_text(tmp_path: Path) -> str:
    return write_project(tmp_path / "base.yaml", tmp_path / "work", tmp_path / "data").read_text()


# (name, what to add to a valid project file, the line of the duplicate in it, what the
# error line says)
DUPLICATES = [
    ("top-level section", "training:\n  epochs: 9\n", 1,
     "duplicate key 'training' (it would silently replace the first at line"),
    ("second-level key", "serve:\n  port: 9000\n  port: 9001\n", 3,
     "duplicate key 'port' (it would silently replace the first at line"),
    ("flow mapping", "quality: {gold_rate: 0.1, gold_rate: 0.2}\n", 1,
     "duplicate key 'gold_rate'"),
    ("third level", "serve:\n  fetch:\n    timeout: 3\n    timeout: 4\n", 4,
     "duplicate key 'timeout'"),
]


@pytest.mark.parametrize("extra,at,message", [d[1:] for d in DUPLICATES],
                         ids=[d[0] for d in DUPLICATES])
def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path, extra: str, at: int,
                                                    message: str) -> None:
    base = base_text(tmp_path)
    config = tmp_path / "project.yaml"
    config.write_text(base + extra)
    line = len(base.splitlines()) + at
    result = run_cli("status", "--config", str(config), cwd=tmp_path)
    assert_refused(result, f"project.yaml line {line}: {message}")
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("document", [
    "[" * 3000 + "]" * 3000,
    "".join(" " * i + f"k{i}:\n" for i in range(3000)) + " " * 3000 + "v: 1\n",
    "{a: [" * 2000 + "1" + "]}" * 2000,
], ids=["3000 lists", "3000 mappings", "2000 flow levels"])
def test_deep_yaml_is_one_config_line(tmp_path: Path, document: str) -> None:
    config = tmp_path / "project.yaml"
    config.write_text(document)
    result = run_cli("cycle", "--config", str(config), cwd=tmp_path)
    assert_refused(result, "nested deeper than 50 levels")


@pytest.mark.parametrize("artifacts,message", [
    ("s3://", "jobs.artifacts: names no bucket; write s3://BUCKET"),
    ("s3:///nobucket", "jobs.artifacts: names no bucket"),
    ("gs://", "jobs.artifacts: names no bucket"),
    ("file://otherhost/x", "not on host 'otherhost'"),
    ("file://x", "not on host 'x'"),
    ("relative/folder", "jobs.artifacts: a folder must be an absolute path"),
    ("ftp://host/x", "is no store jobs can write to"),
    ("s3://[bucket", "jobs.artifacts: not a valid URL"),
    ("s3://key:hunter2@bucket/x", "credentials do not belong in the URL"),
    ("s3://key:hunter2@/x", "credentials do not belong in the URL"),
])
def test_artifact_stores_are_checked_at_load(tmp_path: Path, artifacts: str,
                                             message: str) -> None:
    config = write_project(tmp_path / "project.yaml", tmp_path / "work", tmp_path / "data",
                           jobs={"artifacts": artifacts})
    result = run_cli("cycle", "--config", str(config), cwd=tmp_path)
    assert_refused(result, message)
    assert "hunter2" not in result.stderr
    assert not (tmp_path / "work").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("url,message", [
    ("redis://127.0.0.1:6379/0?ssl_ca_certs=/etc/ssl/ca.pem",
     'unknown option "ssl_ca_certs" (the ssl_* ones need rediss://)'),
    ("redis://127.0.0.1:6379/0?colour=blue", 'unknown option "colour"'),
    ("redis://127.0.0.1:6379/0?socket_timeout=soon", "option socket_timeout needs a number"),
    ("rediss://127.0.0.1:6379/0?ssl_cert_reqs=maybe",
     "option ssl_cert_reqs needs none, optional or required"),
    ("rediss://127.0.0.1:6379/0?ssl_ca_certs=ca.pem",
     "option ssl_ca_certs needs an absolute path"),
    ("redis://127.0.0.1:6379/0?socket_timeout", "the options after ? must be name=value"),
    ("redis://127.0.0.1:6379/0?password=hunter2", "password does not belong in the options"),
    ("redis://127.0.0.1:99999/0?password=hunter2", "the port must be a whole number"),
])
def test_redis_url_options_are_checked_at_load(tmp_path: Path, url: str, message: str) -> None:
    config = write_project(tmp_path / "project.yaml", tmp_path / "work", tmp_path / "data",
                           jobs={"redis_url": url})
    result = run_cli("status", "--config", str(config), cwd=tmp_path)
    assert_refused(result, f"jobs.redis_url: {message}")
    assert "hunter2" not in result.stderr  # a password is never shown
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("content,message", [
    (b"\xff\xfeproject: x\n", "cannot read config: not text"),
    (b"project: [\n", "not valid YAML"),
    (b"- a list\n", "top level: expected a mapping"),
    (b"project: {name: t, colour: blue}\n", "project.colour: unknown key"),
    (b"? [a, b]\n: 1\n", "not valid YAML"),
    (b"project: 5\n", "project: expected a mapping, got 5"),
], ids=["binary", "unclosed", "list", "unknown key", "unhashable key", "wrong type"])
def test_other_config_shaped_failures_exit_2(tmp_path: Path, content: bytes,
                                             message: str) -> None:
    config = tmp_path / "project.yaml"
    config.write_bytes(content)
    result = run_cli("simulate", "--config", str(config), cwd=tmp_path)
    assert_refused(result, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.yaml"]


def test_valid_stores_and_options_still_load(tmp_path: Path) -> None:
    """The checks refuse only what cannot work: these load."""
    from activelearn.config import load_config
    from activelearn.config.load import read_yaml

    for artifacts in ("s3://bucket/prefix", f"file://{tmp_path}/a", f"file://localhost{tmp_path}",
                      str(tmp_path / "store"), "memory://x"):
        load_config(write_project(tmp_path / "p.yaml", tmp_path / "work", tmp_path / "data",
                                  jobs={"artifacts": artifacts,
                                        "redis_url": "rediss://h:6380/1?ssl_cert_reqs=none"
                                                     "&socket_timeout=2.5"}))
    # a merge key replaced on purpose is no duplicate
    assert read_yaml("a: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")["c"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("sections,message", [
    ({"project": {"name": "t", "work_dir": "/tmp/w\0x"}},
     'project.work_dir: holds a NUL character (\\0), got "/tmp/w\\x00x"'),
    ({"data": {"source": "imagefolder", "root": "ftp://host/photos"}},
     "data.root: an image folder is a path or a file://, http://, https:// or s3:// URL"),
    ({"data": {"source": "imagefolder", "root": "s3://"}}, "data.root: names no bucket"),
    ({"data": {"source": "imagefolder", "root": "https:///photos"}},
     "data.root: names no host"),
    ({"data": {"source": "imagefolder", "root": "file://nas/photos"}}, "not on host 'nas'"),
    ({"data": {"source": "manifest", "root": "/data/list.txt"}},
     "data.root: a manifest is a local .csv or .jsonl file"),
], ids=["NUL in a path", "ftp folder", "bucketless", "hostless", "other host", "manifest"])
def test_paths_and_data_roots_are_checked_at_load(tmp_path: Path, sections: dict,
                                                 message: str) -> None:
    config = write_project(tmp_path / "project.yaml", tmp_path / "work", tmp_path / "data",
                           **sections)
    result = run_cli("ingest", "--config", str(config), cwd=tmp_path)
    assert_refused(result, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.yaml"]


def test_a_fifo_as_the_config_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "project.yaml"
    os.mkfifo(fifo)
    result = run_cli("status", "--config", str(fifo), cwd=tmp_path)
    assert_refused(result, "cannot read config: not a regular file")


@pytest.mark.parametrize("store,message", [
    ("s3://", "--artifacts: names no bucket"),
    ("file://nas/x", "not on host 'nas'"),
    ("ftp://host/x", "is no store jobs can write to"),
])
def test_a_workers_artifact_store_is_checked_like_the_key(tmp_path: Path, store: str,
                                                          message: str) -> None:
    """Checked before Redis is asked (no server answers at this URL)."""
    config = write_project(tmp_path / "project.yaml", tmp_path / "work", tmp_path / "data",
                           jobs={"redis_url": "redis://127.0.0.1:9/0"})
    result = run_cli("worker", "--config", str(config), "--artifacts", store, "--burst",
                     cwd=tmp_path)
    assert_refused(result, message)
