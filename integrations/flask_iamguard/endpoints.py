"""The token endpoints (exchange, role assumption, step-up) as a Flask blueprint.

The handlers are the framework-neutral ones in `iamguard.web.endpoints`; this module only reads
the body (at most 16 KiB) and turns their `WebResponse` into a Flask response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response, request

from flask_iamguard.adapter import flask_response
from iamguard.web import WebResponse, attach_rule, public
from iamguard.web.endpoints import ALLOWED_METHODS, MAX_BODY, AuthEndpoints
from iamguard.web.responses import json_response
from iamguard.web.wsgi import environ_headers

Handler = Callable[[Sequence[tuple[str, str]], bytes], WebResponse]


def _bounded_body(limit: int) -> bytes | None:
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


def _view(handler: Handler) -> Callable[[], Response]:
    def run() -> Response:
        body = _bounded_body(MAX_BODY)
        if body is None:
            return flask_response(json_response(413, {"error": "PayloadTooLarge"}))
        return flask_response(handler(environ_headers(request.environ), body))

    run.__name__ = handler.__name__
    return run


def auth_blueprint(credentials: Any, *, name: str = "iamguard_auth", url_prefix: str = "/auth") -> Blueprint:
    """`POST {url_prefix}/token`, `/assume-role` and `/step-up`, public (they authenticate the
    caller themselves): `app.register_blueprint(auth_blueprint(credentials))`."""
    handlers = AuthEndpoints(credentials)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    # POST only, OPTIONS included: every other method is 405 with `Allow: POST`, as from the
    # Starlette and Django endpoints (Flask would otherwise answer OPTIONS itself).
    for rule_path, endpoint, handler in (("/token", "token", handlers.token),
                                         ("/assume-role", "assume_role", handlers.assume_role),
                                         ("/step-up", "step_up", handlers.step_up)):
        blueprint.add_url_rule(rule_path, endpoint, _view(handler), methods=[ALLOWED_METHODS],
                               provide_automatic_options=False)
    attach_rule(blueprint, public(methods="POST"))
    return blueprint
