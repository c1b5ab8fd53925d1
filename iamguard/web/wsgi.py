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

from collections.abc import Mapping
from typing import Any

_PROXY_FIX_ORIGINALS = "werkzeug.proxy_fix.orig"
_UNPREFIXED = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _bearer_lines(value: str) -> list[str]:
    parts = value.split(",")
    if len(parts) > 1 and any(part.strip().lower().startswith("bearer ") for part in parts):
        return [part.strip() for part in parts]
    return [value]


# Environ key -> (header name,), or () for keys that are not headers. Servers use the same few
# keys on every request; a flood of made-up header names only empties the memo.
_HEADER_NAMES: dict[str, tuple[str, ...]] = {}
_HEADER_NAMES_LIMIT = 4096


def _header_name(key: str) -> tuple[str, ...]:
    if key.startswith("HTTP_"):
        entry: tuple[str, ...] = (key[5:].replace("_", "-").lower(),)
    else:
        entry = (_UNPREFIXED[key],) if key in _UNPREFIXED else ()
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


def environ_key(environ: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Everything in `environ` that the guard reads, for the VerdictMemo: every string the server
    put there (request line, headers, peer, scheme, in the server's order) but the peer's port,
    which changes with every connection and which neither the guard nor a router reads; and
    ProxyFix's originals. None when a value the guard would read cannot be part of a key (a str
    subclass, ProxyFix originals that are not a mapping); unhashable originals make a key that the
    memo never stores."""
    items: list[tuple[str, str]] = []
    for item in environ.items():
        value = item[1]
        if type(value) is str:
            if item[0] != "REMOTE_PORT":
                items.append(item)
        elif isinstance(value, str):  # its own __eq__ or __hash__ could make two values one key
            return None
    originals = environ.get(_PROXY_FIX_ORIGINALS)
    if originals is None:
        return tuple(items)
    if not isinstance(originals, Mapping):
        return None
    return (*items, (_PROXY_FIX_ORIGINALS, tuple(originals.items())))


def environ_of_key(key: tuple[Any, ...]) -> dict[str, Any]:
    """An environ holding everything `environ_key` kept: what the guard reads from the environ
    the key was made of, whatever has been done to that environ since."""
    environ = dict(key)
    originals = environ.get(_PROXY_FIX_ORIGINALS)
    if originals is not None:
        environ[_PROXY_FIX_ORIGINALS] = dict(originals)
    return environ
