"""Where images can live besides the local disk, as fixtures (a pytest plugin): a folder
served over HTTP on loopback, and a bucket on a local S3-compatible server (moto).

    def test_it(http_folder, s3_bucket): ...

http_folder needs nothing beyond Python. s3_bucket needs moto's server, s3fs and boto3
(the `test` extra); when they cannot be had the test is skipped with the reason, or fails
under CI=true (services.unavailable). aws_settings and no_aws_credentials set the AWS
environment for what needs no server (presigning a URL is done without one).
"""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from support.services import stop_process, unavailable

# How long a request to /_hang waits (it ends sooner when the server stops).
HANG_S = 30.0


class HttpFolder(NamedTuple):
    root: Path  # the files in it are served
    url: str  # http://127.0.0.1:PORT (no trailing slash): url + "/a.png" is root / "a.png"


class _Handler(SimpleHTTPRequestHandler):
    """Serves the folder; /_status/CODE answers CODE, /_hang answers nothing for HANG_S."""

    stopping: threading.Event  # set on the class made for each server

    def do_GET(self) -> None:
        if self._special():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._special():
            super().do_HEAD()

    def _special(self) -> bool:
        """Answer the special paths; True when the path is an ordinary file's."""
        if self.path.startswith("/_status/"):
            self.send_error(int(self.path.split("/")[2]))
            return False
        if self.path.startswith("/_hang"):
            self.stopping.wait(HANG_S)
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on stderr


def serve_in_thread(handler) -> tuple[ThreadingHTTPServer, str]:
    """An http.server with this handler class on a free loopback port, answering in
    daemon threads (a hanging request holds no teardown); the server and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def http_folder(tmp_path) -> Iterator[HttpFolder]:
    """An empty folder served by Python's http.server on a free loopback port, in a
    thread, for one test; write files into .root and read them at .url + "/name"."""
    root = tmp_path / "served"
    root.mkdir()
    stopping = threading.Event()
    handler = type("Handler", (_Handler,), {"stopping": stopping})
    server, url = serve_in_thread(functools.partial(handler, directory=str(root)))
    try:
        yield HttpFolder(root, url)
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


class S3Bucket(NamedTuple):
    name: str
    endpoint: str  # also in AWS_ENDPOINT_URL for the test
    client: Any  # a boto3 S3 client for the server: client.put_object(Bucket=name, ...)

    def put(self, key: str, data: bytes) -> str:
        """Store data under key; returns its s3:// URI."""
        self.client.put_object(Bucket=self.name, Key=key, Body=data)
        return f"s3://{self.name}/{key}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_server() -> str | None:
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """moto's S3-compatible server on a free loopback port for the session, stopped by its
    pid at the end. Yields its endpoint URL."""
    binary = _moto_server()
    if binary is None:
        unavailable("moto's server is not installed: pip install -e '.[test]' "
                    "(moto[server], s3fs)")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(endpoint + "/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable(f"moto_server did not start on port {port} (log: {log})")
            time.sleep(0.1)
        yield endpoint
    finally:
        stop_process(proc)


# Where no server listens: what is signed for it is never fetched.
OFFLINE_ENDPOINT = "http://127.0.0.1:9"
# AWS variables that could bring in the caller's own credentials or settings
_AWS_CALLER = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def _set_aws(monkeypatch, tmp_path: Path, **values: str) -> None:
    """The AWS environment: values, the caller's files and variables out of reach, no
    instance-metadata lookup (it would leave the machine), and no s3fs filesystem
    cached with earlier settings (before and after the test)."""
    import s3fs

    for name in _AWS_CALLER + ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    values = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
              "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
              "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
              **values}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def aws_settings(monkeypatch, tmp_path) -> Iterator[str]:
    """Dummy credentials and an endpoint where nothing listens (yielded): enough to sign,
    never to fetch."""
    import s3fs

    _set_aws(monkeypatch, tmp_path, AWS_ENDPOINT_URL=OFFLINE_ENDPOINT,
             AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    yield OFFLINE_ENDPOINT
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path) -> Iterator[None]:
    """An AWS environment with no credentials anywhere botocore looks on this machine."""
    import s3fs

    _set_aws(monkeypatch, tmp_path, AWS_ENDPOINT_URL=OFFLINE_ENDPOINT)
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch) -> Iterator[S3Bucket]:
    """A new, empty bucket on the session's moto server. For the test, the environment
    points the AWS libraries at that server (AWS_ENDPOINT_URL) with dummy credentials,
    as a user of an S3-compatible store would set it."""
    try:
        import boto3
        import s3fs
    except ImportError as exc:
        unavailable(f"{exc.name} is not installed: pip install -e '.[test]'")
    for name, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"
                        }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    # fsspec keeps S3 filesystems (and their settings) per thread: none from before
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3", endpoint_url=s3_server)
    name = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    try:
        yield S3Bucket(name, s3_server, client)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
