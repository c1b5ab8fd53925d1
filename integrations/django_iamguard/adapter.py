"""Turning a Django request into the guard's `WebRequest`, and a `WebResponse` into a Django one.

The route and its parameters are Django's resolver result for this request
(`request.resolver_match`: the matched pattern's text and, for each of its parameters, the
converted value the view is called with, see `route_parameters`). Method, target, headers and
peer come from the server: the WSGI environ or the ASGI scope, so the method is the one the
client sent (Django upper-cases it, the guard refuses anything that was not upper case already,
spec MAP-12) and repeated ASGI headers stay separate.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from django_iamguard.routing import allow_text, declared_rules, route_template
from iamguard.web import RouteMap, RouteRule, WebRequest, WebResponse, path_parameters
from iamguard.web.memo import scope_key
from iamguard.web.request import group_headers
from iamguard.web.wsgi import environ_headers, environ_key, peer_and_scheme, query_bytes, raw_target

_NO_ROUTES = RouteMap()  # for callers without a guard: function views' methods then come from their own rules


def _from_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    client = scope.get("client")
    query = scope.get("query_string", b"")
    return {
        "method": str(scope.get("method", "")),
        "raw_path": scope.get("raw_path") if isinstance(scope.get("raw_path"), bytes) else None,
        "query_string": query if isinstance(query, bytes) else str(query).encode("utf-8"),
        "headers": tuple((name.decode("latin-1").lower(), value.decode("latin-1"))
                         for name, value in scope.get("headers", ())),
        "client": str(client[0]) if client else None,
        "scheme": str(scope.get("scheme", "http")),
    }


def _from_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    peer, scheme = peer_and_scheme(environ)
    return {
        "method": str(environ.get("REQUEST_METHOD", "")),
        "raw_path": raw_target(environ),
        "query_string": query_bytes(environ),
        "headers": environ_headers(environ),
        "client": peer,
        "scheme": scheme,
    }


def sent_method(request: HttpRequest) -> str:
    scope = getattr(request, "scope", None)
    method = scope.get("method") if isinstance(scope, Mapping) else request.META.get("REQUEST_METHOD")
    return method if isinstance(method, str) else str(request.method)


def connection_request(request: HttpRequest, environ: Mapping[str, Any] | None = None) -> WebRequest:
    """What the server says about `request` (method, target, headers, peer), without a route:
    the guard screens it before Django resolves anything, and treats it as unmapped. Under WSGI,
    `environ` (the environ as it was when the request was screened) replaces `request.META`."""
    scope = getattr(request, "scope", None)
    connection = _from_scope(scope) if isinstance(scope, Mapping) else \
        _from_environ(environ if environ is not None else request.META)
    described = WebRequest(path=request.path_info, native=request, **connection)
    described.prime_header_map(group_headers(described.headers))
    return described


def connection_key(request: HttpRequest) -> tuple[Any, ...] | None:
    """What `connection_request` reads, as a VerdictMemo key: the ASGI scope's request line,
    headers, peer and scheme, or the WSGI environ's strings; and the path Django routes."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping):
        return ("asgi", scope_key(scope), request.path_info)
    environ = environ_key(request.META)
    return ("wsgi", environ, request.path_info) if environ is not None else None


def route_parameters(match: Any) -> dict[str, Any]:
    """The values the view receives (`ResolverMatch.kwargs`) for every parameter of the matched
    route. Not `captured_kwargs` alone: Django leaves out of it what an `include()` prefix
    captured ("t/<tenant>/"), and a `path(..., kwargs)` default replaces a captured value in what
    the view gets; the resource must name the values the view acts on (spec MAP-01)."""
    names = set(match.captured_kwargs) | path_parameters(route_template(match.route))
    return {name: value for name, value in match.kwargs.items() if name in names}


def route_witness(request: HttpRequest) -> tuple[Any, ...] | None:
    """What `with_route` reads from Django's resolver result, compared (with ==) before a
    remembered allow is given to a request routed after its key was read; None when unrouted."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    # kwargs holds every value `route_parameters` may pick (the route says which), so equal
    # kwargs and routes give equal path parameters.
    return (request.path_info, match.func, match.route, tuple(match.kwargs.items()), tuple(match.namespaces))


def with_route(base: WebRequest, request: HttpRequest, routes: RouteMap, *,
               declared: tuple[RouteRule, ...] | None = None,
               public_namespaces: frozenset[str] = frozenset()) -> WebRequest:
    """`base` completed with Django's resolver result for `request`; `routes` is the guard's
    route map (the methods of a function view's route come from its rules)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return base.replaced(path=request.path_info)
    if declared is None:
        is_public = bool(public_namespaces.intersection(match.namespaces))
        declared = declared_rules(match.func, base.method, public_namespace=is_public)
    template = route_template(match.route)
    return base.replaced(path=request.path_info, route=template, path_params=route_parameters(match),
                         declared=declared, allow=allow_text(match.func, template, routes))


def unrouted_allow(request: HttpRequest, urlconf: str | ModuleType, routes: RouteMap) -> str:
    """The methods of the route Django will resolve `request` to ("" when none matches), for the
    `Allow` header of a 405 given before routing. Only the header uses this resolution: the
    decision always reads the resolver match Django itself makes (spec MAP-01)."""
    try:
        match = resolve(request.path_info, urlconf)
    except Resolver404:
        return ""
    return allow_text(match.func, route_template(match.route), routes)


def web_request(request: HttpRequest, *, routed: bool = True, declared: tuple[RouteRule, ...] | None = None,
                public_namespaces: frozenset[str] = frozenset(), routes: RouteMap | None = None) -> WebRequest:
    """The neutral description of `request`. With `routed=False` (before resolving, or when
    nothing matched) it carries no route, which the guard treats as unmapped."""
    base = connection_request(request)
    if not routed:
        return base
    return with_route(base, request, routes if routes is not None else _NO_ROUTES, declared=declared,
                      public_namespaces=public_namespaces)


def django_response(response: WebResponse, *, head: bool = False) -> HttpResponse:
    """`head=True` drops the body, as Werkzeug and the ASGI adapter do for a HEAD request
    (Django leaves that to the server)."""
    content_type = next((value for name, value in response.headers if name == "content-type"), None)
    answer = HttpResponse(b"" if head else response.body, status=response.status, content_type=content_type)
    if content_type is None:  # Django would add text/html to an empty answer
        del answer["Content-Type"]
    for name, value in response.headers:
        if name != "content-type":
            answer[name] = value
    return answer
