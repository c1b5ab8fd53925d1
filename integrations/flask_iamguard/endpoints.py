"""The token endpoints (exchange, role assumption, step-up) as a Flask blueprint.

The handlers are the framework-neutral ones in `iamguard.web.endpoints`; this module only reads
the body (at most 16 KiB) and the TCP peer (`REMOTE_ADDR` as the server set it, before any
`ProxyFix` rewrite: the per-source limit applies the guard's own trusted proxies) and turns their
`WebResponse` into a Flask response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response, request

from flask_iamguard.adapter import flask_response
from iamguard.web import WebResponse, attach_rule, public
from iamguard.web.endpoints import ALLOWED_METHODS, MAX_BODY, AuthEndpoints
from iamguard.web.network import TrustedProxies
from iamguard.web.throttle import DEFAULT_SOURCE_LIMIT, SourceLimit
from iamguard.web.wsgi import environ_headers, peer_and_scheme

Handler = Callable[..., WebResponse]  # (headers, body, peer, *, scheme): an AuthEndpoints handler


def _bounded_body(limit: int) -> bytes | None:
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


def _view(handler: Handler, endpoints: AuthEndpoints, name: str) -> Callable[[], Response]:
    def run() -> Response:
        body = _bounded_body(MAX_BODY)
        peer, scheme = peer_and_scheme(request.environ)
        if body is None:
            return flask_response(endpoints.too_large(environ_headers(request.environ), peer, scheme=scheme,
                                                      endpoint=name))
        return flask_response(handler(environ_headers(request.environ), body, peer, scheme=scheme))

    run.__name__ = handler.__name__
    return run


def auth_blueprint(credentials: Any, *, name: str = "iamguard_auth", url_prefix: str = "/auth",
                   source_limit: SourceLimit | None = DEFAULT_SOURCE_LIMIT,
                   trusted_proxies: Sequence[str] | TrustedProxies = ()) -> Blueprint:
    """`POST {url_prefix}/token`, `/assume-role` and `/step-up`, public (they authenticate the
    caller themselves): `app.register_blueprint(auth_blueprint(credentials))`. Pass the guard's
    `trusted_proxies` so the per-source limit counts the same client address."""
    handlers = AuthEndpoints(credentials, source_limit=source_limit, trusted_proxies=trusted_proxies)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    # POST only, OPTIONS included: every other method is 405 with `Allow: POST`, as from the
    # Starlette and Django endpoints (Flask would otherwise answer OPTIONS itself).
    for rule_path, endpoint, handler in (("/token", "token", handlers.token),
                                         ("/assume-role", "assume_role", handlers.assume_role),
                                         ("/step-up", "step_up", handlers.step_up)):
        blueprint.add_url_rule(rule_path, endpoint, _view(handler, handlers, rule_path[1:]), methods=[ALLOWED_METHODS],
                               provide_automatic_options=False)
    attach_rule(blueprint, public(methods="POST"))
    return blueprint
