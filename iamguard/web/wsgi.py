"""Reading a WSGI environ for the guard: shared by `flask_iamguard` and `django_iamguard`.

Only what the environ says about the connection and the request line lives here; the route and
its parameters always come from the framework's router. Three WSGI habits need care:

- servers join repeated header lines with commas, so two `Authorization: Bearer` lines arrive as
  one value; a Bearer credential cannot contain a comma, so such a value is split back into its
  lines and the guard refuses the ambiguity (spec JWT-10) instead of reading one of them;
- the request target as sent is not part of WSGI: gunicorn and Werkzeug put it in `RAW_URI`,
  uWSGI and mod_wsgi in `REQUEST_URI`; without either only the decoded path can be screened;
- Werkzeug's `ProxyFix` rewrites `REMOTE_ADDR` and the scheme from client-controlled headers and
  keeps the originals aside; the guard wants the TCP peer and applies its own trusted proxies
  (spec CTX-01, CTX-03).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

_PROXY_FIX_ORIGINALS = "werkzeug.proxy_fix.orig"
_UNPREFIXED = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}
_UNSEEN: Any = object()


def _bearer_lines(value: str) -> list[str]:
    parts = value.split(",")
    if len(parts) > 1 and any(part.strip().lower().startswith("bearer ") for part in parts):
        return [part.strip() for part in parts]
    return [value]


# Environ key -> (header name,), or () for keys that are not headers. Servers use the same few
# keys on every request; a flood of made-up header names only empties the memo. A key longer than
# any real header name is translated but not kept: a server lets one request carry ~800 KB of
# names, and entries of that size would make the 4,096 of them gigabytes.
_HEADER_NAMES: dict[str, tuple[str, ...]] = {}
_HEADER_NAMES_LIMIT = 4096
_HEADER_NAME_KEPT_LENGTH = 256


def _header_name(key: str) -> tuple[str, ...]:
    if key.startswith("HTTP_"):
        entry: tuple[str, ...] = (key[5:].replace("_", "-").lower(),)
    else:
        entry = (_UNPREFIXED[key],) if key in _UNPREFIXED else ()
    if len(key) > _HEADER_NAME_KEPT_LENGTH:
        return entry
    if len(_HEADER_NAMES) >= _HEADER_NAMES_LIMIT:
        _HEADER_NAMES.clear()
    _HEADER_NAMES[key] = entry
    return entry


def environ_headers(environ: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The request headers as (lower-case name, value) pairs."""
    headers: list[tuple[str, str]] = []
    names = _HEADER_NAMES
    for key, value in environ.items():
        entry = names.get(key)
        if entry is None:
            entry = _header_name(key)
        if not entry or not isinstance(value, str):
            continue
        name = entry[0]
        if name == "authorization":
            headers.extend((name, line) for line in _bearer_lines(value))
        else:
            headers.append((name, value))
    return tuple(headers)


def raw_target(environ: Mapping[str, Any]) -> bytes | None:
    """The path as the client sent it (query removed), or None when the server does not say.

    An absolute-form target (`GET http://host/path`) yields its path when its authority is the
    request's Host, and is returned unchanged otherwise so that screening refuses it (MAP-15).
    """
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(target, str) or not target:
        return None
    raw = target.encode("latin-1", "replace").partition(b"?")[0]
    if raw.startswith(b"/"):
        return raw
    scheme, separator, rest = raw.partition(b"://")
    if not separator or scheme.lower() not in (b"http", b"https"):
        return raw
    authority, slash, path = rest.partition(b"/")
    host = environ.get("HTTP_HOST")
    if not isinstance(host, str) or authority.lower() != host.encode("latin-1", "replace").lower():
        return raw
    return slash + path if slash else b"/"


def peer_and_scheme(environ: Mapping[str, Any]) -> tuple[str | None, str]:
    """The TCP peer's address and the connection's scheme, before any proxy-header rewriting."""
    source: Mapping[str, Any] = environ
    originals = environ.get(_PROXY_FIX_ORIGINALS)
    if isinstance(originals, Mapping):
        source = {**environ, **{key: value for key, value in originals.items() if value is not None}}
    peer = source.get("REMOTE_ADDR")
    scheme = source.get("wsgi.url_scheme")
    return (peer if isinstance(peer, str) and peer else None), (scheme if isinstance(scheme, str) else "http")


