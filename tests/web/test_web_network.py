"""aws:SourceIp and aws:SecureTransport from the peer and trusted proxies only (spec CTX-01..03)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard, WebRequest, rule
from iamguard.web.network import (
    ForwardedElement,
    ForwardedHeaderError,
    TrustedProxies,
    parse_forwarded,
    secure_transport,
    source_ip,
)
from tests.web.stubs import ALICE, TENANT, StubSession, standard_authority

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


# --- RFC 7239 `Forwarded` ---------------------------------------------------------------------

FORWARDED_CASES = [
    # peer, Forwarded header lines, expected client
    ("10.0.0.1", ['For="[2001:db8:cafe::17]:4711"'], "2001:db8:cafe::17"),  # RFC 7239 section 4
    ("10.0.0.1", ["for=192.0.2.60;proto=http;by=203.0.113.43"], "192.0.2.60"),  # section 4
    ("10.0.0.1", ["for=192.0.2.43, for=198.51.100.17"], "198.51.100.17"),  # section 4: right to left
    ("10.0.0.1", ['for="192.0.2.43:4711"'], "192.0.2.43"),  # section 6: IPv4 with a port, quoted
    ("10.0.0.1", ['for="[2001:db8:cafe::17]"'], "2001:db8:cafe::17"),  # section 6: IPv6 in brackets
    ("10.0.0.1", ['for="192.0.2.43:_port"'], "192.0.2.43"),  # an obfuscated port hides nothing we read
    ("10.0.0.1", ['for="[2001:DB8::5]"'], "2001:db8::5"),  # canonical text
    ("10.0.0.1", ['FOR="192.0.2.43"'], "192.0.2.43"),  # parameter names are case-insensitive
    ("10.0.0.1", ['for="\\1\\9\\2.0.2.43"'], "192.0.2.43"),  # quoted-pairs are unescaped
    ("10.0.0.1", [";for=192.0.2.43;;proto=https;"], "192.0.2.43"),  # empty pairs are in the grammar
    ("10.0.0.1", ['for=192.0.2.43;host="example.com:8443";ext="a,b;c=d"'], "192.0.2.43"),  # extensions
    ("10.0.0.1", ["for=192.0.2.43 ,\tfor=198.51.100.17"], "198.51.100.17"),  # OWS around commas only
    ("10.0.0.1", ["for=6.6.6.6", "for=198.51.100.17"], "198.51.100.17"),  # several lines: one list
    ("10.0.0.1", ["for=6.6.6.6, for=198.51.100.17, for=10.1.2.3"], "198.51.100.17"),  # skip a trusted hop
    ("10.0.0.1", ["for=198.51.100.17, for=10.1.2.3", "for=10.1.9.9"], "198.51.100.17"),  # two trusted hops
    ("10.0.0.1", ["for=10.1.0.5, for=10.1.2.3"], "10.1.0.5"),  # all trusted: the left-most
    ("fd00::1", ['for="[2001:db8::5]:443"'], "2001:db8::5"),
    # Left of the first untrusted hop is the client's own text: never read, so never an error.
    ("10.0.0.1", ['for="_gazonk", for=198.51.100.17'], "198.51.100.17"),  # RFC 7239 section 6.3 example
    ("10.0.0.1", ["for=unknown, for=01.2.3.4, proto=https, for=198.51.100.17"], "198.51.100.17"),
    # An untrusted peer's Forwarded is ignored entirely, even when it is garbage.
    ("203.0.113.9", ["for=198.51.100.17"], "203.0.113.9"),
    ("203.0.113.9", ['for="_gazonk"'], "203.0.113.9"),
    ("203.0.113.9", ["for=1.2.3.4;for=5.6.7.8 garbage"], "203.0.113.9"),
    ("10.0.0.1", [], "10.0.0.1"),
    ("testclient", ["for=198.51.100.17"], None),
]


@pytest.mark.parametrize(("peer", "forwarded", "expected"), FORWARDED_CASES)
def test_source_ip_from_forwarded(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    assert source_ip(peer, [], PROXIES, forwarded=forwarded) == expected


MALFORMED_FORWARDED = [
    'for="_gazonk"',  # RFC 7239 section 4: an obfuscated identifier hides the client
    "for=_hidden", 'for="_hidden:4711"', "for=unknown", "For=UNKNOWN", 'for="unknown:4711"',
    "proto=https", "by=10.0.0.1;host=example.com", ";",  # no `for` on the element we must read
    "", "   ", "for=", 'for=""', "for=192.0.2.1, ", ", for=192.0.2.1", "for=192.0.2.1,,for=192.0.2.2",
    "for=192.0.2.1;for=192.0.2.2", "for=192.0.2.1;FOR=192.0.2.2", "for=192.0.2.1;proto=http;Proto=https",
    "for = 192.0.2.1", "for=192.0.2.1 ;proto=http", "for=192.0.2.1; proto=http", "for=192.0.2.1;=x",
    'for="192.0.2.1', 'for=192.0.2.1"', 'for=a"b', 'for="192.0.2.1\\"', 'for="192.0.2.1\x00"',
    "for=192.0.2.1 extra", "for=192.0.2.1 junk, for=198.51.100.17",  # the grammar holds for the whole header
    "for=192.0.2.43:4711", "for=[2001:db8::1]",  # a colon or bracket needs quotes
    'for="2001:db8::1"', 'for="[192.0.2.1]"', 'for="[2001:db8::1"', 'for="[2001:db8::1]4711"',
    'for="[2001:db8::1]:"', 'for="192.0.2.1:"', 'for="192.0.2.1:123456"', 'for="192.0.2.1:http"',
    'for="[fe80::1%eth0]"', "for=01.2.3.4", "for=1.2.3", 'for=" 192.0.2.1"', "for=example.com",
]


@pytest.mark.parametrize("value", MALFORMED_FORWARDED)
def test_malformed_forwarded_from_a_trusted_proxy_is_an_error(value: str) -> None:
    with pytest.raises(ForwardedHeaderError):
        source_ip("10.0.0.1", [], PROXIES, forwarded=[value])
    assert source_ip("203.0.113.9", [], PROXIES, forwarded=[value]) == "203.0.113.9"  # untrusted: not read


def test_a_quoted_string_cannot_run_from_one_header_line_into_the_next() -> None:
    # Joined first, these two lines would read as one valid element whose quoted `ext` holds a comma.
    with pytest.raises(ForwardedHeaderError):
        source_ip("10.0.0.1", [], PROXIES, forwarded=['for=198.51.100.17;ext="a', 'b"'])


def test_parse_forwarded_keeps_the_standard_parameters_unquoted() -> None:
    elements = parse_forwarded(['for=192.0.2.60;PROTO=http;by=203.0.113.43;x-ext=1', 'For="[::1]:80";Host="a\\"b"'])
    assert elements == (ForwardedElement(for_node="192.0.2.60", by_node="203.0.113.43", proto="http"),
                        ForwardedElement(for_node="[::1]:80", host='a"b'))


BOTH_HEADERS = [
    # X-Forwarded-For lines, Forwarded lines, expected client (None: the headers disagree)
    (["198.51.100.17"], ["for=198.51.100.17"], "198.51.100.17"),
    (["6.6.6.6, 198.51.100.17"], ["for=198.51.100.17"], "198.51.100.17"),  # same client, other chains
    (["198.51.100.17, 10.1.2.3"], ['for="198.51.100.17:4711", for=10.1.2.3'], "198.51.100.17"),
    (["2001:db8::5"], ['for="[2001:DB8::5]"'], "2001:db8::5"),
    (["198.51.100.17"], ["for=198.51.100.18"], None),
    (["198.51.100.17"], ["for=198.51.100.17, for=10.1.2.3, for=203.0.113.5"], None),
    (["10.1.2.3"], ["for=198.51.100.17"], None),  # XFF names only a proxy: still another answer
    (["198.51.100.17"], ["for=198.51.100.17;for=1.2.3.4"], None),  # agreeing XFF does not excuse garbage
    (["garbage"], ["for=198.51.100.17"], None),
]


@pytest.mark.parametrize(("forwarded_for", "forwarded", "expected"), BOTH_HEADERS)
def test_forwarded_and_x_forwarded_for_must_agree(forwarded_for: list[str], forwarded: list[str],
                                                  expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ForwardedHeaderError):
            source_ip("10.0.0.1", forwarded_for, PROXIES, forwarded=forwarded)
    else:
        assert source_ip("10.0.0.1", forwarded_for, PROXIES, forwarded=forwarded) == expected
    # From an untrusted peer neither header is read, so they cannot disagree either.
    assert source_ip("203.0.113.9", forwarded_for, PROXIES, forwarded=forwarded) == "203.0.113.9"


@pytest.mark.parametrize(("scheme", "peer", "proto", "forwarded", "expected"), [
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=https"], True),
    ("http", "10.0.0.1", [], ['for=192.0.2.1;PROTO="HTTPS"'], True),
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=wss"], True),
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=http"], False),
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=ws"], False),
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=http, for=10.1.2.3;proto=https"], True),  # right-most
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=https, for=10.1.2.3;proto=http"], False),
    ("http", "10.0.0.1", [], ["for=192.0.2.1;proto=https", "for=10.1.2.3"], False),  # says nothing
    ("http", "10.0.0.1", ["https"], ["for=192.0.2.1"], True),  # Forwarded silent: X-Forwarded-Proto
    ("http", "10.0.0.1", ["https"], ["for=192.0.2.1;proto=https"], True),  # both agree
    ("http", "10.0.0.1", ["http"], ["for=192.0.2.1;proto=ws"], False),  # both agree: not secure
    ("http", "203.0.113.9", [], ["for=192.0.2.1;proto=https"], False),  # an untrusted client cannot claim TLS
    ("http", "203.0.113.9", ["http"], ["proto=gopher;proto=https"], False),  # ... nor break the request
    ("https", "10.0.0.1", [], ["for=192.0.2.1;proto=http"], True),  # TLS to us is TLS
    ("http", "fd00::1", [], ['for="[2001:db8::5]";proto=https'], True),
])
def test_secure_transport_from_forwarded(scheme: str, peer: str, proto: list[str], forwarded: list[str],
                                         expected: bool) -> None:
    assert secure_transport(scheme, peer, proto, PROXIES, forwarded=forwarded) is expected


@pytest.mark.parametrize(("proto", "forwarded"), [
    ([], ["for=192.0.2.1;proto=gopher"]),
    ([], ["for=192.0.2.1;proto=https;proto=https"]),
    ([], ["for=192.0.2.1;proto="]),
    ([], ["proto=https garbage"]),
    (["http"], ["for=192.0.2.1;proto=https"]),  # disagreeing headers
    (["https"], ["for=192.0.2.1;proto=http"]),
    (["https"], ["for=192.0.2.1;proto=ws"]),
])
def test_unreadable_or_disagreeing_forwarded_proto_is_an_error(proto: list[str], forwarded: list[str]) -> None:
    with pytest.raises(ForwardedHeaderError):
        secure_transport("http", "10.0.0.1", proto, PROXIES, forwarded=forwarded)


_HOPS = st.one_of(st.ip_addresses(), st.sampled_from([ipaddress.ip_address(text) for text in
                                                       ("10.0.0.1", "10.1.2.3", "fd00::5", "198.51.100.17")]))


def _forwarded_node(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> str:
    text = f"[{address}]" if address.version == 6 else str(address)
    return f'for="{text}:{port}"' if port is not None else (f'for="{text}"' if address.version == 6 else f"for={text}")


@settings(max_examples=200, deadline=None)
@given(hops=st.lists(st.tuples(_HOPS, st.none() | st.integers(0, 65535)), min_size=1, max_size=6),
       lines=st.integers(1, 3))
def test_forwarded_and_x_forwarded_for_name_the_same_client(
        hops: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | None]], lines: int) -> None:
    addresses = [address for address, _ in hops]
    nodes = [_forwarded_node(address, port) for address, port in hops]
    split = max(1, len(nodes) // lines)  # several header lines are one list
    forwarded = [", ".join(nodes[start:start + split]) for start in range(0, len(nodes), split)]
    forwarded_for = [", ".join(map(str, addresses))]
    client = source_ip("10.0.0.1", forwarded_for, PROXIES)
    assert client is not None
    assert source_ip("10.0.0.1", [], PROXIES, forwarded=forwarded) == client
    assert source_ip("10.0.0.1", forwarded_for, PROXIES, forwarded=forwarded) == client
    assert source_ip("203.0.113.9", forwarded_for, PROXIES, forwarded=forwarded) == "203.0.113.9"


# --- through the guard ------------------------------------------------------------------------

_OFFICE_OVER_TLS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}, "Bool": {"aws:SecureTransport": "true"}}}]}


def _guard() -> tuple[Guard, MemorySink]:
    authority = standard_authority()
    authority.add("office", StubSession(ALICE, "alice"), _OFFICE_OVER_TLS)
    sink = MemorySink()
    routes = [rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET",
                   path="/orders/{order_id}")]
    return Guard(authority, routes=routes, audit=sink, clock=FrozenClock(), tenant=TENANT,
                 trusted_proxies=["10.0.0.1"]), sink


def _get(client: str, forwarded: str) -> WebRequest:
    return WebRequest("GET", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"}, client=client,
                      headers=(("authorization", "Bearer office"), ("forwarded", forwarded)))


@pytest.mark.parametrize(("client", "forwarded", "status", "reason", "audited_ip"), [
    # A client connecting directly cannot claim an office address or TLS with Forwarded.
    ("203.0.113.5", "for=198.51.100.1;proto=https", 403, "implicit_deny", "203.0.113.5"),
    ("198.51.100.1", "for=198.51.100.1;proto=https", 403, "implicit_deny", "198.51.100.1"),  # still no TLS
    ("203.0.113.5", 'for="_gazonk";proto=https', 403, "implicit_deny", "203.0.113.5"),  # garbage ignored
    # The trusted proxy's word is taken, and its garbage is refused instead of skipping the condition.
    ("10.0.0.1", "for=198.51.100.1;proto=https", None, "allowed", "198.51.100.1"),
    ("10.0.0.1", "for=198.51.100.1;proto=http", 403, "implicit_deny", "198.51.100.1"),
    ("10.0.0.1", "for=198.51.100.1, for=203.0.113.5;proto=https", 403, "implicit_deny", "203.0.113.5"),
    ("10.0.0.1", 'for="_gazonk";proto=https', 400, "malformed_request", None),
    ("10.0.0.1", "for=198.51.100.1;for=198.51.100.2;proto=https", 400, "malformed_request", None),
    ("10.0.0.1", "for=198.51.100.1;proto=gopher", 400, "malformed_request", None),
])
def test_forwarded_through_the_guard(client: str, forwarded: str, status: int | None, reason: str,
                                     audited_ip: str | None) -> None:
    guard, sink = _guard()
    verdict = guard.check_sync(_get(client, forwarded))
    assert (verdict.status, verdict.reason) == (status, reason)
    if audited_ip is not None:
        assert sink.records[-1].source_ip == audited_ip


def test_forwarded_disagreeing_with_x_forwarded_headers_through_the_guard_is_400() -> None:
    guard, _ = _guard()
    base = _get("10.0.0.1", "for=198.51.100.1;proto=https")
    for extra in (("x-forwarded-for", "198.51.100.2"), ("x-forwarded-proto", "http")):
        verdict = guard.check_sync(base.replaced(headers=(*base.headers, extra)))
        assert (verdict.status, verdict.reason) == (400, "malformed_request")
    agreeing = base.replaced(headers=(*base.headers, ("x-forwarded-for", "198.51.100.1"),
                                      ("x-forwarded-proto", "https")))
    assert guard.check_sync(agreeing).allowed
