"""Reading typed values, shared by the parser (policy values) and the evaluator (request values).

One function per type, so a policy value and a request value are always read by the same rules:
a disagreement between two parsers of the same text is how IP and time restrictions get bypassed.
Every reader raises ValueError with a message fit for an error report.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_EPOCH = re.compile(r"-?[0-9]{1,12}", re.ASCII)
_DATE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2}))?",
    re.ASCII,
)
NetworkAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_PREFIX_LENGTH = re.compile(r"0|[1-9][0-9]{0,2}", re.ASCII)
_MAPPED_PREFIX = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses (RFC 4291 section 2.5.5.2)


def to_text(value: object) -> str:
    """The text form IAM compares for string operators: booleans as true/false, numbers in decimal.
    Each reader answers a value of its exact type, so no subclass's own comparison (one that
    raises, or lies) runs after the read, where the evaluator cannot pin an error on a statement."""
    if isinstance(value, str):
        return value if type(value) is str else str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a non-finite number has no text form")
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise ValueError(f"a {type(value).__name__} cannot be compared as text")


def to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("numbers must be finite")
        return value if type(value) is Decimal else Decimal(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            pass
    raise ValueError(f"{_show(value)} is not a number (write digits with an optional sign and decimal point)")


def to_datetime(value: object) -> datetime:
    """An aware UTC datetime from ISO 8601 text (with an offset, or a bare date) or epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a datetime without a time zone is ambiguous; pass an aware datetime")
        moment = _in_utc(value, value.isoformat())
        return moment if type(moment) is datetime else datetime(
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond,
            tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, int):
        return _from_epoch(value)
    if isinstance(value, float) and math.isfinite(value):
        return _from_epoch(value)
    if isinstance(value, str):
        if _EPOCH.fullmatch(value):
            return _from_epoch(int(value))
        match = _DATE.fullmatch(value)
        if match:
            return _from_match(match, value)
    raise ValueError(
        f"{_show(value)} is not a date; use ISO 8601 such as 2024-07-01T12:00:00Z, a date such as "
        "2024-07-01, or epoch seconds"
    )


def _from_epoch(seconds: float) -> datetime:
    try:
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"epoch time {seconds} is out of range") from None


def _from_match(match: re.Match[str], text: str) -> datetime:
    parts = match.groupdict()
    if parts["hour"] is not None and parts["zone"] is None:  # pragma: no cover - regex requires a zone
        raise ValueError(f"{text!r} has a time but no time zone; add 'Z' or an offset like +02:00")
    zone = timezone.utc
    if parts["zone"] and parts["zone"] != "Z":
        sign = 1 if parts["zone"][0] == "+" else -1
        digits = parts["zone"][1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if offset >= timedelta(hours=24) or int(digits[2:]) >= 60:
            raise ValueError(f"{text!r} has an invalid time zone offset")
        zone = timezone(sign * offset)
    fraction = (parts["fraction"] or "0")[:6].ljust(6, "0")
    try:
        moment = datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"]),
            int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0),
            int(fraction), tzinfo=zone,
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    return _in_utc(moment, text)


def _in_utc(moment: datetime, text: str) -> datetime:
    # Near year 1 or 9999 an offset moves the instant out of datetime's range (OverflowError,
    # which is no ValueError): report it like any other unreadable date.
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{text!r} is out of the supported range of dates (years 1 to 9999 in UTC)") from None


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise ValueError(f"{_show(value)} is not a boolean; use true or false")


def to_network(value: object) -> Network:
    """A CIDR block from a policy. A bare address means a single host (/32 or /128)."""
    if not isinstance(value, str):
        raise ValueError(f"{_show(value)} is not an IP address or CIDR block")
    address, slash, prefix = value.partition("/")
    if "%" in address or (slash and not _PREFIX_LENGTH.fullmatch(prefix)):
        # ipaddress also reads `/255.0.0.0` (netmask), `/0.255.255.255` (hostmask), `/010` and
        # `%scope`: forms other readers of the same policy take differently or reject.
        raise ValueError(
            f"{_show(value)} is not in CIDR notation: write the prefix length in decimal after the '/' "
            "(for example 203.0.113.0/24)"
        )
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{_show(value)} is not an IP address or CIDR block (for example 203.0.113.0/24 or 2001:db8::/32)"
        ) from None
    return unmapped_network(network)


def unmapped_network(network: Network) -> Network:
    """A block written in IPv4-mapped form (`::ffff:10.0.0.0/104`) holds IPv4 hosts: it is read as
    the IPv4 block (`10.0.0.0/8`), the same way `unmapped` reads a mapped address."""
    mapped = network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
    if mapped is not None and network.prefixlen >= _MAPPED_PREFIX:
        return ipaddress.IPv4Network((mapped, network.prefixlen - _MAPPED_PREFIX))
    return network


def to_address(value: object) -> NetworkAddress:
    """A request address. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket
    reports for an IPv4 client) is the IPv4 address it carries: read as IPv6 it would slip past every
    IPv4 block in an `IpAddress` Deny."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address: NetworkAddress = value
    elif not isinstance(value, str):
        raise ValueError(f"{_show(value)} is not an IP address")
    else:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{_show(value)} is not an IP address") from None
    return unmapped(address)


def unmapped(address: NetworkAddress) -> NetworkAddress:
    """The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) carries; others unchanged."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped if mapped is not None else address


def to_binary(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            pass
    raise ValueError(f"{_show(value)} is not base64-encoded binary data")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
