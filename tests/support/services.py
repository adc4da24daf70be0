"""The real services some tests need, as fixtures (a pytest plugin: tests/conftest.py
names it): a Label Studio server, a Redis server of the session's own, and Chromium.

A test that asks for one is marked for it (label_studio, redis, browser; see
tests/conftest.py), so `pytest -m "not label_studio and not redis and not browser"` runs
without them. When a service cannot be had, the test is skipped with the reason, unless
CI=true is set (as .ci/run does): then it fails, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from activelearn.annotation.label_studio.local_server import start_label_studio
from activelearn.errors import ActiveLearnError
from support import ROOT

LS_VENV = ROOT / ".venv-ls"


def stop_process(proc: subprocess.Popen) -> None:
    """End a server this test run started (by its pid): terminate, then kill after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def unavailable(reason: str) -> None:
    """Skip the test (locally) or fail it (under CI=true): a service is missing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(reason)


class LabelStudioServer(NamedTuple):
    url: str
    token: str
    files_root: Path  # LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: images it may serve


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> Iterator[LabelStudioServer]:
    """A running Label Studio server for the whole session, stopped by its pid at the
    end. Tests keep apart by using their own project (ls_project_title).

    Served by gunicorn (one process, 4 threads; scripts/label_studio.sh, LS_SERVER), as
    Label Studio's production images serve it: `label-studio start`'s development server
    adds ~40 ms to every request (Nagle's algorithm against the client's delayed ACK:
    /health 49 -> 7 ms, an annotation 84 -> 36 ms). The demo test still starts its own
    server the default way, as does LS_SERVER=start in the environment."""
    if not (LS_VENV / "bin" / "label-studio").exists():
        unavailable(f"Label Studio is not installed in {LS_VENV}: run "
                    "`bash scripts/setup.sh --test`")
    files_root = tmp_path_factory.mktemp("ls-files")
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("LS_SERVER", os.environ.get("LS_SERVER", "gunicorn"))
            env.setenv("LS_THREADS", "4")
            server = start_label_studio(tmp_path_factory.mktemp("label-studio"),
                                        timeout=600, document_root=files_root)
    except ActiveLearnError as exc:
        unavailable(str(exc))
    try:
        yield LabelStudioServer(url=server.url, token=server.token, files_root=files_root)
    finally:
        server.stop()


@pytest.fixture
def ls_project_title() -> str:
    """A Label Studio project title no other test uses."""
    return f"test-{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers(port: int) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis(host="127.0.0.1", port=port, socket_connect_timeout=1).ping())
    except (RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """A redis-server of this session's own on a free loopback port (the machine's Redis
    is never touched), stopped by its pid at the end. Yields its base URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed: run `bash scripts/redis.sh ensure`")
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _redis_answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable(f"redis-server did not start on port {port} (log: "
                            f"{folder / 'redis.log'})")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def redis_url(redis_server) -> Iterator[str]:
    """A Redis database emptied before and after the test, on the session's own server."""
    from redis import Redis

    url = f"{redis_server}/0"
    client = Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


class SecureRedis(NamedTuple):
    url: str  # rediss://:PASSWORD@127.0.0.1:PORT/0?ssl_ca_certs=CA (works as it is)
    password: str
    ca: Path


@pytest.fixture(scope="session")
def secure_redis(tmp_path_factory) -> Iterator[SecureRedis]:
    """A redis-server of the session's own that speaks only TLS and wants a password,
    with a self-signed certificate made by openssl for 127.0.0.1."""
    binary, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if binary is None or openssl is None:
        unavailable("redis-server and openssl are needed for the TLS Redis tests: run "
                    "`bash scripts/redis.sh ensure`")
    folder = tmp_path_factory.mktemp("redis-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    password, port = uuid.uuid4().hex, _free_port()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file",
         str(cert), "--tls-auth-clients", "no", "--requirepass", password, "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"rediss://:{password}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    try:
        from redis import Redis
        from redis.exceptions import RedisError

        deadline = time.monotonic() + 30
        while True:
            try:
                Redis.from_url(url, socket_connect_timeout=1).ping()
                break
            except (RedisError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    unavailable(f"redis-server with TLS did not start (log: {folder})")
                time.sleep(0.1)
        yield SecureRedis(url, password, cert)
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a Chromium to render pages headless with."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable("chromium is not installed: run `bash scripts/setup.sh --test` "
                    "(apt-get install chromium)")
    return str(found)
