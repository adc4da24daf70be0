"""The artifact store on a real S3-compatible server (moto's): publication is whole or
nothing (a writer killed mid-upload leaves nothing anyone reads), put-if-absent holds
between two writers racing, a store that is down is one line and a cycle that meets it
changes nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.artifacts import ArtifactStore
from activelearn.errors import JobError
from activelearn.state import Store
from support.storage import OFFLINE_ENDPOINT

BIG = 96 * 2**20  # bytes: several parts of an s3fs multipart upload


def test_artifacts_round_trip_through_s3(s3_bucket, tmp_path: Path) -> None:
    writer = ArtifactStore(f"s3://{s3_bucket.name}/run/", tmp_path / "writer")
    assert writer.url == f"s3://{s3_bucket.name}/run" and not writer.local
    writer.check()
    writer.publish_bytes("models/v1.json", b'{"metrics": {}}', exclusive=True)
    reader = ArtifactStore(f"s3://{s3_bucket.name}/run", tmp_path / "reader")
    assert reader.exists("models/v1.json") and not reader.exists("models/v2.json")
    copy = reader.fetch("models/v1.json")
    assert copy.is_relative_to(tmp_path / "reader") and copy.read_bytes() == b'{"metrics": {}}'
    with pytest.raises(FileNotFoundError, match="models/v2.json"):
        reader.fetch("models/v2.json")
    reader.remove("models/v1.json")
    assert not writer.exists("models/v1.json") and not copy.exists()


def test_put_if_absent_holds_when_two_writers_race(s3_bucket, tmp_path: Path,
                                                   monkeypatch) -> None:
    first = ArtifactStore(f"s3://{s3_bucket.name}/run", tmp_path / "a")
    second = ArtifactStore(f"s3://{s3_bucket.name}/run", tmp_path / "b")
    first.publish_bytes("models/v1.pt", b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        second.publish_bytes("models/v1.pt", b"second", exclusive=True)
    # both looked before either wrote: the server's If-None-Match decides
    monkeypatch.setattr(second, "exists", lambda name: False)
    with pytest.raises(FileExistsError):
        second.publish_bytes("models/v1.pt", b"second", exclusive=True)
    fresh = ArtifactStore(f"s3://{s3_bucket.name}/run", tmp_path / "c")
    assert fresh.read_bytes("models/v1.pt") == b"first"


def test_a_writer_killed_mid_upload_leaves_nothing_anyone_reads(s3_bucket,
                                                               tmp_path: Path) -> None:
    url = f"s3://{s3_bucket.name}/run"
    data = os.urandom(BIG)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    script = ("import sys, shutil\nfrom pathlib import Path\n"
              "from activelearn.data.artifacts import ArtifactStore\n"
              "store = ArtifactStore(sys.argv[1], Path(sys.argv[2]))\n"
              "store.publish('models/big.pt', lambda tmp: shutil.copy(sys.argv[3], tmp))\n")
    killed = 0
    for delay in (0.5, 1.5, 3.0):  # at different points of the upload
        proc = subprocess.Popen([sys.executable, "-c", script, url, str(tmp_path / "w"),
                                 str(source)], stderr=subprocess.PIPE)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        reader = ArtifactStore(url, tmp_path / f"reader-{delay}")
        if reader.exists("models/big.pt"):  # it finished: then whole
            digest = hashlib.sha256(reader.read_bytes("models/big.pt")).digest()
            assert digest == hashlib.sha256(data).digest()
            reader.remove("models/big.pt")
        else:
            with pytest.raises(FileNotFoundError):
                reader.fetch("models/big.pt")
    assert killed, "every upload finished before the kill: nothing was tested"


def test_a_store_that_is_down_is_one_line(aws_settings, tmp_path: Path) -> None:
    store = ArtifactStore("s3://bucket/run", tmp_path)
    for call in (store.check, lambda: store.read_bytes("models/v1.json"),
                 lambda: store.publish_bytes("models/v1.json", b"{}")):
        with pytest.raises(JobError) as err:
            call()
        message = str(err.value)
        assert message.startswith("artifact store s3://bucket/run: cannot ")
        assert "cannot connect" in message and "\n" not in message
        assert "the round resumes on the next run" in message


def test_a_cycle_with_its_store_down_stops_with_one_line_and_changes_nothing(
        project_file, aws_settings, monkeypatch) -> None:
    monkeypatch.setenv("ACTIVELEARN_LS_URL", OFFLINE_ENDPOINT)
    monkeypatch.delenv("ACTIVELEARN_REDIS_URL", raising=False)
    path = project_file(jobs={"artifacts": "s3://bucket/run", "redis_url": ""})
    result = CliRunner().invoke(main, ["cycle", "--config", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: artifact store s3://bucket/run: cannot reach its root: cannot connect"), lines
    with Store.open(load_config(path).work_dir / "state.sqlite") as store:
        assert store.rounds.all() == [] and store.labels.current() == {}