def query_bytes(environ: Mapping[str, Any]) -> bytes:
    query = environ.get("QUERY_STRING")
    return query.encode("latin-1", "replace") if isinstance(query, str) else b""


class _Kept:
    """The entries that environs of one shape (the same names, in the same order) keep in their
    key: the names whose values were strings, but the peer's port. Part of every key made with it
    and compared by identity, so two keys are equal only when made for the same shape."""

    __slots__ = ("names", "values_of")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        if len(names) >= 2:
            self.values_of: Callable[[Mapping[str, Any]], tuple[Any, ...]] = operator.itemgetter(*names)
        else:  # itemgetter of one name gives the value itself, of none cannot be made
            self.values_of = lambda environ: tuple(environ[name] for name in names)


# Environ shape -> what its key keeps, or None when environs of that shape cannot make a key.
# Servers build every environ alike; a flood of made-up header names only empties the memo. The
# memo is bounded in what its names weigh too, not only in shapes: one request may name ~800 KB
# of headers, and 4,096 such shapes would hold gigabytes (each name is counted with its object's
# overhead). A shape heavier than the whole budget is never kept: its environs make no key.
_SHAPES: dict[tuple[str, ...], _Kept | None] = {}
_SHAPES_LIMIT = 4096
_SHAPES_WEIGHT_LIMIT = 8 * 1024 * 1024
_NAME_OVERHEAD = 64
_shapes_weight = 0
_ONLY_STR = {str}


def _shape(environ: Mapping[str, Any], names: tuple[str, ...]) -> _Kept | None:
    kept: list[str] = []
    refused = False
    for name, value in environ.items():
        if type(value) is str:
            if name != "REMOTE_PORT":
                kept.append(name)
        # The guard reads every name without a dot (request line, peer), every header and the scheme:
        # if one holds anything but a string here, it may hold one in another environ of this
        # shape, and would be missing from the key then. Other dotted names are the server's
        # objects (wsgi.input), never read; ProxyFix's originals are keyed apart.
        elif "." not in name or name.startswith("HTTP_") or name == "wsgi.url_scheme":
            refused = True
    entry = None if refused else _Kept(tuple(kept))
    global _shapes_weight
    weight = sum(map(len, names)) + _NAME_OVERHEAD * len(names)
    if weight > _SHAPES_WEIGHT_LIMIT:
        return None
    if len(_SHAPES) >= _SHAPES_LIMIT or _shapes_weight + weight > _SHAPES_WEIGHT_LIMIT:
        _SHAPES.clear()
        _shapes_weight = 0
    _SHAPES[names] = entry
    _shapes_weight += weight
    return entry


def environ_key(environ: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Everything in `environ` that the guard reads, for the VerdictMemo: every string the server
    put there (request line, headers, peer, scheme) but the peer's port, which changes with every
    connection and which neither the guard nor a router reads; and ProxyFix's originals. None when
    a value the guard would read cannot be part of a key (not exactly a str: a subclass's own
    comparison could make two values one key; ProxyFix originals that are not a mapping);
    unhashable originals make a key that the memo never stores.

    Read through the environ's shape: which entries to keep is worked out once per shape, and each
    request's values are then picked without a Python loop (this is every repeated request's path)."""
    names = tuple(environ)
    kept = _SHAPES.get(names, _UNSEEN)
    if kept is _UNSEEN:
        kept = _shape(environ, names)
    if kept is None:
        return None
    values = kept.values_of(environ)
    if values and set(map(type, values)) != _ONLY_STR:
        return None
    originals = environ.get(_PROXY_FIX_ORIGINALS)
    if originals is None:
        return (kept, values)
    if not isinstance(originals, Mapping):
        return None
    return (kept, values, tuple(originals.items()))


def environ_of_key(key: tuple[Any, ...]) -> dict[str, Any]:
    """An environ holding everything `environ_key` kept: what the guard reads from the environ
    the key was made of, whatever has been done to that environ since."""
    kept, values = key[0], key[1]
    environ: dict[str, Any] = dict(zip(kept.names, values, strict=True))
    if len(key) > 2:
        environ[_PROXY_FIX_ORIGINALS] = dict(key[2])
    return environ
