"""Red-team round 6 regressions for the Flask and Django adapters.

- Flask screened `request.path`, which Werkzeug strips of its leading slashes ("//admin" is
  "/admin" there, and its router matches it so too): without a raw target from the server
  (`RAW_URI`/`REQUEST_URI`), an empty leading segment was never refused (spec MAP-05).
- Django's `ResolverMatch.captured_kwargs` leaves out what an `include()` prefix captured, and a
  `path(..., kwargs)` default replaces a captured value in what the view receives: the resource
  named other values than the view acted on (spec MAP-01), so a tenant in an include prefix
  slipped past the guard's fixed `{tenant}`, and a default value was authorized as the URL's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse
from django.test import override_settings
from django.urls import include, path

from iamguard.web import rule
from tests.integrations.apps import flask_app
from tests.integrations.support import ORDER, READER, Calls, bearer, configure_django, stub_guard, wsgi_environ
from tests.web.asgi_support import call_raw

configure_django()

URLS = __name__  # this module is the URLconf of the Django tests below
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django_iamguard.middleware.IamGuardMiddleware"]
SEEN: list[dict[str, Any]] = []  # what the Django view was called with


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


def _view(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    SEEN.append(dict(kwargs))
    iam = getattr(request, "iam", None)
    return JsonResponse({"resource": iam.resource if iam is not None else None})


urlpatterns = [
    path("t/<tenant>/", include([path("orders/<order_id>", _view)])),
    path("shops/<shop>/", include([path("orders/<order_id>", _view)])),
    path("d/<order_id>", _view, {"order_id": "8"}),
]
SHOP_ORDER = "arn:app:orders::{tenant}:order/{shop}/{order_id}"
DJANGO_ROUTES = [
    rule("orders:GetOrder", ORDER, methods="GET", path="/t/{tenant}/orders/{order_id}"),
    rule("orders:GetOrder", SHOP_ORDER, methods="GET", path="/shops/{shop}/orders/{order_id}"),
    rule("orders:GetOrder", ORDER, methods="GET", path="/d/{order_id}"),
]


def _wsgi(app: Any, method: str, target: bytes, headers: Iterable[tuple[str, str]], *, raw: bool) -> tuple[int, bytes]:
    environ = wsgi_environ(method, target, headers)
    if not raw:  # servers such as wsgiref give the decoded PATH_INFO only
        del environ["RAW_URI"]
    captured: dict[str, int] = {}

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return captured["status"], body


@pytest.mark.parametrize("raw", [True, False], ids=["raw-target", "no-raw-target"])
@pytest.mark.parametrize(("target", "status", "handlers"), [
    (b"//orders/7", 400, []),
    (b"///orders/7", 400, []),
    (b"//admin", 400, []),
    (b"//health", 400, []),
    (b"/orders/7", 200, ["get_order"]),  # the plain path still reaches the view
    (b"/health", 200, []),
])
def test_flask_refuses_leading_empty_segments_with_or_without_a_raw_target(
        raw: bool, target: bytes, status: int, handlers: list[str]) -> None:
    calls = Calls()
    guard, _, _ = stub_guard()
    app, _ = flask_app(guard, calls)
    got, body = _wsgi(app, "GET", target, READER, raw=raw)
    assert (got, calls.names) == (status, handlers), body[:200]


def _django(kind: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> tuple[int, bytes]:
    guard, _, _ = stub_guard(routes=DJANGO_ROUTES)
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
        if kind == "wsgi":
            return _wsgi(WSGIHandler(), "GET", target, headers, raw=True)
        answer = asyncio.run(call_raw(ASGIHandler(), "GET", target, headers))
        return answer.status, answer.body


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize(("target", "token", "status", "seen", "resource"), [
    # An include prefix's <tenant> is a path parameter like any other: it clashes with the
    # guard's fixed {tenant} (denied), as in Flask and Starlette, rather than being ignored.
    (b"/t/999999999999/orders/7", "reader", 403, [], None),
    # An include prefix's parameter fills the resource template (it was missing: always 403).
    (b"/shops/north/orders/7", "reader", 200, [{"shop": "north", "order_id": "7"}],
     "arn:app:orders::123456789012:order/north/7"),
    # The view receives the default "8", so "8" is what is authorized: "seven" may read 7 only.
    (b"/d/7", "seven", 403, [], None),
    (b"/d/7", "reader", 200, [{"order_id": "8"}], "arn:app:orders::123456789012:order/8"),
])
def test_django_authorizes_the_parameters_the_view_receives(
        kind: str, target: bytes, token: str, status: int, seen: list[dict[str, Any]], resource: str | None) -> None:
    SEEN.clear()
    got, body = _django(kind, target, bearer(token))
    assert (got, SEEN) == (status, seen), body[:200]
    if resource is not None:
        assert body == b'{"resource": "' + resource.encode() + b'"}'
