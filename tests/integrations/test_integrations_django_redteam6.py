"""Red-team round 6 regressions for django_iamguard.

- Django dispatches on `request.method` (View.dispatch, require_http_methods), the guard decided
  on the method the client sent: a middleware honouring a `_method` form field (which screening
  cannot see in the body) ran the DELETE handler of a request authorized as POST, skipping the
  DELETE rule and its MFA condition (spec MAP-13). A rewritten method is now refused with 400.
- A URLconf given as a module (ROOT_URLCONF, or `request.urlconf` set by a middleware), which
  Django's resolver accepts, was passed on as `str(module)`: every request answered 503.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse
from django.test import override_settings
from django.urls import path
from django.views import View
from django_iamguard.decorators import iam_required
from django_iamguard.mixins import IamRequiredMixin

from iamguard.web import rule
from tests.integrations.support import ORDER, bearer, call_wsgi, configure_django, stub_guard

configure_django()

URLS = __name__  # this module is the URLconf of the tests below
SEEN: list[str] = []  # the handlers that ran
FORM = (("content-type", "application/x-www-form-urlencoded"),)
WRITER = bearer("writer")  # may create orders; deleting one needs a fresh MFA


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


class FormOverride:
    """The common method-override middleware: a POST's `_method` form field becomes the method."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if request.method == "POST" and "_method" in request.POST:
            request.method = request.POST["_method"].upper()
        return self.get_response(request)


class LateOverride:
    """The same, done in process_view, after iamguard's own process_view has decided."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        if request.headers.get("x-test-late") == "DELETE":
            request.method = "DELETE"


class ModuleUrlconf:
    """Routes each request with this module object as its URLconf."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        request.urlconf = sys.modules[__name__]
        return self.get_response(request)


class Orders(IamRequiredMixin, View):
    iam_action = {"post": "orders:CreateOrder", "delete": "orders:DeleteOrder"}
    iam_resource = ORDER

    def post(self, request: HttpRequest, order_id: str) -> JsonResponse:
        SEEN.append("post")
        return JsonResponse({})

    def delete(self, request: HttpRequest, order_id: str) -> JsonResponse:
        SEEN.append("delete")
        return JsonResponse({})


@iam_required("orders:CreateOrder", ORDER, methods="POST")
@iam_required("orders:DeleteOrder", ORDER, methods="DELETE")
def decorated(request: HttpRequest, order_id: str) -> JsonResponse:
    SEEN.append(str(request.method).lower())
    return JsonResponse({})


def mapped(request: HttpRequest, order_id: str) -> JsonResponse:
    SEEN.append(str(request.method).lower())
    return JsonResponse({})


@iam_required("orders:GetOrder", ORDER, methods="GET")
def reader(request: HttpRequest, order_id: str) -> JsonResponse:
    SEEN.append("get")
    return JsonResponse({"resource": request.iam.resource})  # type: ignore[attr-defined]


urlpatterns = [
    path("cbv/<order_id>", Orders.as_view()),
    path("decorated/<order_id>", decorated),
    path("mapped/<order_id>", mapped),
    path("read/<order_id>", reader),
]
ROUTES = [
    rule("orders:CreateOrder", ORDER, methods="POST", path="/mapped/{order_id}"),
    rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/mapped/{order_id}"),
]
GUARDED = ["django.middleware.security.SecurityMiddleware", "django_iamguard.middleware.IamGuardMiddleware"]


def _send(kind: str, middleware: list[str], method: str, target: bytes, headers: tuple[tuple[str, str], ...],
          body: bytes = b"", *, urlconf: Any = URLS, **iamguard: Any) -> tuple[int, bytes, list[str]]:
    guard, sink, _ = stub_guard(routes=ROUTES)
    SEEN.clear()
    with override_settings(ROOT_URLCONF=urlconf, MIDDLEWARE=middleware, IAMGUARD={"GUARD": guard, **iamguard}):
        if kind == "wsgi":
            response = call_wsgi(WSGIHandler(), method, target, headers, body=body)
            return response.status, response.body, [record.reason for record in sink.records]
        status, payload = asyncio.run(_asgi(method, target, headers, body))
        return status, payload, [record.reason for record in sink.records]


