"""Turning a Django request into the guard's `WebRequest`, and a `WebResponse` into a Django one.

The route and its parameters are Django's resolver result for this request
(`request.resolver_match`: the matched pattern's text and `captured_kwargs`, the converted values
the view is called with). Method, target, headers and peer come from the server: the WSGI environ
or the ASGI scope, so the method is the one the client sent (Django upper-cases it, the guard
refuses anything that was not upper case already, spec MAP-12) and repeated ASGI headers stay
separate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from django_iamguard.routing import class_methods, declared_rules, route_template
from iamguard.web import RouteRule, WebRequest, WebResponse
from iamguard.web.request import group_headers
from iamguard.web.wsgi import environ_headers, peer_and_scheme, query_bytes, raw_target


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


def connection_request(request: HttpRequest) -> WebRequest:
    """What the server says about `request` (method, target, headers, peer), without a route:
    the guard screens it before Django resolves anything, and treats it as unmapped."""
    scope = getattr(request, "scope", None)
    connection = _from_scope(scope) if isinstance(scope, Mapping) else _from_environ(request.META)
    described = WebRequest(path=request.path_info, native=request, **connection)
    described.prime_header_map(group_headers(described.headers))
    return described


def with_route(base: WebRequest, request: HttpRequest, *, declared: tuple[RouteRule, ...] | None = None,
               public_namespaces: frozenset[str] = frozenset()) -> WebRequest:
    """`base` completed with Django's resolver result for `request`."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return base.replaced(path=request.path_info)
    view_class = getattr(match.func, "view_class", None)
    if declared is None:
        is_public = bool(public_namespaces.intersection(match.namespaces))
        declared = declared_rules(match.func, base.method, public_namespace=is_public)
    return base.replaced(path=request.path_info, route=route_template(match.route),
                         path_params=dict(match.captured_kwargs), declared=declared,
                         allow=", ".join(class_methods(view_class)) if view_class is not None else None)


def web_request(request: HttpRequest, *, routed: bool = True, declared: tuple[RouteRule, ...] | None = None,
                public_namespaces: frozenset[str] = frozenset()) -> WebRequest:
    """The neutral description of `request`. With `routed=False` (before resolving, or when
    nothing matched) it carries no route, which the guard treats as unmapped."""
    base = connection_request(request)
    if not routed:
        return base
    return with_route(base, request, declared=declared, public_namespaces=public_namespaces)


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
