"""Where a request came from: `aws:SourceIp` and `aws:SecureTransport`.

The client address is the TCP peer. Only when the peer is one of the configured trusted proxies
are its forwarding headers read: `X-Forwarded-For` and the standard `Forwarded` (RFC 7239), each
from the right, skipping trusted proxies, and the first untrusted address is the client (spec
CTX-01). `aws:SecureTransport` is true when the connection itself is https/wss, or when the
trusted proxy says so in the value it appended to `X-Forwarded-Proto` or in the `proto` of the
right-most `Forwarded` element (CTX-03). The trusted set is empty by default, and "everyone"
(`*`, `0.0.0.0/0`, `::/0`) is refused.

A header from a trusted proxy that cannot be read is an error (`ForwardedHeaderError`, a 400), never
a guess and never "no address" (CTX-02): a value that is not an IP address written one way only
(IPv4 without leading zeros, shorthand or other bases; IPv6, whose hex groups cannot be read two
ways, in any case and with leading zeros, and then written canonically), a `Forwarded` header that
breaks RFC 7239's grammar or repeats a parameter in one element, a `Forwarded` element on the walk
without `for`, or with `for=unknown` or an obfuscated `_name`, and a `Forwarded` header that names
another client or scheme than the `X-Forwarded-*` headers sent with it. As with `X-Forwarded-For`,
addresses left of the first untrusted hop were written by the client or by proxies we do not know,
so they are not read; the `Forwarded` grammar is still checked on the whole header, because without
it the elements cannot even be told apart.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from iamguard.policy.values import unmapped, unmapped_network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = {"http": False, "https": True, "ws": False, "wss": True}


class ForwardedHeaderError(ValueError):
    """A trusted proxy sent a forwarding header iamguard cannot read."""


def _strict_address(text: str) -> IPAddress | None:
    """`text` as written: no port, brackets, zone, whitespace or leading zeros."""
    if not text or "%" in text or text != text.strip():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> IPAddress | None:
    """A strictly parsed address (see `_strict_address`), IPv4-mapped IPv6 as the IPv4 address:
    a dual-stack socket or proxy reports an IPv4 client as `::ffff:a.b.c.d`, and left mapped it
    would slip past an IPv4 `IpAddress` Deny and past the trusted-proxy list.
    (Memoized: peers repeat, and parsing is the costly part of reading the client address.)"""
    address = _strict_address(text)
    return unmapped(address) if address is not None else None


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str] | TrustedProxies | None) -> TrustedProxies:
        if entries is None:
            return cls()
        if isinstance(entries, TrustedProxies):
            return entries
        if isinstance(entries, str):
            raise TypeError("trusted_proxies takes a list of addresses or networks, not one string")
        networks: list[IPNetwork] = []
        for entry in entries:
            if entry.strip() == "*":
                raise ValueError("trusted_proxies: '*' would let every client choose its address; "
                                 "list the proxies' addresses or networks")
            try:
                # Mapped form (`::ffff:10.0.0.0/104`) as the IPv4 block: peers are compared unmapped.
                network = unmapped_network(ipaddress.ip_network(entry.strip(), strict=True))
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {entry!r} is not an address or network: {exc}") from None
            if network.prefixlen == 0:
                raise ValueError(f"trusted_proxies: {entry!r} trusts every address; list the proxies instead")
            networks.append(network)
        return cls(tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        return any(address.version == network.version and address in network for network in self.networks)


# --- RFC 7239 `Forwarded` -------------------------------------------------------------------

@dataclass(frozen=True)
class ForwardedElement:
    """One forwarded-element (one hop) of a `Forwarded` header: the standard parameters, unquoted,
    or None when absent. Extension parameters are checked for syntax and repeats, then dropped."""

    for_node: str | None = None
    by_node: str | None = None
    proto: str | None = None
    host: str | None = None


# RFC 9110 token and quoted-string; RFC 7239 allows no whitespace around ";" and "=", only OWS
# around the commas that separate elements.
_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_PAIR = re.compile(rf"({_TCHAR}+)=({_TCHAR}+|{_QUOTED})")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")  # node-port: a number or an obfuscated `_name`
_STANDARD = {"for": "for_node", "by": "by_node", "proto": "proto", "host": "host"}


def _skip_whitespace(line: str, position: int) -> int:
    while position < len(line) and line[position] in " \t":
        position += 1
    return position


def _element(line: str, position: int) -> tuple[ForwardedElement, int]:
    """The forwarded-element at `position` (`[pair] *(";" [pair])`, at least one pair) and where it ends."""
    found: dict[str, str] = {}
    while True:
        pair = _PAIR.match(line, position)
        if pair is not None:
            name, value = pair.group(1).lower(), pair.group(2)
            if name in found:
                raise ForwardedHeaderError(f"Forwarded from a trusted proxy repeats the {name!r} parameter "
                                           "in one element")
            found[name] = _ESCAPE.sub(r"\1", value[1:-1]) if value.startswith('"') else value
            position = pair.end()
        if position >= len(line) or line[position] != ";":
            break
        position += 1
    if not found:
        raise ForwardedHeaderError(f"Forwarded from a trusted proxy has an empty element or a syntax error "
                                   f"at character {position + 1}")
    standard = {_STANDARD[name]: value for name, value in found.items() if name in _STANDARD}
    return ForwardedElement(**standard), position


def _line_elements(line: str) -> list[ForwardedElement]:
    elements: list[ForwardedElement] = []
    position = _skip_whitespace(line, 0)
    while True:
        element, position = _element(line, position)
        elements.append(element)
        position = _skip_whitespace(line, position)
        if position == len(line):
            return elements
        if line[position] != ",":
            raise ForwardedHeaderError(f"Forwarded from a trusted proxy has a syntax error at character "
                                       f"{position + 1}")
        position = _skip_whitespace(line, position + 1)


@functools.lru_cache(maxsize=256)
def _parse_lines(lines: tuple[str, ...]) -> tuple[ForwardedElement, ...]:
    # Remembered briefly: the address and the scheme of one request both read the same header.
    return tuple(element for line in lines for element in _line_elements(line))


def parse_forwarded(values: Sequence[str]) -> tuple[ForwardedElement, ...]:
    """The elements of the `Forwarded` header lines `values`, left to right, or
    `ForwardedHeaderError`. Each line is parsed on its own before the lists are joined, so a
    quoted string cannot run from one line into the next."""
    return _parse_lines(tuple(values))


def _node_address(node: str | None) -> IPAddress:
    """The IP address of a `for` node: `192.0.2.43`, `192.0.2.43:4711`, `[2001:db8::17]`,
    `[2001:db8::17]:4711` (RFC 7239 section 6). Anything else is an error."""
    if node is None:
        raise ForwardedHeaderError("a Forwarded element from a trusted proxy has no 'for' parameter")
    if node.startswith("["):
        inside, bracket, port = node[1:].partition("]")
        version = 6
    else:
        inside, bracket, port = node.partition(":")
        port = bracket + port
        version = 4
        if inside.lower() == "unknown" or inside.startswith("_"):
            raise ForwardedHeaderError("Forwarded from a trusted proxy hides the client (an 'unknown' or "
                                       "obfuscated 'for'); iamguard needs its IP address")
    address = _strict_address(inside)
    malformed_port = bool(port) and not (port.startswith(":") and _PORT.fullmatch(port[1:]))
    if address is None or address.version != version or (version == 6 and not bracket) or malformed_port:
        raise ForwardedHeaderError("Forwarded from a trusted proxy has a 'for' that is not an IP address "
                                   "(IPv6 goes in brackets, a port after a colon, inside quotes)")
    return unmapped(address)


# --- the client and the scheme ------------------------------------------------------------

def _items(values: Sequence[str]) -> list[str]:
    # Several header lines mean the same as one line joined with commas (RFC 9110 section 5.3).
    return [item.strip() for value in values for item in value.split(",")]


def _walk(addresses: Iterable[IPAddress], client: IPAddress, proxies: TrustedProxies) -> IPAddress:
    """Right to left (`addresses` is reversed already): the first hop the proxies do not cover,
    or the left-most when they cover every hop. Addresses are parsed lazily, so nothing left of
    the answer is read."""
    for address in addresses:
        client = address
        if not proxies.trusts(address):
            break
    return client


def _xff_addresses(forwarded_for: Sequence[str]) -> Iterable[IPAddress]:
    for item in reversed(_items(forwarded_for)):
        address = parse_address(item)
        if address is None:
            raise ForwardedHeaderError("X-Forwarded-For from a trusted proxy holds a value that is not an "
                                       "IP address")
        yield address


def source_ip(peer: str | None, forwarded_for: Sequence[str], proxies: TrustedProxies, *,
              forwarded: Sequence[str] = ()) -> str | None:
    """The client address as text, or None when the peer is not an IP address (unix socket,
    some test clients): the key is then absent and IP conditions fail closed for Allow.
    `forwarded_for` and `forwarded` are the `X-Forwarded-For` and `Forwarded` header lines; they
    are read only when the peer is trusted, and when both are sent they must name one client."""
    peer_address = parse_address(peer) if peer else None
    if peer_address is None or not (forwarded_for or forwarded) or not proxies.trusts(peer_address):
        return str(peer_address) if peer_address is not None else None
    client = _walk(_xff_addresses(forwarded_for), peer_address, proxies) if forwarded_for else None
    if forwarded:
        elements = parse_forwarded(forwarded)
        named = _walk((_node_address(element.for_node) for element in reversed(elements)), peer_address, proxies)
        if client is not None and named != client:
            raise ForwardedHeaderError("Forwarded and X-Forwarded-For from a trusted proxy name different clients")
        client = named
    return str(client)


def connection_keys(scheme: str, peer: str | None, headers: Mapping[str, Sequence[str]],
                    proxies: TrustedProxies) -> tuple[str | None, bool]:
    """`aws:SourceIp` (None when the client has no IP address) and `aws:SecureTransport` of a
    request, from its connection and, through trusted proxies only, its forwarding headers
    (`headers`: the lines of each lower-case name). Raises ForwardedHeaderError for a forwarding
    header from a trusted proxy that cannot be read (CTX-02)."""
    forwarded = headers.get("forwarded", ())  # RFC 7239, read with the X-Forwarded-* ones
    address = source_ip(peer, headers.get("x-forwarded-for", ()), proxies, forwarded=forwarded)
    secure = secure_transport(scheme, peer, headers.get("x-forwarded-proto", ()), proxies, forwarded=forwarded)
    return address, secure


def _scheme_is_secure(value: str, header: str) -> bool:
    secure = _SCHEMES.get(value.lower())
    if secure is None:
        raise ForwardedHeaderError(f"{header} from a trusted proxy is not http, https, ws or wss")
    return secure


def secure_transport(scheme: str, peer: str | None, forwarded_proto: Sequence[str],
                     proxies: TrustedProxies, *, forwarded: Sequence[str] = ()) -> bool:
    """True when the connection is https/wss, or when a trusted peer says the client's was: in the
    value it appended to `X-Forwarded-Proto`, or in the `proto` of the right-most `Forwarded`
    element (an element without `proto` says nothing). Both present and disagreeing is an error."""
    if scheme in ("https", "wss"):
        return True
    if not (forwarded_proto or forwarded) or not proxies.trusts(parse_address(peer) if peer else None):
        return False
    # The values our trusted proxy appended: the right-most ones.
    said = _scheme_is_secure(_items(forwarded_proto)[-1], "X-Forwarded-Proto") if forwarded_proto else None
    proto = parse_forwarded(forwarded)[-1].proto if forwarded else None
    if proto is not None:
        standard = _scheme_is_secure(proto, "Forwarded 'proto'")
        if said is not None and said != standard:
            raise ForwardedHeaderError("Forwarded and X-Forwarded-Proto from a trusted proxy disagree on the "
                                       "scheme")
        said = standard
    return bool(said)
