"""`serve.fetch`: what `activelearn serve` may fetch on behalf of a Label Studio task (a
section of ServeConfig, kept beside serve.py). data/outbound.py enforces it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from activelearn.config.ranges import Range

# The most one image fetched for a task may have: the pool's own limit (data/images.py).
MAX_BYTES_LIMIT = 200 * 1024 * 1024


@dataclass(frozen=True)
class FetchConfig:
    """What the service fetches for a task imported into Label Studio by hand
    (`serve.fetch:`). Such a task's data.image is written by whoever can import tasks, not
    by this file, so an http(s):// or s3:// URL in it is fetched only when this section
    allows it; anything else gets the same one-line reason ("the image URL is not allowed
    or could not be fetched"), whatever went wrong, and the service log says why. Files
    Label Studio serves (/data/upload/...) are read from Label Studio with its token and
    are not concerned; pool files named by data.root or a manifest are read as before.
    An s3:// URL is read with the service's own AWS settings, so only in the project's own
    buckets: data.root's and jobs.artifacts's.

    Attributes:
        allow_hosts {host, host:port or *, case-insensitive}: the hosts a task's http(s)
            URL may name (and every redirect on the way): `images.example.com` at the
            scheme's own port (80, 443), `images.example.com:8443` at that port, `*` any
            host. Empty: label_studio.url's host and port only
        allow_networks {networks in CIDR form, e.g. 10.0.0.0/8}: addresses that may be
            fetched although they are loopback, private, link-local, multicast or reserved
            (IPv4 and IPv6, IPv4-mapped included); every host is resolved and each of its
            addresses checked before the service connects to the one it checked. Empty:
            public addresses only (label_studio.url's own host and port excepted: the
            service talks to it anyway); 0.0.0.0/0 and ::/0 allow every address
        max_bytes [1, 209715200]: the largest image a task may name, in bytes (the
            Content-Length is checked first, then the bytes as they come)
        timeout (0, 300]: seconds one image may take, from the first DNS lookup to the
            last byte, redirects included
        max_redirects [0, 20]: redirects followed per image (each one checked as the first
            URL is)
    """

    allow_hosts: list[str] = field(default_factory=list)
    allow_networks: list[str] = field(default_factory=list)
    max_bytes: int = 32 * 1024 * 1024
    timeout: float = 10.0
    max_redirects: int = 3


def fetch_problems(cfg: FetchConfig) -> Iterator[str]:
    """What is wrong with a serve.fetch section, one line each."""
    limits = [("serve.fetch.max_bytes", cfg.max_bytes, Range(1, MAX_BYTES_LIMIT, note=" bytes")),
              ("serve.fetch.timeout", cfg.timeout, Range(0, 300, above=True, note=" seconds")),
              ("serve.fetch.max_redirects", cfg.max_redirects, Range(0, 20))]
    for key, value, allowed in limits:
        problem = allowed.problem(key, value)
        if problem is not None:
            yield problem
    for i, entry in enumerate(cfg.allow_hosts):
        if not host_entry_ok(entry):
            yield (f"serve.fetch.allow_hosts[{i}]: {entry!r} is not a host: use a name or "
                   "address, optionally with :port (images.example.com, 10.0.0.5:8080), or *")
    for i, entry in enumerate(cfg.allow_networks):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            yield (f"serve.fetch.allow_networks[{i}]: {entry!r} is not a network: use CIDR "
                   "form such as 10.0.0.0/8, 127.0.0.1/32 or fd00::/8")


def host_entry_ok(entry: str) -> bool:
    """Whether an allow_hosts entry is `*`, a host, or a host:port (no scheme, path or
    credentials)."""
    if entry == "*":
        return True
    if not entry or any(c.isspace() or c in "/?#@\\" for c in entry):
        return False
    try:
        parts = urlsplit("//" + entry)
        port = parts.port
    except ValueError:
        return False
    return bool(parts.hostname) and (port is None or 1 <= port <= 65535)
