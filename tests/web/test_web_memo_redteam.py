"""Red-team regressions for the VerdictMemo through the ASGI middleware: places where a recalled
allow differed from what deciding anew gives (spec CACHE-04/05, JWT expiry, MAP-11).

- a route map put in place of the guard's (`guard.routes = RouteMap(...)`, supported by the
  guard) started at the same version number as the old one, so the old allow was recalled;
- the handler's `IamContext.path_params` was one dict shared by every recall of an entry, so one
  handler's change showed in the next request's context: now read-only, for every request;
- a fractional `leeway_seconds` expired tokens in the middle of a second, inside a remembered
  allow's second: now refused by the configuration (whole seconds only).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.credentials.config import CredentialsConfig
from iamguard.credentials.errors import ConfigurationError
from iamguard.web import Guard, rule
from iamguard.web.routes import RouteMap
from tests.credentials.conftest import Env, build_env
from tests.web.asgi_support import RawResponse, call_raw
from tests.web.memo_support import ORDER, TENANT, DenialsOnly, session_tokens


class App:
    """A Starlette app behind the middleware; its handler keeps each request's path parameters as
    it received them and then tries to change them (as a careless handler might)."""

    def __init__(self, env: Env, *, reuse: bool) -> None:
        self.guard = Guard(env.creds, tenant=TENANT, audit=DenialsOnly(), clock=env.clock, reuse_allows=reuse,
                           routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
        self.seen: list[dict[str, Any]] = []
        self.changes_refused = 0

        async def get_order(request: Request) -> Response:
            iam = request.state.iam
            self.seen.append({"action": iam.action, "path_params": dict(iam.path_params)})
            try:
                iam.path_params["order_id"] = "999"
            except TypeError:  # read-only: they are what went into the resource
                self.changes_refused += 1
            return JSONResponse({"order": request.path_params["order_id"]})

        self.app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"])],
                             middleware=[Iam(self.guard).middleware()])

    def get(self, token: str) -> RawResponse:
        return asyncio.run(call_raw(self.app, "GET", b"/orders/1", [("authorization", f"Bearer {token}")],
                                    client=("192.0.2.10", 5000)))


@pytest.fixture
def env(tmp_path: Path) -> tuple[Env, dict[str, str]]:
    built = build_env("memory", tmp_path)
    return built, session_tokens(built)


@pytest.mark.parametrize("reuse", [True, False])
def test_a_route_map_put_in_place_of_the_guard_s_decides_again(env: tuple[Env, dict[str, str]],
                                                               reuse: bool) -> None:
    built, tokens = env
    app = App(built, reuse=reuse)
    assert app.get(tokens["alice"]).status == 200
    # The same number of rules, so the same count of adds: alice may not ListAll.
    app.guard.routes = RouteMap([rule("orders:ListAll", ORDER, methods="GET", path="/orders/{order_id}")])
    assert app.get(tokens["alice"]).status == 403
    assert [seen["action"] for seen in app.seen] == ["orders:GetOrder"]


@pytest.mark.parametrize("reuse", [True, False])
def test_each_request_gets_path_params_of_its_own(env: tuple[Env, dict[str, str]], reuse: bool) -> None:
    built, tokens = env
    app = App(built, reuse=reuse)
    assert [app.get(tokens["alice"]).status for _ in range(3)] == [200, 200, 200]
    assert [seen["path_params"] for seen in app.seen] == [{"order_id": "1"}] * 3
    assert app.changes_refused == 3


@pytest.mark.parametrize("leeway", [0.5, 29.9, 1e-9, True, "30", None])
def test_the_token_leeway_is_whole_seconds(leeway: Any) -> None:
    with pytest.raises(ConfigurationError, match="whole number of seconds"):
        CredentialsConfig(leeway_seconds=leeway)


@pytest.mark.parametrize("leeway", [0, 30, 60])
def test_whole_second_leeways_are_accepted(leeway: int) -> None:
    assert CredentialsConfig(leeway_seconds=leeway).leeway_seconds == leeway


def test_a_token_expires_at_a_second_s_start_for_the_memo_too(env: tuple[Env, dict[str, str]]) -> None:
    built, tokens = env
    app = App(built, reuse=True)
    leeway = built.creds.config.leeway_seconds
    expires = built.creds.authenticate(tokens["alice"]).expires_at.timestamp() + leeway
    built.clock.advance(expires - 0.3 - built.clock.time())
    assert app.get(tokens["alice"]).status == app.get(tokens["alice"]).status == 200
    built.clock.advance(0.3)  # the first instant the token is expired: a new second
    assert app.get(tokens["alice"]).status == 401


def test_a_scope_without_headers_is_decided_not_a_crash(env: tuple[Env, dict[str, str]]) -> None:
    built, _ = env
    app = App(built, reuse=True)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/orders/1", "raw_path": b"/orders/1", "query_string": b"",
             "scheme": "http", "client": ("192.0.2.10", 5000), "server": ("test", 80), "root_path": ""}
    asyncio.run(app.app(scope, receive, send))
    assert sent[0]["status"] == 401 and app.seen == []
