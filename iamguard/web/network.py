"""Where a request came from: `aws:SourceIp` and `aws:SecureTransport`.

The client address is the TCP peer. Only when the peer is one of the configured trusted proxies
is `X-Forwarded-For` read, from the right, skipping trusted proxies, and the first untrusted
address is the client (spec CTX-01). A value a trusted proxy sent that is not a canonical IP
address is an error (400), never a guess and never "no address" (CTX-02). The same rule applies
to `X-Forwarded-Proto` for `aws:SecureTransport` (CTX-03). The trusted set is empty by default,
and "everyone" (`*`, `0.0.0.0/0`, `::/0`) is refused.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedHeaderError(ValueError):
    """A trusted proxy sent a forwarding header iamguard cannot read."""


@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> IPAddress | None:
    """A strictly parsed address: no port, brackets, zone, whitespace or leading zeros.
    (Memoized: peers repeat, and parsing is the costly part of reading the client address.)"""
    if not text or "%" in text or text != text.strip():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


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
                network = ipaddress.ip_network(entry.strip(), strict=True)
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


def _items(values: Sequence[str]) -> list[str]:
    # Several header lines mean the same as one line joined with commas (RFC 9110 section 5.3).
    return [item.strip() for value in values for item in value.split(",")]


def source_ip(peer: str | None, forwarded_for: Sequence[str], proxies: TrustedProxies) -> str | None:
    """The client address as text, or None when the peer is not an IP address (unix socket,
    some test clients): the key is then absent and IP conditions fail closed for Allow."""
    peer_address = parse_address(peer) if peer else None
    if peer_address is None or not forwarded_for or not proxies.trusts(peer_address):
        return str(peer_address) if peer_address is not None else None
    client = peer_address
    for item in reversed(_items(forwarded_for)):
        address = parse_address(item)
        if address is None:
            raise ForwardedHeaderError("X-Forwarded-For from a trusted proxy holds a value that is not an "
                                       "IP address")
        client = address
        if not proxies.trusts(address):
            break
    return str(client)


def secure_transport(scheme: str, peer: str | None, forwarded_proto: Sequence[str],
                     proxies: TrustedProxies) -> bool:
    if scheme in ("https", "wss"):
        return True
    if not forwarded_proto or not proxies.trusts(parse_address(peer) if peer else None):
        return False
    items = _items(forwarded_proto)
    last = items[-1].lower()  # the value our trusted proxy appended
    if last not in ("http", "https", "ws", "wss"):
        raise ForwardedHeaderError("X-Forwarded-Proto from a trusted proxy is not http or https")
    return last in ("https", "wss")
