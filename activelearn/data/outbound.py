"""The outbound-fetch policy: fetching a URL that someone other than the project file
wrote (a Label Studio task's data.image, service/task_images.py), so that whoever can
import a task cannot make the service call internal services.

    policy = FetchPolicy.build(cfg.serve.fetch, ls_url, buckets=["photos"])
    data = fetch_url("https://images.example.com/a.jpg", policy, deadline=t)

- Only http:// and https://, and s3:// in the project's own buckets (read with the
  service's AWS settings, so no other bucket those settings can reach).
- The host must be allowed (FetchConfig.allow_hosts: exact, case-insensitive, at the
  scheme's port unless the entry names one); no user:password@ in the URL.
- The host is resolved here and every address it has must be public (not loopback,
  private, link-local, multicast, reserved or unspecified; IPv4-mapped and NAT64 IPv6
  checked as the IPv4 they carry) unless FetchConfig.allow_networks holds it. aiohttp
  then connects to an address that was checked (a resolver that answers only with them),
  with the URL's host in the Host header and the TLS SNI: no second lookup that a DNS
  rebinding could answer differently.
- Redirects are followed here, each hop checked as the first URL, at most max_redirects.
- The Content-Length is checked, then the bytes counted as they come; one deadline covers
  the whole fetch (resolution, redirects, body). No cookies, proxies or decompression.

Whatever goes wrong, refused or failed (a host not allowed, a closed port, a timeout, an
HTTP error, a DNS failure), the caller gets FetchRefused with the one text REFUSED: no
answer tells a closed port from an open one. The reason goes to the log (logger
activelearn.fetch) once, escaped, with the URL shown without credentials or query.

Pool files (data.root, a manifest's paths) are written by the project's owner and keep
uris.py's plain open_uri: this module is for URLs the project file does not name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from activelearn.config.fetch import FetchConfig
from activelearn.data.remote import (
    bounded,
    filesystem_class,
    options,
    remote_errors,
    short_reason,
)
from activelearn.data.uris import UnusableImage
from activelearn.errors import ConfigError, printable, redact

__all__ = ["REFUSED", "FetchPolicy", "FetchRefused", "address_allowed", "fetch_url"]

log = logging.getLogger("activelearn.fetch")

REFUSED = "the image URL is not allowed or could not be fetched"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CHUNK = 64 * 1024
# Resolves (host, port) to the addresses a connection may go to (socket.getaddrinfo's).
Resolve = Callable[[str, int], list[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchRefused(UnusableImage):
    """A URL that was not fetched, refused by the policy or failed; always REFUSED."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


class _Refusal(Exception):
    """Why a URL is not fetched (for the log only)."""


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (a TCP connection to port)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchPolicy:
    """What fetch_url may fetch (see the module). hosts: (host, port) pairs, port None for
    the scheme's own, host "*" for any; trusted: (host, port) pairs whose addresses are
    not checked (Label Studio's own); buckets: the s3 buckets; timeout in seconds."""

    hosts: frozenset[tuple[str, int | None]]
    networks: tuple[Network, ...] = ()
    trusted: frozenset[tuple[str, int]] = frozenset()
    buckets: frozenset[str] = frozenset()
    max_bytes: int = FetchConfig.max_bytes
    timeout: float = FetchConfig.timeout
    max_redirects: int = FetchConfig.max_redirects
    resolve: Resolve = field(default=system_resolve, compare=False)

    @classmethod
    def build(cls, fetch: FetchConfig, ls_url: str, buckets: Iterable[str] = (),
              resolve: Resolve = system_resolve) -> FetchPolicy:
        """The policy of a serve.fetch section: its hosts (none listed: Label Studio's
        host and port), networks and limits; Label Studio's host and port trusted;
        buckets: the project's own s3 buckets."""
        ls = _endpoint(ls_url) if ls_url else None
        hosts = {_host_entry(entry) for entry in fetch.allow_hosts}
        if not hosts and ls is not None:
            hosts = {ls}
        return cls(hosts=frozenset(hosts), trusted=frozenset([ls] if ls else []),
                   networks=tuple(ipaddress.ip_network(n, strict=False)
                                  for n in fetch.allow_networks),
                   buckets=frozenset(b for b in buckets if b), max_bytes=fetch.max_bytes,
                   timeout=fetch.timeout, max_redirects=fetch.max_redirects, resolve=resolve)

    def host_allowed(self, host: str, port: int, scheme: str) -> bool:
        """Whether the allow list names host (normalized as yarl does) at port."""
        if ("*", None) in self.hosts or (host, port) in self.hosts:
            return True
        return port == _DEFAULT_PORTS.get(scheme) and (host, None) in self.hosts


