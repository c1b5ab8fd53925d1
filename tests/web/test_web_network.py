"""aws:SourceIp and aws:SecureTransport from the peer and trusted proxies only (spec CTX-01..03)."""

from __future__ import annotations

import pytest

from iamguard.web.network import ForwardedHeaderError, TrustedProxies, secure_transport, source_ip

PROXIES = TrustedProxies.of(["10.0.0.1", "10.1.0.0/16", "fd00::/8"])

CASES = [
    # peer, X-Forwarded-For values, expected client
    ("203.0.113.9", [], "203.0.113.9"),
    ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # untrusted peer: the header is ignored
    ("203.0.113.9", ["garbage"], "203.0.113.9"),  # ... even when it is garbage
    ("10.0.0.1", [], "10.0.0.1"),
    ("10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
    ("10.0.0.1", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # right to left: spoofed left part ignored
    ("10.0.0.1", ["6.6.6.6, 198.51.100.7, 10.1.2.3"], "198.51.100.7"),  # skip trusted hops
    ("10.0.0.1", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # several header lines
    ("10.0.0.1", ["10.1.0.5"], "10.1.0.5"),  # all trusted: the leftmost
    ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
    ("testclient", ["1.2.3.4"], None),  # a peer that is no address gives no address
    (None, [], None),
]


@pytest.mark.parametrize(("peer", "forwarded", "expected"), CASES)
def test_source_ip(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    assert source_ip(peer, forwarded, PROXIES) == expected


@pytest.mark.parametrize("value", [
    "a", "1.2.3.4:80", "[2001:db8::1]", "01.2.3.4", "1.2.3", "fe80::1%eth0", "", "1.2.3.4,,",
])
def test_unparsable_forwarded_for_from_a_trusted_proxy_is_an_error(value: str) -> None:
    with pytest.raises(ForwardedHeaderError):
        source_ip("10.0.0.1", [value], PROXIES)


@pytest.mark.parametrize("entries", [["*"], ["0.0.0.0/0"], ["::/0"], ["not-an-ip"], ["10.0.0.1/8"]])
def test_everyone_or_garbage_is_refused_as_trusted_proxies(entries: list[str]) -> None:
    with pytest.raises(ValueError):
        TrustedProxies.of(entries)


@pytest.mark.parametrize(("scheme", "peer", "proto", "expected"), [
    ("https", "203.0.113.9", [], True),
    ("wss", "203.0.113.9", [], True),
    ("http", "203.0.113.9", ["https"], False),  # an untrusted client cannot claim TLS
    ("http", "10.0.0.1", ["https"], True),
    ("http", "10.0.0.1", ["http"], False),
    ("http", "10.0.0.1", ["http, https"], True),  # the value the trusted proxy appended
    ("http", "10.0.0.1", [], False),
])
def test_secure_transport(scheme: str, peer: str, proto: list[str], expected: bool) -> None:
    assert secure_transport(scheme, peer, proto, PROXIES) is expected


def test_garbage_forwarded_proto_from_a_trusted_proxy_is_an_error() -> None:
    with pytest.raises(ForwardedHeaderError):
        secure_transport("http", "10.0.0.1", ["gopher"], PROXIES)


def test_garbage_left_of_the_first_untrusted_hop_is_ignored() -> None:
    # Everything left of the address our proxy appended came from the client: it is not read.
    assert source_ip("10.0.0.1", ["not-an-ip, 198.51.100.7"], PROXIES) == "198.51.100.7"
