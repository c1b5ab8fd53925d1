"""Screening the request target and method before anything else looks at the request.

Routers and security layers have been bypassed for years by reading the same path differently
(encoded slashes, dot segments, matrix parameters, double encoding, control characters, trimmed
whitespace). iamguard does not try to normalize such paths: it refuses them with 400 before any
authentication or routing decision (spec MAP-02..07, MAP-13, MAP-15, DOS-04), so exactly one
decoding of an unambiguous path ever happens.

The table, checked on the raw target (as the client sent it) and on the decoded path:

| what                                              | answer |
| ------------------------------------------------- | ------ |
| `%2F %5C %2E %25 %00 %3B` (any case), raw `\\ ;`    | 400    |
| a `.` or `..` segment, an empty segment (`//`)    | 400    |
| a control character (< 0x20, 0x7F) after decoding | 400    |
| whitespace at either edge of a segment            | 400    |
| invalid percent-encoding, invalid UTF-8           | 400    |
| a path longer than `max_path_length` (2048)       | 400    |
| a method not in upper case                        | 400    |
| an upper-case method iamguard does not know       | 405    |
| a method-override header or `_method` parameter   | 400    |
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from iamguard.web.values import quick_init

DEFAULT_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OVERRIDE_HEADERS = frozenset({"x-http-method-override", "x-http-method", "x-method-override"})
OVERRIDE_PARAMETERS = frozenset({"_method"})
TOKEN_PARAMETERS = frozenset({"access_token"})
DEFAULT_MAX_PATH_LENGTH = 2048

_FORBIDDEN_ESCAPES = re.compile(rb"%(?:2[fFeE5]|5[cC]|00|3[bB])")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_METHOD = re.compile(r"[A-Za-z]{1,20}", re.ASCII)
# A raw path made only of these bytes decodes to itself, so one check covers both forms.
_PLAIN_RAW = re.compile(rb"/[A-Za-z0-9._~!$&'()*+,=:@/-]*")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,=:@/-]*", re.ASCII)
_DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|$)")
# "%" after decoding can only come from "%25" or a broken escape: refused even when the raw
# target is unknown (WSGI servers such as wsgiref do not pass it on).
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x1f\x7f\\\\;%\ufffd]")


@quick_init
@dataclass(frozen=True)
class Rejection:
    """Why a request was refused before routing. `status` is 400 or 405."""

    status: int
    reason: str  # an audit reason code
    detail: str  # safe to show the client: names the rule, never echoes the input


def check_method(method: str, allowed: frozenset[str] = DEFAULT_METHODS) -> Rejection | None:
    if not _METHOD.fullmatch(method) or method != method.upper():
        return Rejection(400, "malformed_request", "the method must be an upper-case token")
    if method not in allowed:
        return Rejection(405, "method_not_allowed", "method not allowed")
    return None


def _decode_raw(raw: bytes) -> bytes | Rejection:
    if _BROKEN_ESCAPE.search(raw):
        return Rejection(400, "malformed_request", "invalid percent-encoding in the path")
    return _ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), raw)


def is_plain(raw: bytes, path: str, max_length: int = DEFAULT_MAX_PATH_LENGTH) -> bool:
    """The common case, decided in one pass: a raw path without escapes, dot segments or empty
    segments that is exactly the decoded path the router sees."""
    # Once raw is known to start with "/" and to equal the path, a dot segment needs "/." in it:
    # the substring test spares the regex for nearly every path.
    return (len(raw) <= max_length and _PLAIN_RAW.fullmatch(raw) is not None and b"//" not in raw
            and raw == path.encode("ascii", "replace")
            and (b"/." not in raw or _DOT_SEGMENT.search(path) is None))


def is_plain_path(path: str, max_length: int = DEFAULT_MAX_PATH_LENGTH) -> bool:
    """The common case when the raw target is unknown (WSGI): a decoded path of plain characters
    without dot or empty segments, which `check_path` would accept."""
    return (len(path) <= max_length and _PLAIN_PATH.fullmatch(path) is not None and "//" not in path
            and ("/." not in path or _DOT_SEGMENT.search(path) is None))


def check_raw_path(raw: bytes, max_length: int = DEFAULT_MAX_PATH_LENGTH) -> Rejection | None:
    """Rules that need the path exactly as the client sent it."""
    if len(raw) > max_length:
        return Rejection(400, "malformed_request", "the path is too long")
    if any(byte < 0x21 or byte > 0x7E for byte in raw):
        return Rejection(400, "malformed_request", "the raw path must be printable ASCII")
    if b"\\" in raw or b";" in raw:
        return Rejection(400, "malformed_request", "backslash and ';' are not allowed in the path")
    if _FORBIDDEN_ESCAPES.search(raw):
        return Rejection(400, "malformed_request", "encoded '/', '\\', '.', '%', ';' or NUL in the path")
    decoded = _decode_raw(raw)
    if isinstance(decoded, Rejection):
        return decoded
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(400, "malformed_request", "the path is not valid UTF-8 once decoded")
    return check_path(text, max_length)


def check_path(path: str, max_length: int = DEFAULT_MAX_PATH_LENGTH) -> Rejection | None:
    """Rules on the decoded path (the string routers match on)."""
    if len(path) > max_length:
        return Rejection(400, "malformed_request", "the path is too long")
    if not path.startswith("/"):
        return Rejection(400, "malformed_request", "the path must start with '/'")
    forbidden = _FORBIDDEN_CHARACTERS.search(path)
    if forbidden is not None:
        char = forbidden.group()
        if char == "\ufffd":  # a server replaced undecodable bytes: the original is unknowable
            return Rejection(400, "malformed_request", "the path is not valid UTF-8 once decoded")
        if char in "\\;":
            return Rejection(400, "malformed_request", "backslash and ';' are not allowed in the path")
        if char == "%":
            return Rejection(400, "malformed_request", "the path was percent-encoded twice")
        return Rejection(400, "malformed_request", "control characters are not allowed in the path")
    segments = path.split("/")[1:]
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            return Rejection(400, "malformed_request", "dot segments are not allowed in the path")
        if not segment:
            if index == last:  # a trailing slash is routing's business (MAP-08), not ambiguity
                continue
            return Rejection(400, "malformed_request", "empty path segments ('//') are not allowed")
        if segment[0].isspace() or segment[-1].isspace():
            return Rejection(400, "malformed_request", "path segments must not start or end with whitespace")
    return None


def check_overrides(header_names: Iterable[str], query_string: bytes) -> Rejection | None:
    """Method-override headers and parameters are refused (MAP-13), and so is a token in the query
    string (JWT-10): both make different layers see different requests."""
    for name in header_names:
        if name in OVERRIDE_HEADERS:
            return Rejection(400, "malformed_request", "method-override headers are not accepted")
    if query_string:
        try:
            text = query_string.decode("latin-1")
            keys = {key.lower() for key, _ in parse_qsl(text, keep_blank_values=True)}
        except ValueError:
            return Rejection(400, "malformed_request", "the query string cannot be read")
        if keys & OVERRIDE_PARAMETERS:
            return Rejection(400, "malformed_request", "method-override parameters are not accepted")
        if keys & TOKEN_PARAMETERS:
            return Rejection(400, "invalid_request", "tokens are not accepted in the query string")
    return None
