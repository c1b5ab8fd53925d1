"""The same RFC-correct answers from the Starlette, Flask and Django adapters, each through its
framework's real test client: `Allow` on every 405 (protected routes and the auth endpoints),
a challenge on every 401, 403 for refused body credentials, Django screening a request once,
and Flask's host-matched routes flagged when one route-map rule would cover several hosts.

This module is also the URLconf of its Django tests (`urlpatterns`, filled by a fixture)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import include, path
from django_iamguard.endpoints import auth_urlpatterns
from flask import Flask
from flask_iamguard import IamGuard, auth_blueprint
from starlette.routing import Mount

from examples.common import Seeded, open_store, seed
from iamguard.asgi import auth_routes
from iamguard.clock import FrozenClock
from iamguard.web import Guard, public
from tests.integrations import django_urls
from tests.integrations.apps import flask_app, starlette_app
from tests.integrations.support import Calls, stub_guard
from tests.web.stubs import counting_screens

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

URLCONF = __name__
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_iamguard.middleware.IamGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
urlpatterns: list[Any] = []  # Django's URLconf for this module's tests: see `seeded`

Answer = tuple[int, dict[str, str], bytes]
Send = Callable[[str, str, dict[str, str], "dict[str, str] | None"], Answer]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    shop = seed(tmp_path_factory.mktemp("answers") / "shop.db", clock=FrozenClock())
    yield shop


@pytest.fixture(scope="module")
def senders(seeded: Seeded) -> dict[str, Send]:
    """One sender per adapter; each app mounts the auth endpoints at /auth next to the stub
    service's routes (tests/integrations/apps.py, django_urls.py)."""
    _, credentials = open_store(seeded.path, clock=FrozenClock())
    guard = stub_guard()[0]
    calls = Calls()

    app = starlette_app(guard, calls)
    app.router.routes.append(Mount("/auth", routes=auth_routes(credentials)))
    starlette_client = TestClient(app)

    flask = flask_app(guard, calls)[0]
    flask.register_blueprint(auth_blueprint(credentials))
    flask_client = flask.test_client()

    urlpatterns[:] = [path("auth/", include(auth_urlpatterns(credentials))), *django_urls.urlpatterns]

    def via_starlette(method: str, target: str, headers: dict[str, str], body: dict[str, str] | None) -> Answer:
        response = starlette_client.request(method, target, headers=headers, json=body)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    def via_flask(method: str, target: str, headers: dict[str, str], body: dict[str, str] | None) -> Answer:
        response = flask_client.open(target, method=method, headers=headers, json=body)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data()

    def via_django(method: str, target: str, headers: dict[str, str], body: dict[str, str] | None) -> Answer:
        with override_settings(ROOT_URLCONF=URLCONF, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
            response = Client().generic(method, target, json.dumps(body) if body is not None else "",
                                        content_type="application/json", headers=headers)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    return {"starlette": via_starlette, "flask": via_flask, "django": via_django}


def _comparable(answer: Answer) -> tuple[int, str | None, str | None, bytes]:
    status, headers, body = answer
    return status, headers.get("allow"), headers.get("www-authenticate"), body


# ---- the auth endpoints answer alike everywhere ------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
@pytest.mark.parametrize("endpoint", ["/auth/token", "/auth/step-up"])
def test_auth_endpoints_answer_405_with_allow_post_in_every_adapter(senders: dict[str, Send], method: str,
                                                                    endpoint: str) -> None:
    expected_body = b"" if method == "HEAD" else b'{"error":"MethodNotAllowed"}'
    for adapter, send in senders.items():
        status, headers, body = send(method, endpoint, {}, None)
        assert (adapter, status, headers.get("allow"), body) == (adapter, 405, "POST", expected_body)


def _refusals(seeded: Seeded) -> list[tuple[str, str, dict[str, str], dict[str, str], int, str | None]]:
    reader = seeded.users["reader"]
    return [
        ("wrong password", "/auth/token", {}, {"user_name": "reader", "password": "not-the-password"}, 403, None),
        ("wrong access key secret", "/auth/token", {},
         {"access_key_id": reader.access_key_id, "secret_access_key": "x" * 40}, 403, None),
        ("step-up without a token", "/auth/step-up", {}, {"mfa_code": "123456"}, 401, "Bearer"),
        ("step-up with a forged token", "/auth/step-up", {"authorization": "Bearer x.y.z"},
         {"mfa_code": "123456"}, 401, 'Bearer error="invalid_token"'),
    ]


def test_refused_credentials_get_the_same_answer_from_every_adapter(senders: dict[str, Send],
                                                                     seeded: Seeded) -> None:
    for name, endpoint, headers, body, status, challenge in _refusals(seeded):
        answers = {adapter: _comparable(send("POST", endpoint, headers, body)) for adapter, send in senders.items()}
        assert len(set(answers.values())) == 1, (name, answers)
        got_status, _, got_challenge, _ = answers["starlette"]
        assert got_status == status, name
        assert (got_challenge or "").startswith(challenge or "") and (got_challenge is None) == (challenge is None)


def test_unknown_user_and_wrong_password_are_indistinguishable_everywhere(senders: dict[str, Send]) -> None:
    for adapter, send in senders.items():
        wrong = send("POST", "/auth/token", {}, {"user_name": "admin", "password": "not-the-password"})
        unknown = send("POST", "/auth/token", {}, {"user_name": "nobody-here", "password": "not-the-password"})
        assert _comparable(wrong) == _comparable(unknown), adapter
        assert wrong[0] == 403 and json.loads(wrong[2])["error"] == "AuthenticationFailed"


# ---- protected routes: 405 lists the route's methods -------------------------------------------

ROUTE_CASES = [
    ("starlette", "PUT", "/orders/1", "DELETE, GET, HEAD"),
    ("starlette", "TRACE", "/orders/1", "DELETE, GET, HEAD"),
    ("starlette", "TRACE", "/nowhere", ""),
    ("flask", "PUT", "/orders/1", "DELETE, GET, HEAD, OPTIONS"),
    ("flask", "TRACE", "/orders/1", "DELETE, GET, HEAD, OPTIONS"),
    ("flask", "TRACE", "/nowhere", ""),
    ("django", "TRACE", "/orders/1", "DELETE, GET, HEAD"),  # a function view: its rules and the route map
    ("django", "TRACE", "/orders/1/lines", "GET, HEAD, OPTIONS, POST"),  # a class-based view: its handlers
    ("django", "TRACE", "/auth/token", "POST"),
    ("django", "TRACE", "/nowhere", ""),
]


@pytest.mark.parametrize(("adapter", "method", "target", "allow"), ROUTE_CASES)
def test_every_405_lists_the_route_methods(senders: dict[str, Send], adapter: str, method: str, target: str,
                                           allow: str) -> None:
    status, headers, body = senders[adapter](method, target, {"authorization": "Bearer reader"}, None)
    assert (status, headers.get("allow"), json.loads(body)) == (405, allow, {"error": "MethodNotAllowed"})


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_django_decorators_without_the_middleware_list_the_methods_too(client_class: type) -> None:
    guard = stub_guard()[0]
    stack = ["django.middleware.common.CommonMiddleware"]
    with override_settings(ROOT_URLCONF="tests.integrations.django_urls", MIDDLEWARE=stack, IAMGUARD={"GUARD": guard}):
        client = client_class()
        response = client.generic("TRACE", "/orders/1", headers={"authorization": "Bearer reader"})
        if client_class is AsyncClient:
            import asyncio

            response = asyncio.run(response)
    assert (response.status_code, response.headers.get("allow")) == (405, "DELETE, GET, HEAD")


# ---- Django screens each request once ----------------------------------------------------------


class RewritePath:
    """A later middleware that changes the path after iamguard screened it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/orders/1":
            request.path_info = "/orders/1;x"
        return self.get_response(request)


def test_django_screens_a_request_once() -> None:
    guard = stub_guard()[0]
    seen = counting_screens(guard)
    with override_settings(ROOT_URLCONF="tests.integrations.django_urls", MIDDLEWARE=MIDDLEWARE,
                           IAMGUARD={"GUARD": guard}):
        response = Client().get("/orders/1", headers={"authorization": "Bearer reader"})
    assert response.status_code == 200 and response.json()["received"] == {"order_id": "1"}
    assert seen == ["/orders/1"]


def test_a_path_changed_after_screening_is_screened_again() -> None:
    guard = stub_guard()[0]
    seen = counting_screens(guard)
    stack = [*MIDDLEWARE, f"{__name__}.RewritePath"]
    with override_settings(ROOT_URLCONF="tests.integrations.django_urls", MIDDLEWARE=stack, IAMGUARD={"GUARD": guard}):
        response = Client().get("/orders/1", headers={"authorization": "Bearer reader"})
    assert seen == ["/orders/1", "/orders/1;x"]
    assert response.status_code == 400  # the new path holds a ';': refused, the view never ran


# ---- Flask host matching -----------------------------------------------------------------------

def _hosted_flask(guard: Guard) -> tuple[Flask, IamGuard]:
    app = Flask("hosted", host_matching=True, static_folder=None)
    iam = IamGuard(app, guard=guard)
    app.add_url_rule("/status", "a_status", lambda: "a", host="a.example")
    app.add_url_rule("/status", "b_status", lambda: "b", host="b.example")
    return app, iam


def test_flask_route_map_rule_shared_by_two_hosts_is_flagged() -> None:
    guard = stub_guard(routes=[public(methods="GET", path="/status")])[0]
    app, iam = _hosted_flask(guard)
    flagged = [report for report in iam.report(app) if report.method == "GET"]
    assert sorted(report.host or "" for report in flagged) == ["a.example", "b.example"]
    assert all((report.problem or "").startswith("ambiguous") for report in flagged)


def test_flask_rules_on_each_hosts_view_are_not_ambiguous() -> None:
    guard = stub_guard(routes=[public(methods="GET", path="/health")])[0]
    app, iam = _hosted_flask(guard)
    iam.public(app.view_functions["a_status"])
    iam.public(app.view_functions["b_status"])
    assert all(report.ok for report in iam.report(app) if report.path == "/status")
    assert app.test_client().get("/status", headers={"host": "b.example"}).get_data() == b"b"

