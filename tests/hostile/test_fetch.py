"""Hostile image URLs in hand-imported tasks, against the outbound-fetch policy
(data/outbound.py, serve.fetch) and /predict. Every server is local: small HTTP servers on
127.0.0.1 that record each request they see, so a refusal that must come before any
connection is shown by a server that saw nothing. Loopback stands in for every private
address: refused by default, fetched once serve.fetch.allow_networks names it.

Each refusal gives the caller the one text REFUSED (a /predict entry "task N: cannot read
its image: REFUSED"), and the service log one escaped line saying why, without the URL's
credentials or query.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import torch
from PIL import Image

from activelearn.config import load_config
from activelearn.config.fetch import FetchConfig
from activelearn.data.outbound import (
    REFUSED,
    FetchPolicy,
    FetchRefused,
    fetch_url,
    system_resolve,
)
from activelearn.errors import ConfigError
from activelearn.learn.checkpoints import checkpoint_path, save_checkpoint
from activelearn.learn.fit import build, input_spec
from activelearn.learn.inference import Normalizer
from activelearn.project import Project
from activelearn.service.predict import ModelService
from activelearn.service.task_images import image_bytes
from activelearn.state import Store
from support.project_files import write_project

LS = "http://ls.example:8080"  # the Label Studio of the policies (never reached)
TIMEOUT = 2.0  # serve.fetch.timeout of the policies (s)
MAX_BYTES = 256 * 1024


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (28, 28), 90).save(out, format="PNG")
    return out.getvalue()


PNG = png()
BOMB = gzip.compress(bytes(64 * 2**20))  # 64 MB of zeros in about 64 kB


class Site:
    """An HTTP server on a loopback address, in a thread, that records the path and Host
    header of every request. Paths: /img.png, /to?u=URL (302 to URL), /loop (302 to
    itself), /chain/N (N redirects, then the image), /status/N, /huge (claims a GB),
    /endless (chunked, no length, never ends), /slow (a byte a tenth of a second),
    /hang (no answer), /bomb (64 MB gzipped in 64 kB)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.seen: list[tuple[str, str]] = []
        self.sent = 0  # body bytes written by /endless
        self.stopping = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.server = server_class((host, 0), type("H", (_Handler,), {"site": self}))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = host
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/img.png") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        site, path = self.site, self.path
        site.seen.append((path, self.headers.get("Host", "")))
        if path == "/img.png":
            self._answer(200, PNG)
        elif path.startswith("/to?"):
            self._redirect(parse_qs(urlsplit(path).query)["u"][0])
        elif path == "/loop":
            self._redirect("/loop")
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{left - 1}") if left else self._answer(200, PNG)
        elif path.startswith("/status/"):
            self._answer(int(path.rsplit("/", 1)[1]), b"no")
        elif path == "/huge":
            self._answer(200, b"x" * 1024, length=10**9)
        elif path == "/endless":
            self._endless()
        elif path == "/slow":
            self._slow()
        elif path == "/hang":
            site.stopping.wait(30)
        elif path == "/bomb":
            self._answer(200, BOMB, encoding="gzip")
        else:
            self._answer(404, b"no")

    def _answer(self, status: int, body: bytes, length: int | None = None,
                encoding: str = "") -> None:
        self.send_response(status)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may hang up first
            self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while not self.site.stopping.is_set() and self.site.sent < 100 * 2**20:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.site.sent += len(chunk)
        except OSError:
            pass  # the client hung up: what it refused

    def _slow(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                if self.site.stopping.wait(0.1):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


@pytest.fixture(scope="module")
def other() -> Iterator[Site]:
    """A second server, on another port: a redirect target that must never be reached."""
    server = Site()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def fresh(site, other) -> None:
    site.seen.clear()
    other.seen.clear()
    site.sent = 0


def fake_dns(host: str, port: int) -> list[str]:
    """Names that resolve to what a hostile DNS answers, without any DNS (localhost
    through the system's resolver, as in service)."""
    if host == "localhost":
        return system_resolve(host, port)
    names = {"images.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"],
             "mixed.test": ["93.184.216.34", "10.0.0.7"], "six.test": ["::1"]}
    if host in names:
        return names[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def policy(*hosts: str, networks: tuple[str, ...] = (), redirects: int = 3,
           ls: str = LS, buckets: tuple[str, ...] = (), timeout: float = TIMEOUT
           ) -> FetchPolicy:
    return FetchPolicy.build(FetchConfig(allow_hosts=list(hosts), allow_networks=list(networks),
                                         max_bytes=MAX_BYTES, timeout=timeout,
                                         max_redirects=redirects),
                             ls, buckets, resolve=fake_dns)


def refused(url: str, rules: FetchPolicy, caplog, deadline: float | None = None) -> str:
    """Fetch url expecting the refusal; returns the one log line that says why (and checks
    that the caller saw only REFUSED)."""
    caplog.clear()
    with caplog.at_level("WARNING", logger="activelearn.fetch"), \
            pytest.raises(FetchRefused) as err:
        fetch_url(url, rules, deadline)
    assert str(err.value) == REFUSED
    lines = [r.getMessage() for r in caplog.records if r.name == "activelearn.fetch"]
    assert len(lines) == 1 and "\n" not in lines[0] and "\r" not in lines[0], lines
    return lines[0]


# ------------------------------------------------------------ refused before any connection

# (the URL, with P for the recording server's port; what the log says)
BEFORE_CONNECTING = [
    ("http://127.0.0.1:P/img.png", "the address 127.0.0.1 is not public"),
    ("http://127.0.0.2:P/img.png", "127.0.0.2 is not public"),
    ("http://0.0.0.0:P/img.png", "0.0.0.0 is not public"),
    ("http://[::1]:P/img.png", "::1 is not public"),
    ("http://[::ffff:127.0.0.1]:P/img.png", "::ffff:7f00:1 is not public"),
    ("http://[64:ff9b::7f00:1]:P/img.png", "64:ff9b::7f00:1 is not public"),  # NAT64 of 127.0.0.1
    ("http://2130706433:P/img.png", "non-canonical numeric address"),
    ("http://0x7f.1:P/img.png", "non-canonical numeric address"),
    ("http://017700000001:P/img.png", "non-canonical numeric address"),
    ("http://LOCALHOST:P/img.png", "localhost has the address 127.0.0.1"),
    ("http://images.test:P/img.png", "images.test has the address 127.0.0.1"),
    ("http://six.test:P/img.png", "six.test has the address ::1"),
    ("http://mixed.test:P/img.png", "the address 10.0.0.7, which is not public"),
    ("http://10.1.2.3/img.png", "10.1.2.3 is not public"),
    ("http://172.16.5.4/img.png", "172.16.5.4 is not public"),
    ("http://192.168.1.1/img.png", "192.168.1.1 is not public"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not public"),
    ("http://metadata.test/latest/meta-data/", "169.254.169.254, which is not public"),
    ("http://100.64.0.1/img.png", "100.64.0.1 is not public"),
    ("http://224.0.0.1/img.png", "224.0.0.1 is not public"),
    ("http://[fe80::1]/img.png", "fe80::1 is not public"),
    ("http://[fd00::1]/img.png", "fd00::1 is not public"),
    ("http://nowhere.test:P/img.png", "gaierror"),
    ("http://user:secret@127.0.0.1:P/img.png", "credentials in the URL"),
    ("http://127.0.0.1:P@images.test:P/img.png", "credentials in the URL"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://127.0.0.1:P/_INFO", "scheme 'gopher'"),
    ("ftp://127.0.0.1:P/img.png", "scheme 'ftp'"),
    ("dict://127.0.0.1:P/info", "scheme 'dict'"),
    ("s3://someone-elses-bucket/img.png", "bucket 'someone-elses-bucket' is not the project's"),
    ("s3://own/../private/key", "an s3:// key with an empty, . or .. part"),
    ("s3://AKIA:secret@own/img.png", "credentials or a port in an s3:// URL"),
    ("http://127.0.0.1:P\\@images.test/img.png", "ValueError"),
]


@pytest.mark.parametrize(("url", "why"), BEFORE_CONNECTING,
                         ids=[u.replace("P", "") for u, _ in BEFORE_CONNECTING])
def test_refused_before_connecting(site, caplog, url, why):
    """Any host allowed (*): the addresses, schemes, credentials and buckets refuse."""
    url = url.replace(":P", f":{site.port}")
    start = time.monotonic()
    line = refused(url, policy("*", buckets=("own",)), caplog)
    assert time.monotonic() - start < 1.0  # nothing waited on a connection
    assert why in line
    assert "secret" not in line
    assert site.seen == []  # 0.0.0.0, ::ffff:127.0.0.1 and the rest would have reached it


def test_by_default_only_label_studio_is_allowed(site, caplog):
    """No allow_hosts: Label Studio's host and port only; the loopback site, though its
    addresses are allowed, is another host."""
    rules = policy(networks=("127.0.0.0/8",))
    assert "127.0.0.1:" in refused(site.url(), rules, caplog)
    assert "not in serve.fetch.allow_hosts" in refused(site.url(), rules, caplog)
    assert site.seen == []


def test_an_allowed_host_at_another_port_is_refused(site, other, caplog):
    rules = policy(f"127.0.0.1:{site.port}", networks=("127.0.0.0/8",))
    assert "not in serve.fetch.allow_hosts" in refused(other.url(), rules, caplog)
    assert "not in serve.fetch.allow_hosts" in refused(
        f"http://localhost:{site.port}/img.png", rules, caplog)
    assert site.seen == [] and other.seen == []


# ------------------------------------------------------------ refused on the way

@pytest.fixture
def local(site) -> FetchPolicy:
    """The site's host and port allowed, loopback addresses allowed."""
    return policy(f"127.0.0.1:{site.port}", networks=("127.0.0.0/8",))


def to(site: Site, target: str) -> str:
    return site.url("/to?u=" + quote(target, safe=""))


@pytest.mark.parametrize("target", [
    "OTHER/img.png",  # another port of the same address
    "http://localhost:PORT/img.png",  # another name for the same server
    "http://169.254.169.254/latest/meta-data/",
    "http://user:secret@127.0.0.1:PORT/img.png",
    "file:///etc/passwd",
    "gopher://127.0.0.1:PORT/_x",
])
def test_a_redirect_out_of_the_policy_is_not_followed(site, other, local, caplog, target):
    target = target.replace("OTHER", other.url("")).replace("PORT", str(site.port))
    line = refused(to(site, target), local, caplog)
    assert [parse_qs(urlsplit(path).query)["u"] for path in site.paths] == [[target]]
    assert other.seen == []
    assert "secret" not in line


def test_a_redirect_loop_and_too_many_redirects(site, local, caplog):
    assert "more than 3 redirects" in refused(site.url("/loop"), local, caplog)
    assert site.paths == ["/loop"] * 4
    site.seen.clear()
    assert "more than 3 redirects" in refused(site.url("/chain/4"), local, caplog)
    assert site.paths == ["/chain/4", "/chain/3", "/chain/2", "/chain/1"]
    assert fetch_url(site.url("/chain/3"), local) == PNG  # the limit itself is allowed


def test_a_huge_content_length_is_refused_before_the_body(site, local, caplog):
    assert "Content-Length 1000000000 is over" in refused(site.url("/huge"), local, caplog)


def test_an_endless_chunked_body_is_cut_at_max_bytes(site, local, caplog):
    assert f"more than serve.fetch.max_bytes {MAX_BYTES}" in refused(
        site.url("/endless"), local, caplog)
    time.sleep(0.3)  # the server notices the hang-up
    assert site.sent < MAX_BYTES + 8 * 2**20  # socket buffers, not 100 MB


@pytest.mark.parametrize("path", ["/slow", "/hang"])
def test_a_slow_server_is_given_up_at_the_timeout(site, local, caplog, path):
    start = time.monotonic()
    assert "no answer within 2 s" in refused(site.url(path), local, caplog)
    assert TIMEOUT - 0.1 < time.monotonic() - start < TIMEOUT + 1.0


def test_the_callers_deadline_comes_first(site, local, caplog):
    start = time.monotonic()
    assert "no answer within 0.5 s" in refused(site.url("/hang"), local, caplog,
                                               deadline=start + 0.5)
    assert time.monotonic() - start < 1.5
    site.seen.clear()
    assert "deadline had passed" in refused(site.url(), local, caplog,
                                            deadline=time.monotonic() - 1)
    assert site.seen == []


def test_closed_and_open_ports_and_every_failure_read_the_same(site, caplog):
    """No port oracle: a closed port, an open one that speaks no HTTP, an HTTP error, a
    redirect refused, a timeout, an unknown name and a host not allowed give one text."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    speaker = socket.socket()
    speaker.bind(("127.0.0.1", 0))
    speaker.listen(4)
    threading.Thread(target=_speak_redis, args=(speaker,), daemon=True).start()
    rules = policy("127.0.0.1", f"127.0.0.1:{site.port}", f"127.0.0.1:{closed_port}",
                   f"127.0.0.1:{speaker.getsockname()[1]}", "nowhere.test",
                   networks=("127.0.0.0/8",))
    urls = [f"http://127.0.0.1:{closed_port}/img.png",
            f"http://127.0.0.1:{speaker.getsockname()[1]}/img.png",
            site.url("/status/404"), site.url("/status/500"), site.url("/status/401"),
            to(site, "http://127.0.0.1:1/img.png"), site.url("/hang"),
            "http://nowhere.test/img.png", "http://not-allowed.test/img.png"]
    texts = set()
    for url in urls:
        with pytest.raises(FetchRefused) as err:
            fetch_url(url, rules, deadline=time.monotonic() + 0.5)
        texts.add(str(err.value))
    speaker.close()
    assert texts == {REFUSED}


def _speak_redis(listener: socket.socket) -> None:
    """Answer every connection as Redis would answer an HTTP request, then hang up."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(4096)
            conn.sendall(b"-ERR wrong number of arguments for 'get' command\r\n")


# ------------------------------------------------------------ allowed

def test_an_allowed_host_serves_the_image(site, local):
    assert fetch_url(site.url(), local) == PNG
    assert image_bytes(site.url(), LS, _no_served, local) == PNG
    assert site.seen == [("/img.png", f"127.0.0.1:{site.port}")] * 2


def test_a_name_is_connected_to_at_the_address_checked_with_its_own_host_header(site):
    """images.test resolves (through the policy's resolver, once per hop) to 127.0.0.1:
    the connection goes there, the Host header still names images.test."""
    rules = policy(f"images.test:{site.port}", networks=("127.0.0.1/32",))
    assert fetch_url(f"http://images.test:{site.port}/chain/1", rules) == PNG
    assert site.seen == [("/chain/1", f"images.test:{site.port}"),
                         ("/chain/0", f"images.test:{site.port}")]


def test_the_connection_goes_to_the_address_checked_not_a_second_lookup(site):
    """A DNS rebinding answers the check with one address and the connection with
    another: here the name is looked up once per hop, and the request arrives at the
    address that lookup gave."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    rules = FetchPolicy.build(FetchConfig(allow_hosts=[f"images.test:{site.port}"],
                                          allow_networks=["127.0.0.1/32"]), LS,
                              resolve=rebinding)
    assert fetch_url(f"http://images.test:{site.port}/img.png", rules) == PNG
    assert asked == ["images.test"]
    assert site.paths == ["/img.png"]


def test_proxy_settings_in_the_environment_are_not_used(site, other, local, monkeypatch):
    """HTTP_PROXY would send the request (and its decision) to another server."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, other.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert fetch_url(site.url(), local) == PNG
    assert other.seen == [] and site.paths == ["/img.png"]


def test_a_compressed_body_is_not_inflated(site, local):
    """A gzip bomb stays the 64 kB it was sent as (the decoder then finds no image)."""
    assert fetch_url(site.url("/bomb"), local) == BOMB


def test_label_studios_own_host_is_allowed_on_loopback(site, caplog):
    """With no allow_hosts, label_studio.url's host and port are the one allowed, and
    its address is not held to the public-address rule (the service talks to it anyway)."""
    rules = policy(ls=f"http://127.0.0.1:{site.port}")
    assert fetch_url(site.url(), rules) == PNG
    refused(f"http://127.0.0.1:{site.port + 1 if site.port < 65535 else 1}/img.png", rules,
            caplog)
    assert site.paths == ["/img.png"]


def _no_served(path: str, max_bytes: int) -> bytes:
    raise AssertionError(f"read {path} from Label Studio")


# ------------------------------------------------------------ through /predict

@pytest.fixture(scope="module")
def service(tmp_path_factory, fmnist_root, site) -> Iterator[ModelService]:
    """A project whose state names an (untrained) model, with serve.fetch allowing the
    site's host and port and the one loopback address 127.0.0.1."""
    folder = tmp_path_factory.mktemp("fetch")
    path = write_project(folder / "project.yaml", folder / "work", fmnist_root,
                         data={"limit": 300, "test_limit": 100}, training={"threads": 1},
                         label_studio={"url": "http://127.0.0.1:1"},
                         serve={"fetch": {"allow_hosts": [f"127.0.0.1:{site.port}"],
                                          "allow_networks": ["127.0.0.1/32"],
                                          "max_bytes": MAX_BYTES, "timeout": TIMEOUT}})
    cfg = load_config(path)
    torch.manual_seed(0)
    model = build(cfg.model, input_spec(torch.zeros(1, 1, 28, 28), 10))
    save_checkpoint(checkpoint_path(cfg.work_dir, "t-r0"), model, Normalizer((72.9,), (90.0,)),
                    {"model_version": "t-r0"})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(0)
        store.rounds.finish(0, "t-r0", 40)
    served = ModelService(Project(cfg))
    yield served
    served.close()


def test_predict_answers_each_hostile_task_with_the_one_reason(service, site, other):
    hostile = [other.url(), f"http://localhost:{site.port}/img.png",
               f"http://127.0.0.2:{site.port}/img.png", f"http://0.0.0.0:{site.port}/img.png",
               f"http://[::ffff:127.0.0.1]:{site.port}/img.png",
               f"http://2130706433:{site.port}/img.png", "http://169.254.169.254/latest/",
               f"http://u:p@127.0.0.1:{site.port}/img.png", "file:///etc/passwd",
               f"gopher://127.0.0.1:{site.port}/_x", "s3://not-ours/a.png",
               to(site, other.url()), site.url("/loop"), site.url("/huge"),
               site.url("/status/403")]
    tasks = [{"id": 1, "data": {"image": site.url()}}]
    tasks += [{"id": 10 + i, "data": {"image": url}} for i, url in enumerate(hostile)]
    results = service.predict({"tasks": tasks})["results"]
    assert "result" in results[0]  # the allowed one is predicted
    assert [r.get("error") for r in results[1:]] == [
        f"task {10 + i}: cannot read its image: {REFUSED}" for i in range(len(hostile))]
    assert other.seen == []
    assert {urlsplit(path).path for path in site.paths} == {
        "/img.png", "/to", "/loop", "/huge", "/status/403"}


# ------------------------------------------------------------ the section at load

@pytest.mark.parametrize(("fetch", "why"), [
    ({"allow_hosts": ["http://images.example.com"]}, "serve.fetch.allow_hosts[0]:"),
    ({"allow_hosts": ["a b"]}, "serve.fetch.allow_hosts[0]:"),
    ({"allow_hosts": ["ok.example", "x:99999"]}, "serve.fetch.allow_hosts[1]:"),
    ({"allow_hosts": ["user@host"]}, "serve.fetch.allow_hosts[0]:"),
    ({"allow_networks": ["10.0.0/33"]}, "serve.fetch.allow_networks[0]:"),
    ({"max_bytes": 0}, "serve.fetch.max_bytes: must be positive"),
    ({"max_bytes": 300 * 2**20}, "serve.fetch.max_bytes: must be at most"),
    ({"timeout": 0}, "serve.fetch.timeout: must be positive"),
    ({"timeout": 301}, "serve.fetch.timeout: must be at most 300"),
    ({"max_redirects": 21}, "serve.fetch.max_redirects: must be at most 20"),
    ({"allow_host": ["x"]}, "serve.fetch.allow_host: unknown key"),
])
def test_a_bad_fetch_section_is_one_line_at_load(tmp_path, fmnist_root, fetch, why):
    path = write_project(tmp_path / "p.yaml", tmp_path / "work", fmnist_root,
                         serve={"fetch": fetch})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert why in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "work").exists()


# ------------------------------------------------------------ s3

def test_s3_only_in_the_projects_own_buckets(s3_bucket, caplog):
    """The service's AWS settings can read both buckets on the (local, moto) server; the
    policy reads only the project's own, and no object over max_bytes."""
    own = s3_bucket.put("img.png", PNG)
    big = s3_bucket.put("big.png", b"x" * (MAX_BYTES + 1))
    s3_bucket.client.create_bucket(Bucket=f"{s3_bucket.name}-other")
    s3_bucket.client.put_object(Bucket=f"{s3_bucket.name}-other", Key="img.png", Body=PNG)
    # botocore's first session takes seconds on a busy machine: a deadline to match
    rules = policy(buckets=(s3_bucket.name,), timeout=30.0)
    assert fetch_url(own, rules) == PNG
    assert "is not the project's own" in refused(
        f"s3://{s3_bucket.name}-other/img.png", rules, caplog)
    assert f"an object of {MAX_BYTES + 1} bytes" in refused(big, rules, caplog)
    assert "FileNotFoundError" in refused(f"s3://{s3_bucket.name}/missing.png", rules, caplog)


# ------------------------------------------------------------ https

def test_https_sends_the_names_sni_to_the_checked_address_and_verifies(tmp_path, caplog):
    """images.test resolves to 127.0.0.1 (allowed there): the TLS handshake arrives at
    that address naming images.test (SNI), and a certificate no CA signed is refused."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test's certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=images.test",
                    "-addext", "subjectAltName=DNS:images.test"], check=True,
                   capture_output=True, timeout=60)
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    rules = policy(f"images.test:{port}", networks=("127.0.0.1/32",))
    line = refused(f"https://images.test:{port}/img.png", rules, caplog)
    thread.join(5)
    listener.close()
    assert names == ["images.test"]
    assert "certificate" in line.lower()
