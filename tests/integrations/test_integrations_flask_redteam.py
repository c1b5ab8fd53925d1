"""Red-team regressions for flask_iamguard and the ASGI middleware: a decision belongs to one
request even when Flask reuses the app context (and so `g`) across requests (CACHE-05), and a
response allowed for a named principal is marked `Cache-Control: private` by every adapter, as
django_iamguard does (CACHE-01)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, abort, g, jsonify, stream_with_context
from flask_iamguard import IamGuard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.web import public
from tests.integrations.apps import flask_app
from tests.integrations.support import ORDER, READER, Calls, stub_guard
from tests.web.stubs import ALICE

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# ---- CACHE-05: `g` outlives a request while an app context is pushed --------------------------


@pytest.mark.parametrize("hook", [True, False], ids=["hook", "decorators-alone"])
def test_a_previous_requests_decision_is_never_reused_in_a_shared_app_context(hook: bool) -> None:
    guard, _, _ = stub_guard()
    calls = Calls()
    app, _ = flask_app(guard, calls, hook=hook)
    client = app.test_client()
    # `app.app_context().push()` at import time (a common fix for "working outside of application
    # context") or a test fixture: every request then shares one app context and one `g`.
    with app.app_context():
        assert client.get("/orders/1", headers=dict(READER)).json["principal"] == ALICE
        assert client.get("/orders/1").status_code == 401
    assert calls.names == ["get_order"]


def test_a_blueprint_without_the_hook_decides_every_request_in_a_shared_app_context() -> None:
    guard, _, _ = stub_guard()
    iam = IamGuard(guard=guard)  # never initialised on the app: the blueprint decides
    app = Flask("shared_bp", static_folder=None)
    shop = Blueprint("shop", "shop", url_prefix="/shop")
    iam.require("orders:GetOrder", ORDER, methods="GET")(shop)
    shop.add_url_rule("/<order_id>", "read", lambda order_id: jsonify({"principal": g.iam.principal}))
    app.register_blueprint(shop)
    client = app.test_client()
    with app.app_context():
        assert client.get("/shop/1", headers=dict(READER)).json == {"principal": ALICE}
        assert client.get("/shop/1").status_code == 401


def test_handlers_of_unrouted_requests_never_see_a_previous_principal() -> None:
    guard, _, _ = stub_guard()
    app, _ = flask_app(guard, Calls())

    @app.errorhandler(404)
    def not_found(error: Exception) -> Any:
        iam = g.get("iam")
        return jsonify({"principal": iam.principal if iam is not None else None}), 404

    client = app.test_client()
    with app.app_context():
        assert client.get("/orders/1", headers=dict(READER)).status_code == 200
        assert client.get("/missing").json == {"principal": None}


# ---- CACHE-01: allowed responses for a principal are private, in Flask ------------------------


def _flask_cache_app(*, hook: bool = True) -> Flask:
    guard, _, _ = stub_guard(routes=[public(methods="GET", path="/health")], cookie_name="sid")
    app = Flask("cache", static_folder=None)
    iam = IamGuard(app, guard=guard) if hook else IamGuard(guard=guard)
    require = iam.require("orders:GetOrder", ORDER, methods="GET")

    app.add_url_rule("/orders/<order_id>", "plain", require(lambda order_id: jsonify({"id": order_id})))
    app.add_url_rule("/own/<order_id>", "own", require(
        lambda order_id: Response("x", headers={"Cache-Control": "no-store"})))

    def streamed(order_id: str) -> Response:
        def chunks() -> Iterator[str]:
            yield "a"
            yield order_id
        return Response(stream_with_context(chunks()))

    app.add_url_rule("/stream/<order_id>", "stream", require(streamed))

    def gone(order_id: str) -> Response:
        abort(410)

    app.add_url_rule("/gone/<order_id>", "gone", require(gone))
    app.add_url_rule("/health", "health", lambda: jsonify({"ok": True}))
    return app


COOKIE = (("cookie", "sid=reader"),)
FLASK_CACHE = [
    # (path, credential, status, Cache-Control)
    ("/orders/1", COOKIE, 200, "private"),
    ("/stream/1", COOKIE, 200, "private"),
    ("/gone/1", COOKIE, 410, "private"),  # abort() after an allow: still that principal's answer
    ("/own/1", COOKIE, 200, "no-store"),  # the app's own Cache-Control is kept
    ("/orders/1", READER, 200, None),  # Bearer: shared caches never reuse it (RFC 9111 3.5)
    ("/health", (), 200, None),  # public: the anonymous principal, cacheable as the app says
]


@pytest.mark.parametrize("hook", [True, False], ids=["hook", "decorators-alone"])
@pytest.mark.parametrize(("path", "credential", "status", "cache_control"), FLASK_CACHE,
                         ids=[f"{row[0]}-{row[1][0][0] if row[1] else 'none'}" for row in FLASK_CACHE])
def test_flask_marks_responses_allowed_for_a_cookie_principal_private(
        hook: bool, path: str, credential: tuple[tuple[str, str], ...], status: int,
        cache_control: str | None) -> None:
    client = _flask_cache_app(hook=hook).test_client()
    headers = dict(credential)
    if "cookie" in headers:  # through the client's cookie jar, as a browser would send it
        name, _, value = headers.pop("cookie").partition("=")
        client.set_cookie(name, value)
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers.get("Cache-Control") == cache_control


# ---- CACHE-01: the same through the pure ASGI middleware --------------------------------------


def _starlette_cache_app() -> Starlette:
    guard, _, _ = stub_guard(routes=[public(methods="GET", path="/health")])
    iam = Iam(guard)

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["order_id"])

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def own(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Cache-Control": "no-store"})

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/orders/{order_id}", plain), Route("/own/{order_id}", own),
                             Route("/health", health)], middleware=[iam.middleware()])


ASGI_CACHE = [
    ("/orders/1", True, 200, "private"),
    ("/own/1", True, 200, "no-store"),
    ("/health", False, 200, None),
    ("/orders/1", False, 401, "no-store"),  # the guard's own denial keeps its own header
]


@pytest.mark.parametrize(("path", "authenticated", "status", "cache_control"), ASGI_CACHE,
                         ids=[f"{row[0]}-{row[1]}" for row in ASGI_CACHE])
def test_the_asgi_middleware_marks_responses_allowed_for_a_principal_private(
        path: str, authenticated: bool, status: int, cache_control: str | None) -> None:
    with TestClient(_starlette_cache_app()) as client:
        response = client.get(path, headers=dict(READER) if authenticated else {})
    assert response.status_code == status
    assert response.headers.get("cache-control") == cache_control
    assert len(response.headers.get_list("cache-control")) == (0 if cache_control is None else 1)
