"""The framework-neutral description of a request, and what the handler gets to read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any

from iamguard.engine.decision import Decision
from iamguard.web.routes import RouteRule
from iamguard.web.values import quick_init

ANONYMOUS = "anonymous"

# The fields `Guard.screen` reads. A request keeps the guard's "screened" mark (see
# `WebRequest._mark_screened`) only while every one of them keeps its value.
SCREENED_FIELDS = ("method", "path", "raw_path", "query_string", "headers")
_SCREENED_BY = "_screened_by"


def group_headers(headers: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """Header values by (lower-case) name, in order."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        same = grouped.get(name)
        if same is None:
            grouped[name] = [value]
        else:
            same.append(value)
    return grouped


@quick_init
@dataclass(frozen=True)
class WebRequest:
    """What an adapter tells the guard about one request.

    `route` and `path_params` must come from the framework's own routing result (the route the
    router matched and the values it extracted, after its converters), never from a second parse
    of the path: the guard authorizes exactly what the router will dispatch (spec MAP-01).
    `path` (decoded, as the router saw it) and `raw_path` (as the client sent it) are only
    screened for ambiguity; they never choose the action or the resource.
    """

    method: str
    path: str
    raw_path: bytes | None = None
    query_string: bytes = b""
    # Lower-case names, repeated names kept in order. Not in the repr: Authorization and Cookie
    # carry the bearer token (LOG-03).
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    client: str | None = None  # the TCP peer's address
    scheme: str = "http"
    route: str | None = None  # the matched route's template, e.g. "/orders/{order_id}"
    path_params: Mapping[str, Any] = field(default_factory=dict)
    declared: tuple[RouteRule, ...] = ()  # rules attached to the matched endpoint
    websocket: bool = False
    request_id: str | None = None
    allow: str | None = None  # the route's methods, for the Allow header of an OPTIONS answer
    native: Any = field(default=None, compare=False, repr=False)  # the framework's request object

    @cached_property
    def _header_map(self) -> dict[str, list[str]]:
        return group_headers(self.headers)

    def replaced(self, **changes: Any) -> WebRequest:
        """`dataclasses.replace(self, **changes)`, keeping the grouped headers when the headers
        stay the same (adapters complete a screened request with the router's result), and the
        guard's screening mark only when no screened field changes its value."""
        unknown = changes.keys() - _WEB_REQUEST_FIELDS
        if unknown:
            raise TypeError(f"WebRequest has no field {sorted(unknown)[0]!r}")
        copy = object.__new__(WebRequest)
        values = copy.__dict__
        values.update(self.__dict__)
        values.update(changes)
        if "headers" in changes:
            values.pop("_header_map", None)
        if _SCREENED_BY in values and any(name in changes and changes[name] != self.__dict__[name]
                                          for name in SCREENED_FIELDS):
            del values[_SCREENED_BY]
        return copy

    def _mark_screened(self, token: object) -> None:
        """For `Guard.screen` only: the guard that holds `token` (a private object of its own,
        so no one else can forge the mark) found nothing to refuse in this very object's method,
        path, raw path, query and headers, and its pipeline need not screen them again. The mark
        is not a field (no constructor, comparison or `repr` sees it), and `replaced` drops it
        as soon as one of those fields changes value."""
        self.__dict__[_SCREENED_BY] = token

    def _screened_with(self, token: object) -> bool:
        return self.__dict__.get(_SCREENED_BY) is token

    def prime_header_map(self, grouped: dict[str, list[str]]) -> None:
        """For adapters that group the headers while reading them: `grouped` (which must be
        `group_headers(self.headers)`) is used as is. Spares the first look-up its computation
        and cached_property's lock, taken once per new object on Python 3.11."""
        self.__dict__["_header_map"] = grouped

    def header(self, name: str) -> list[str]:
        """Every value of header `name` (lower case), in order."""
        return self._header_map.get(name, [])

    def first_header(self, name: str) -> str | None:
        values = self._header_map.get(name)
        return values[0] if values else None

    @property
    def header_names(self) -> list[str]:
        return list(self._header_map)

    def has_any_header(self, names: frozenset[str]) -> bool:
        """Whether any of the (lower-case) `names` is among the request's headers."""
        return not names.isdisjoint(self._header_map)


_WEB_REQUEST_FIELDS = frozenset(item.name for item in fields(WebRequest))


@quick_init
@dataclass(frozen=True)
class Login:
    """What a principal resolver returns for an app that logs users in itself: the iamguard
    principal ARN, and when (if ever) this login passed MFA (a server-side fact, never a header)."""

    principal: str
    mfa_authenticated_at: datetime | None = None
    session_id: str | None = None


@quick_init
@dataclass(frozen=True)
class ContextInput:
    """What a context provider receives."""

    request: WebRequest
    path_params: Mapping[str, str]
    principal: str
    action: str
    resource: str


@quick_init
@dataclass(frozen=True)
class IamContext:
    """What the handler can read (`request.state.iam`, `flask.g.iam`, `request.iam`).

    `path_params` are the exact strings that went into `resource` (read-only: an allow given again
    to a repeated request shares them, see `iamguard.web.memo`).
    """

    request_id: str
    principal: str
    action: str | None
    resource: str | None
    decision: Decision | None
    path_params: Mapping[str, str] = field(default_factory=dict)
    session: Any = field(default=None, repr=False)
    source: str = "anonymous"  # "bearer", "cookie", "resolver" or "anonymous"
    public: bool = False
    rule: RouteRule | None = field(default=None, repr=False, compare=False)

    @property
    def anonymous(self) -> bool:
        return self.principal == ANONYMOUS
