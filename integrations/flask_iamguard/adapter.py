"""Turning a Flask request into the guard's `WebRequest`, and a `WebResponse` into a Flask one.

The route and its parameters are Werkzeug's routing result for this request (`request.url_rule`,
`request.view_args`, after URL value preprocessors, exactly what the view will be called with);
the method is the one the client sent (Werkzeug upper-cases it, the guard refuses anything that
was not upper case already, spec MAP-12).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response

from flask_iamguard.routing import blueprint_chain, declared_rules, route_template
from iamguard.web import RouteRule, WebRequest, WebResponse
from iamguard.web.wsgi import environ_headers, peer_and_scheme, query_bytes, raw_target


def sent_method(request: Request) -> str:
    method = request.environ.get("REQUEST_METHOD")
    return method if isinstance(method, str) else request.method


def web_request(request: Request, app: Flask | None, *, routed: bool = True,
                declared: tuple[RouteRule, ...] | None = None) -> WebRequest:
    """The neutral description of `request`. With `routed=False` (Werkzeug matched no rule) it
    carries no route, which the guard treats as unmapped."""
    environ = request.environ
    peer, scheme = peer_and_scheme(environ)
    method = sent_method(request)
    url_rule = request.url_rule if routed else None
    route: str | None = None
    params: Mapping[str, Any] = {}
    allow: str | None = None
    if url_rule is not None:
        route = route_template(url_rule.rule)
        params = dict(request.view_args or {})
        allow = ", ".join(sorted(url_rule.methods or ()))
        if declared is None:
            assert app is not None
            view = app.view_functions.get(url_rule.endpoint)
            declared = declared_rules(view, method, blueprint_chain(app, url_rule.endpoint))
    return WebRequest(
        method=method,
        path=request.path,
        raw_path=raw_target(environ),
        query_string=query_bytes(environ),
        headers=environ_headers(environ),
        client=peer,
        scheme=scheme,
        route=route,
        path_params=params,
        declared=declared or (),
        allow=allow,
        native=request,
    )


def flask_response(response: WebResponse) -> Response:
    headers = [(name, value) for name, value in response.headers if name != "content-type"]
    content_type = next((value for name, value in response.headers if name == "content-type"), None)
    answer = Response(response.body, status=response.status, headers=headers, content_type=content_type)
    if content_type is None:  # Werkzeug would add text/html to an empty answer
        del answer.headers["Content-Type"]
    return answer