async def _asgi(method: str, target: bytes, headers: tuple[tuple[str, str], ...], body: bytes) -> tuple[int, bytes]:
    """One request through Django's ASGI handler, with a body (the scope uvicorn builds)."""
    raw_path, _, query = target.partition(b"?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote(raw_path.decode("latin-1")), "raw_path": raw_path, "root_path": "",
             "query_string": query, "client": ("192.0.2.10", 5000), "server": ("testserver", 80),
             "headers": [(name.encode("latin-1"), value.encode("latin-1"))
                         for name, value in (*headers, ("content-length", str(len(body))))]}
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)  # the handler stops listening once it has answered
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGIHandler()(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    return status, b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")


OVERRIDES = [
    # (override middleware, target, extra headers, body)
    ("FormOverride", b"/cbv/7", FORM, b"_method=DELETE"),
    ("FormOverride", b"/decorated/7", FORM, b"_method=DELETE"),
    ("FormOverride", b"/mapped/7", FORM, b"_method=DELETE"),
    # After iamguard's process_view: the mixin and the decorator check the method again.
    ("LateOverride", b"/cbv/7", (("x-test-late", "DELETE"),), b""),
    ("LateOverride", b"/decorated/7", (("x-test-late", "DELETE"),), b""),
]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize(("override", "target", "extra", "body"), OVERRIDES)
def test_a_method_rewritten_after_screening_never_runs_its_handler(
        kind: str, override: str, target: bytes, extra: tuple[tuple[str, str], ...], body: bytes) -> None:
    stack = [*GUARDED, f"{URLS}.{override}"]
    status, payload, reasons = _send(kind, stack, "POST", target, (*WRITER, *extra), body)
    assert (status, SEEN) == (400, []), payload[:200]
    assert b"method overrides are not accepted" in payload
    assert reasons[-1] == "malformed_request"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize(("method", "target", "status", "seen"), [
    ("POST", b"/cbv/7", 200, ["post"]),
    ("POST", b"/decorated/7", 200, ["post"]),
    ("POST", b"/mapped/7", 200, ["post"]),
    ("DELETE", b"/cbv/7", 401, []),  # the DELETE rule still asks for a fresh MFA
])
def test_requests_without_an_override_are_decided_as_before(kind: str, method: str, target: bytes, status: int,
                                                            seen: list[str]) -> None:
    stack = [*GUARDED, f"{URLS}.FormOverride", f"{URLS}.LateOverride"]
    got, payload, _ = _send(kind, stack, method, target, (*WRITER, *FORM), b"a=1")
    assert (got, SEEN) == (status, seen), payload[:200]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize(("where", "strict", "method", "status", "seen"), [
    ("ROOT_URLCONF", False, "GET", 200, ["get"]),
    ("ROOT_URLCONF", True, "GET", 200, ["get"]),
    ("request.urlconf", False, "GET", 200, ["get"]),
    ("request.urlconf", True, "GET", 200, ["get"]),
    ("ROOT_URLCONF", False, "TRACE", 405, []),  # the 405's Allow header resolves the module too
])
def test_a_urlconf_given_as_a_module_is_routed_and_decided(kind: str, where: str, strict: bool, method: str,
                                                          status: int, seen: list[str]) -> None:
    module = sys.modules[__name__]
    stack = [f"{URLS}.ModuleUrlconf", *GUARDED] if where == "request.urlconf" else GUARDED
    urlconf = module if where == "ROOT_URLCONF" else "tests.integrations.django_urls"
    # STRICT holds here: every route of this module has a rule (the route map or a decorator).
    got, payload, _ = _send(kind, stack, method, b"/read/7", bearer("reader"), urlconf=urlconf, STRICT=strict)
    assert (got, SEEN) == (status, seen), payload[:200]
    if status == 200:
        assert payload == b'{"resource": "arn:app:orders::123456789012:order/7"}'


def broken_guard_factory() -> Any:
    """A GUARD factory whose own code fails (settings it reads are missing, a bug)."""
    raise KeyError("ORDERS_TENANT")


def test_a_guard_factory_that_raises_is_a_check_error_not_a_traceback() -> None:
    from django.core import checks

    with override_settings(IAMGUARD={"GUARD": f"{__name__}.broken_guard_factory"}):
        messages = checks.run_checks(tags=["iamguard"])
    assert [message.id for message in messages] == ["iamguard.E001"]
    assert "KeyError" in messages[0].msg and "ORDERS_TENANT" in messages[0].msg
