"""The outbound-fetch policy's rules on their own (data/outbound.py): which addresses are
public, which hosts an allow list names, what a serve.fetch section builds.
tests/hostile/test_fetch.py fetches through it from local servers."""

from __future__ import annotations

import ipaddress

import pytest

from activelearn.config.fetch import FetchConfig
from activelearn.data.outbound import FetchPolicy, address_allowed


@pytest.mark.parametrize(("address", "allowed"), [
    ("93.184.216.34", True), ("8.8.8.8", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("::ffff:93.184.216.34", True),  # IPv4-mapped: the IPv4 address is what counts
    ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
    ("127.0.0.1", False), ("127.255.0.9", False), ("0.0.0.0", False), ("10.9.8.7", False),
    ("172.31.255.255", False), ("192.168.0.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("224.0.0.251", False), ("240.0.0.1", False),
    ("255.255.255.255", False), ("192.0.2.1", False),
    ("::1", False), ("::", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("64:ff9b::7f00:1", False), ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ("fe80::1", False), ("fc00::1", False), ("fd12::1", False), ("ff02::1", False),
    ("fec0::1", False), ("::7f00:1", False), ("2001:db8::1", False),
])
def test_public_addresses_only(address, allowed):
    assert address_allowed(ipaddress.ip_address(address)) is allowed


def test_allowed_networks_admit_private_addresses():
    nets = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("::1/128")]
    assert address_allowed(ipaddress.ip_address("10.20.3.4"), nets)
    assert not address_allowed(ipaddress.ip_address("10.21.3.4"), nets)
    assert address_allowed(ipaddress.ip_address("::1"), nets)
    assert address_allowed(ipaddress.ip_address("::ffff:10.20.0.1"), nets)


def test_host_entries_match_exactly_at_their_port():
    rules = FetchPolicy.build(FetchConfig(allow_hosts=["Images.Example.com", "cdn.example:8443",
                                                       "[::1]:81", "bücher.example"]), "")
    assert rules.host_allowed("images.example.com", 80, "http")
    assert rules.host_allowed("images.example.com", 443, "https")
    assert not rules.host_allowed("images.example.com", 8080, "http")
    assert not rules.host_allowed("images.example.com", 443, "http")
    assert not rules.host_allowed("sub.images.example.com", 80, "http")
    assert not rules.host_allowed("images.example.com.", 80, "http")
    assert rules.host_allowed("cdn.example", 8443, "https")
    assert not rules.host_allowed("cdn.example", 443, "https")
    assert rules.host_allowed("::1", 81, "http")
    assert rules.host_allowed("xn--bcher-kva.example", 443, "https")  # as yarl encodes it
    assert FetchPolicy.build(FetchConfig(allow_hosts=["*"]), "").host_allowed("a.b", 1, "http")


def test_no_hosts_listed_means_label_studios_own():
    rules = FetchPolicy.build(FetchConfig(), "http://LS.local:8080/")
    assert rules.hosts == {("ls.local", 8080)} and rules.trusted == {("ls.local", 8080)}
    assert rules.host_allowed("ls.local", 8080, "http")
    assert not rules.host_allowed("ls.local", 80, "http")
    listed = FetchPolicy.build(FetchConfig(allow_hosts=["img.example"]), "https://ls.local")
    assert listed.hosts == {("img.example", None)} and listed.trusted == {("ls.local", 443)}