def fetch_url(url: str, policy: FetchPolicy, deadline: float | None = None) -> bytes:
    """The bytes url names, fetched under policy; FetchRefused (always REFUSED) when it is
    refused or fails. deadline: a time.monotonic() instant the fetch must end by (it ends
    by policy.timeout after it starts anyway)."""
    start = time.monotonic()
    end = start + policy.timeout if deadline is None else min(deadline, start + policy.timeout)
    try:
        if url[:5].lower() == "s3://":
            return _fetch_s3(url, policy, end)
        return _run(_fetch_http(url, policy), end - start)
    except _Refusal as exc:
        why = str(exc)
    except (asyncio.TimeoutError, TimeoutError):
        why = f"no answer within {end - start:.3g} s"
    except ConfigError as exc:  # s3fs not installed
        why = str(exc)
    except (OSError, ValueError, UnicodeError, aiohttp.ClientError) as exc:
        why = f"{type(exc).__name__}: {short_reason(exc)}"
    log.warning("refused to fetch %s: %s", _shown(url), printable(redact(why)))
    raise FetchRefused()


def address_allowed(address: Address, networks: Iterable[Network] = ()) -> bool:
    """Whether an address may be connected to: a public one, or one in networks (the
    IPv4 address an IPv4-mapped or NAT64 IPv6 one carries is what is checked)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour is not None and not address_allowed(address.sixtofour, networks):
            return False
    if any(address.version == n.version and address in n for n in networks):
        return True
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and not address.is_unspecified and not getattr(address, "is_site_local", False))


# ---------------------------------------------------------------- http(s)

def _run(coro: Coroutine[Any, Any, bytes], seconds: float) -> bytes:
    """Run coro on a new event loop for at most seconds. The loop is closed without
    waiting for its executor: a DNS lookup that outlives the deadline ends on its own."""
    if seconds <= 0:
        coro.close()
        raise _Refusal("the deadline had passed before the fetch started")
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, seconds))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _fetch_http(url: str, policy: FetchPolicy) -> bytes:
    resolver = _PinnedResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True)
    async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None), trust_env=False) as session:
        target = URL(url)
        for _ in range(policy.max_redirects + 1):
            target = target.with_fragment(None)
            host, port, found = await _admit(target, policy)
            resolver.pins[host, port] = found
            async with session.get(target, allow_redirects=False,
                                   headers={"Accept-Encoding": "identity"}) as answer:
                if answer.status in _REDIRECTS:
                    location = answer.headers.get("Location")
                    if not location:
                        raise _Refusal(f"HTTP {answer.status} without a Location")
                    target = answer.url.join(URL(location))
                    continue
                if answer.status != 200:
                    raise _Refusal(f"HTTP {answer.status} from {_shown(str(target))}")
                return await _body(answer, policy.max_bytes)
    raise _Refusal(f"more than {policy.max_redirects} redirects")


async def _admit(url: URL, policy: FetchPolicy) -> tuple[str, int, tuple[str, ...]]:
    """Check one hop (a yarl URL) before any connection: scheme, credentials, host, port,
    and every address the host resolves to. Returns (host, port, the checked addresses),
    which the resolver then answers with."""
    scheme = url.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _Refusal(f"scheme {scheme or 'none'!r} (only http, https)")
    if url.user is not None or url.password is not None:
        raise _Refusal("credentials in the URL")
    host, port = url.raw_host, url.port
    if not host or port is None:
        raise _Refusal("no host")
    if not policy.host_allowed(host, port, scheme):
        raise _Refusal(f"host {host}:{port} is not in serve.fetch.allow_hosts")
    literal = _ip(host)
    if literal is None and _numeric(host):
        raise _Refusal(f"host {host} is a non-canonical numeric address")
    if literal is not None:
        found = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, policy.resolve, host, port)
    if not found:
        raise _Refusal(f"{host} has no address")
    if (host, port) not in policy.trusted:
        for text in found:
            address = _ip(text)
            if address is None or not address_allowed(address, policy.networks):
                what = (f"the address {text} is" if literal is not None
                        else f"{host} has the address {text}, which is")
                raise _Refusal(f"{what} not public (serve.fetch.allow_networks)")
    return host, port, tuple(found)


class _PinnedResolver(AbstractResolver):
    """An aiohttp resolver that answers only with the addresses _admit checked for a host
    and port (pins); any other name is refused."""

    def __init__(self) -> None:
        self.pins: dict[tuple[str, int], tuple[str, ...]] = {}

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = self.pins.get((host, port))
        if not found:
            raise OSError(f"{host}:{port} was not checked")
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in found]

    async def close(self) -> None:
        """Nothing to release."""


async def _body(answer: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The answer's body: at most max_bytes, by its Content-Length, then as counted."""
    length = answer.content_length
    if length is not None and length > max_bytes:
        raise _Refusal(f"Content-Length {length} is over serve.fetch.max_bytes {max_bytes}")
    data = bytearray()
    async for chunk in answer.content.iter_chunked(_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise _Refusal(f"more than serve.fetch.max_bytes {max_bytes} bytes")
    return bytes(data)


# ---------------------------------------------------------------- s3

def _fetch_s3(url: str, policy: FetchPolicy, end: float) -> bytes:
    """The object an s3:// URL names, in one of the policy's buckets."""
    rest = url[5:]
    bucket, _, key = rest.partition("/")
    if "@" in bucket or ":" in bucket:
        raise _Refusal("credentials or a port in an s3:// URL")
    if bucket not in policy.buckets:
        raise _Refusal(f"bucket {bucket!r} is not the project's own")
    if not key or any(part in ("", ".", "..") for part in key.split("/")) or "?" in key:
        raise _Refusal("an s3:// key with an empty, . or .. part or a query")
    fs = bounded(filesystem_class("s3")(**options("s3")))
    try:
        size = fs.info(rest, timeout=_left(end)).get("size")
        if not isinstance(size, int) or size > policy.max_bytes:
            raise _Refusal(f"an object of {size} bytes (serve.fetch.max_bytes "
                           f"{policy.max_bytes})")
        data = fs.cat_file(rest, start=0, end=policy.max_bytes + 1, timeout=_left(end))
    except remote_errors("s3") as exc:
        raise _Refusal(f"{type(exc).__name__}: {short_reason(exc)}") from None
    if len(data) > policy.max_bytes:
        raise _Refusal(f"more than serve.fetch.max_bytes {policy.max_bytes} bytes")
    return bytes(data)


def _left(end: float) -> float:
    left = end - time.monotonic()
    if left <= 0:
        raise _Refusal("the deadline passed")
    return left


# ---------------------------------------------------------------- helpers

def _endpoint(url: str) -> tuple[str, int]:
    parsed = URL(url)
    return parsed.raw_host or "", parsed.port or 0


def _host_entry(entry: str) -> tuple[str, int | None]:
    """An allow_hosts entry as (host, port or None), normalized as yarl normalizes URLs."""
    if entry == "*":
        return ("*", None)
    parsed = URL("http://" + entry)
    return parsed.raw_host or "", parsed.explicit_port


def _ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _numeric(host: str) -> bool:
    """A host made of numbers only (2130706433, 0x7f.1, 127.1): a legacy form of an
    IPv4 address that resolvers accept."""
    return all(part.isdigit() or part.lower().startswith("0x") for part in host.split(".")
               if part) and any(c.isdigit() for c in host)


def _shown(url: str) -> str:
    """url for the log: no credentials, query or fragment, at most 200 characters."""
    try:
        parsed = URL(url, encoded=True)  # as written: no . or .. resolved
        shown = str(parsed.with_user(None).with_query(None).with_fragment(None)) \
            if parsed.is_absolute() else url.split("?", 1)[0].split("@")[-1]
    except (ValueError, TypeError):
        shown = f"an unparseable URL of {len(url)} characters"
    return printable(redact(shown if len(shown) <= 200 else shown[:197] + "..."))
