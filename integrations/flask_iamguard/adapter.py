"""Turning a Flask request into the guard's `WebRequest`, and a `WebResponse` into a Flask one.

The route and its parameters are Werkzeug's routing result for this request (`request.url_rule`,
`request.view_args`, after URL value preprocessors, exactly what the view will be called with);
the method is the one the client sent (Werkzeug upper-cases it, the guard refuses anything that
was not upper case already, spec MAP-12).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from flask import Flask, Request, Response

from flask_iamguard.routing import blueprint_chain, declared_rules, route_template
from iamguard.web import RouteRule, WebRequest, WebResponse
from iamguard.web.request import group_headers
from iamguard.web.target import DEFAULT_METHODS
from iamguard.web.wsgi import environ_headers, environ_key, peer_and_scheme, query_bytes, raw_target

# What one (rule, method) means to the guard, remembered per app: Werkzeug's rules and Flask's
# view functions do not change once an app serves requests. Entries keep the rule and view they
# were computed for and are used only for those very objects.
RouteCache = MutableMapping[tuple[int, str], tuple[Any, Any, str, str, tuple[RouteRule, ...]]]


def sent_method(request: Request) -> str:
    method = request.environ.get("REQUEST_METHOD")
    return method if isinstance(method, str) else request.method


def routed_path(request: Request) -> str:
    """The decoded path as Werkzeug's router reads it (`PATH_INFO`, decoded as Werkzeug decodes
    it), for screening. Not `request.path`: Werkzeug strips its leading slashes ("//admin" is
    "/admin" there, and the router matches it so too), which would hide an empty segment from the
    screen whenever the server gives no raw target (spec MAP-05)."""
    info = request.environ.get("PATH_INFO")
    if not isinstance(info, str) or not info:
        return request.path  # "/", as Werkzeug reads an empty PATH_INFO
    return info.encode("latin-1", "replace").decode("utf-8", "replace")


def _route_facts(url_rule: Any, app: Flask, method: str, cache: RouteCache | None
                 ) -> tuple[str, str, tuple[RouteRule, ...]]:
    view = app.view_functions.get(url_rule.endpoint)
    key = (id(url_rule), method)
    cached = cache.get(key) if cache is not None else None
    if cached is not None and cached[0] is url_rule and cached[1] is view:
        return cached[2], cached[3], cached[4]
    route = route_template(url_rule.rule)
    allow = ", ".join(sorted(url_rule.methods or ()))
    declared = declared_rules(view, method, blueprint_chain(app, url_rule.endpoint))
    if cache is not None and method in DEFAULT_METHODS:  # a client's made-up methods are not remembered
        cache[key] = (url_rule, view, route, allow, declared)
    return route, allow, declared


def web_request(request: Request, app: Flask | None, *, routed: bool = True,
                declared: tuple[RouteRule, ...] | None = None, cache: RouteCache | None = None) -> WebRequest:
    """The neutral description of `request` (the request object itself, not Flask's proxy).
    With `routed=False` (Werkzeug matched no rule) it carries no route, which the guard treats as
    unmapped; `declared` replaces the rules the endpoint declares."""
    environ = request.environ
    peer, scheme = peer_and_scheme(environ)
    method = sent_method(request)
    url_rule = request.url_rule if routed else None
    route: str | None = None
    params: Mapping[str, Any] = {}
    allow: str | None = None
    if url_rule is not None:
        assert app is not None
        route, allow, found = _route_facts(url_rule, app, method, cache)
        # None (a Werkzeug default, or a URL value preprocessor's) is no value: placed in a
        # resource it would be the text "None", an ARN the view never acts on (spec MAP-01).
        params = {name: value for name, value in (request.view_args or {}).items() if value is not None}
        if declared is None:
            declared = found
    headers = environ_headers(environ)
    described = WebRequest(
        method=method,
        path=routed_path(request),
        raw_path=raw_target(environ),
        query_string=query_bytes(environ),
        headers=headers,
        client=peer,
        scheme=scheme,
        route=route,
        path_params=params,
        declared=declared or (),
        allow=allow,
        native=request,
    )
    described.prime_header_map(group_headers(headers))
    return described


def request_key(request: Request) -> tuple[Any, ...] | None:
    """What `web_request` reads, as a VerdictMemo key: the environ's strings and Werkzeug's match
    (the rule by identity: rules live as long as their app, and each app has a memo of its own).
    None for a request Werkzeug did not route."""
    url_rule = request.url_rule
    if url_rule is None:
        return None
    connection = environ_key(request.environ)
    if connection is None:
        return None
    view_args = request.view_args
    return (connection, id(url_rule), tuple(view_args.items()) if view_args else ())


def flask_response(response: WebResponse) -> Response:
    headers = [(name, value) for name, value in response.headers if name != "content-type"]
    content_type = next((value for name, value in response.headers if name == "content-type"), None)
    answer = Response(response.body, status=response.status, headers=headers, content_type=content_type)
    if content_type is None:  # Werkzeug would add text/html to an empty answer
        del answer.headers["Content-Type"]
    return answer
