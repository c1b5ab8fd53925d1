"""django_iamguard: Django's resolver result decides, for sync and async views, under WSGI and ASGI;
attacks never reach a protected view; every failure denies; checks and the listing flag
unmapped routes."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient, Client, override_settings
from django.views import View
from django_iamguard.mixins import IamRequiredMixin
from django_iamguard.resolvers import user_resolver
from django_iamguard.routing import route_template

from iamguard.audit import MemorySink
from iamguard.web import Login, RouteConfigError
from tests.integrations.django_views import CALLS
from tests.integrations.support import COMMON_ATTACKS, FAULTS, ORDER, READER, bearer, call_wsgi, stub_guard
from tests.web.asgi_support import call_raw
from tests.web.stubs import (
    ALICE,
    ORDER_ARN,
    StubDirectory,
    StubSession,
    standard_authority,
)
from tests.web.stubs import READER as READER_POLICY  # the reader's policy document

SYNC_URLS = "tests.integrations.django_urls"
ASYNC_URLS = "tests.integrations.django_async_urls"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_iamguard.middleware.IamGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
FLAVOURS = pytest.mark.parametrize("urls", [SYNC_URLS, ASYNC_URLS], ids=["sync-views", "async-views"])


@contextmanager
def django_app(urls: str = SYNC_URLS, *, middleware: list[str] | None = None, guard: Any = None,
               **iamguard: Any) -> Iterator[MemorySink]:
    """Settings for one test; the guard is a fresh stub guard unless given."""
    sink = MemorySink()
    if guard is None:
        guard, sink, _ = stub_guard(audit=sink)
    stack = MIDDLEWARE if middleware is None else middleware
    with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=stack, IAMGUARD={"GUARD": guard, **iamguard}):
        CALLS.clear()
        yield sink


class Raw:
    """Send raw request targets the way a server would: WSGI (gunicorn's environ) or ASGI
    (uvicorn's scope), through Django's own handlers."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.handler: Any = WSGIHandler() if kind == "wsgi" else ASGIHandler()

    def __call__(self, method: str, target: bytes, headers: tuple[tuple[str, str], ...] = (), *,
                 client: str = "192.0.2.10") -> tuple[int, dict[str, str], bytes]:
        if self.kind == "wsgi":
            response = call_wsgi(self.handler, method, target, headers, client=client)
            return response.status, response.headers, response.body
        answer = asyncio.run(call_raw(self.handler, method, target, headers, client=(client, 5000)))
        return answer.status, {name.lower(): value for name, value in answer.headers.items()}, answer.body


STACKS = pytest.mark.parametrize(("urls", "kind"), [(SYNC_URLS, "wsgi"), (SYNC_URLS, "asgi"), (ASYNC_URLS, "wsgi"),
                                                    (ASYNC_URLS, "asgi")],
                                 ids=["sync-wsgi", "sync-asgi", "async-wsgi", "async-asgi"])


@pytest.mark.parametrize(("route", "template"), [
    ("orders/<int:order_id>", "/orders/{order_id}"),
    ("orders/<str:order_id>/lines", "/orders/{order_id}/lines"),
    ("p/<path:rest>", "/p/{rest}"),
    ("api/items/(?P<item>[a-z]+)\\.json$", "/api/items/{item}.json"),
    ("^x/orders/<int:pk>/", "/x/orders/{pk}/"),
    ("^re/(?P<code>[0-9]{2,3}(?:-[a-z])?)/$", "/re/{code}/"),
    ("^odd/(?P<name>[()]+)\\Z", "/odd/{name}"),
    ("^raw/([0-9]+)/$", "/raw/([0-9]+)/"),  # unnamed groups keep their regex text
    ("", "/"),
])
def test_route_templates_are_django_patterns_in_iamguard_spelling(route: str, template: str) -> None:
    assert route_template(route) == template


ODD_VALUES = [
    (b"/orders/a*b", "a*b"),
    (b"/orders/x%3Fy", "x?y"),
    (b"/orders/%24%7Baws:username%7D", "${aws:username}"),
    (b"/orders/caf%C3%A9", "caf\u00e9"),
    (b"/orders/%EF%BC%8Fadmin", "\uff0fadmin"),
]


@STACKS
@pytest.mark.parametrize(("target", "value"), ODD_VALUES)
def test_the_view_receives_exactly_the_values_in_the_resource(urls: str, kind: str, target: bytes,
                                                              value: str) -> None:
    import json

    with django_app(urls):
        status, _, body = Raw(kind)("GET", target, READER)
    assert status == 200
    data = json.loads(body)
    assert CALLS.seen == [("get_order", {"order_id": value})]
    assert data["params"] == data["received"] == {"order_id": value}
    assert data["resource"] == f"{ORDER_ARN}/{value}"


ATTACKS: list[tuple[str, bytes, tuple[tuple[str, str], ...], int]] = [
    *COMMON_ATTACKS,
    ("GET", b"/slashed/1", READER, 301),  # CommonMiddleware's APPEND_SLASH redirect: no view, no data
    ("POST", b"/orders/1", READER, 403),  # Django routes every method to a function view: POST is unmapped
    ("GET", b"/handled/8", bearer("seven"), 403),
    ("GET", b"/re/ab.json", READER, 404),
]


@STACKS
@pytest.mark.parametrize(("method", "target", "headers", "status"), ATTACKS,
                         ids=[f"{method} {target!r} {len(headers)}" for method, target, headers, _ in ATTACKS])
def test_attacks_never_reach_a_protected_view(urls: str, kind: str, method: str, target: bytes,
                                              headers: tuple[tuple[str, str], ...], status: int) -> None:
    with django_app(urls) as sink:
        got, response_headers, body = Raw(kind)(method, target, headers)
    assert got == status
    assert CALLS.seen == []
    if status in (400, 401, 403, 405):
        assert sink.records and sink.records[-1].effect == "Deny" and sink.records[-1].status == status
    if status == 301:
        assert response_headers["location"] == target.decode() + "/" and body == b""


@FLAVOURS
def test_the_test_client_without_a_raw_target_still_never_reaches_a_view(urls: str) -> None:
    """Django's test client (like wsgiref) gives no raw target: the decoded path is screened, and
    a decoded %2F is just a different path the resolver routes nowhere."""
    with django_app(urls):
        client = Client()
        assert client.get("/orders/1%2F..%2Fadmin", headers={"authorization": "Bearer reader"}).status_code == 400
        assert client.get("/orders/1%2Fx", headers={"authorization": "Bearer reader"}).status_code == 404
        assert client.get("/orders/%2e%2e/admin", headers={"authorization": "Bearer reader"}).status_code == 400
        assert client.get("/orders/1", headers={"authorization": "Bearer reader"}).status_code == 200
    assert CALLS.names == ["get_order"]


@FLAVOURS
def test_views_classes_and_handlers_under_the_sync_and_async_test_clients(urls: str) -> None:
    async def run_async() -> list[int]:
        client = AsyncClient()
        statuses = []
        for method, path, token in REQUESTS:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = await client.generic(method, path, headers=headers)
            statuses.append(response.status_code)
        return statuses

    expected = [status for *_, status in EXPECTED]
    with django_app(urls):
        client = Client()
        sync_statuses = []
        for method, path, token in REQUESTS:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            sync_statuses.append(client.generic(method, path, headers=headers).status_code)
        sync_calls = list(CALLS.names)
        CALLS.clear()
        async_statuses = asyncio.run(run_async())
        async_calls = list(CALLS.names)
    assert sync_statuses == expected and async_statuses == expected
    assert sync_calls == async_calls == ["get_order", "delete_order", "lines", "add_line", "handled", "get_order",
                                         "files", "slashed"]


EXPECTED: list[tuple[str, str, str | None, int]] = [
    ("GET", "/orders/7", "reader", 200),
    ("GET", "/orders/7", None, 401),
    ("GET", "/orders/8", "seven", 403),
    ("DELETE", "/orders/7", "writer", 401),
    ("DELETE", "/orders/7", "writer-mfa", 200),
    ("GET", "/orders/7/lines", "reader", 200),
    ("POST", "/orders/7/lines", "reader", 403),
    ("POST", "/orders/7/lines", "writer", 200),
    ("GET", "/handled/7", "seven", 200),
    ("GET", "/handled/8", "seven", 403),
    ("GET", "/re/12.json", "reader", 200),
    ("GET", "/files/a/b.pdf", "no-deletes", 200),
    ("GET", "/slashed/9/", "reader", 200),
    ("GET", "/health", None, 200),
    ("GET", "/admin", "reader", 403),
    ("HEAD", "/orders/7", None, 401),
    ("OPTIONS", "/orders/7/lines", None, 204),
]
REQUESTS = [(method, path, token) for method, path, token, _ in EXPECTED]


@FLAVOURS
def test_public_namespaces_and_public_views(urls: str) -> None:
    with django_app(urls):
        client = Client()
        assert client.get("/area/page").status_code == 401  # not listed: needs a mapping like any route
        assert client.get("/area/open").json() == {"area": True, "anonymous": True}
    with django_app(urls, PUBLIC_NAMESPACES=["area"]):
        assert Client().get("/area/page").json() == {"area": True, "anonymous": True}


def test_head_is_authorized_as_get_and_options_never_runs_a_view() -> None:
    with django_app():
        client = Client()
        assert client.head("/orders/1", headers={"authorization": "Bearer reader"}).status_code == 200
        assert client.head("/orders/1").status_code == 401
        preflight = client.options("/orders/1/lines")
        assert preflight.status_code == 204 and preflight.content == b""
        assert preflight.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert CALLS.names == ["get_order"]


@FLAVOURS
def test_decorators_and_the_mixin_decide_alone_without_the_middleware(urls: str) -> None:
    with django_app(urls, middleware=[]):
        client = Client()
        assert client.get("/orders/3", headers={"authorization": "Bearer reader"}).status_code == 200
        assert client.get("/orders/3").status_code == 401
        assert client.get("/orders/3", headers={"authorization": "Bearer seven"}).status_code == 403
        assert client.delete("/orders/3", headers={"authorization": "Bearer writer"}).status_code == 401  # route map
        assert client.post("/orders/3/lines", headers={"authorization": "Bearer reader"}).status_code == 403
        assert client.get("/handled/3", headers={"authorization": "Bearer seven"}).status_code == 403
    assert CALLS.names == ["get_order"]


@FLAVOURS
def test_a_view_called_with_other_parameters_than_authorized_is_refused(urls: str) -> None:
    stack = [*MIDDLEWARE, "tests.integrations.django_views.Tamper"]
    with django_app(urls, middleware=stack):
        client = Client()
        assert client.get("/orders/7", headers={"authorization": "Bearer seven"}).status_code == 403
        assert client.get("/orders/7/lines", headers={"authorization": "Bearer reader"}).status_code == 403
        assert client.get("/handled/7", headers={"authorization": "Bearer seven"}).status_code == 403
    assert CALLS.seen == []


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(kind: str) -> None:
    authority = standard_authority()
    office_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"{ORDER_ARN}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}
    authority.add("office", StubSession(ALICE, "alice"), office_only)
    guard, sink, _ = stub_guard(authority, trusted_proxies=["10.0.0.0/8"])
    spoofed = (*bearer("office"), ("x-forwarded-for", "203.0.113.7"))
    with django_app(guard=guard):
        raw = Raw(kind)
        assert raw("GET", b"/orders/1", spoofed, client="192.0.2.10")[0] == 403
        assert sink.records[-1].source_ip == "192.0.2.10"
        assert raw("GET", b"/orders/1", spoofed, client="10.1.2.3")[0] == 200
        assert sink.records[-1].source_ip == "203.0.113.7"
        assert raw("GET", b"/orders/1", (*bearer("office"), ("x-forwarded-for", "nope")), client="10.1.2.3")[0] == 400
    assert CALLS.names == ["get_order"]




@STACKS
@pytest.mark.parametrize(("name", "fail", "options", "status"), FAULTS, ids=[row[0] for row in FAULTS])
def test_every_fault_in_the_guards_collaborators_denies(urls: str, kind: str, name: str,
                                                         fail: dict[str, BaseException], options: dict[str, Any],
                                                         status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    authority = standard_authority()
    authority.fail.update(fail)
    guard, _, _ = stub_guard(authority, **options)
    with django_app(urls, guard=guard):
        raw = Raw(kind)
        for method, target in (("GET", b"/orders/1"), ("DELETE", b"/orders/1"), ("GET", b"/orders/1/lines"),
                               ("GET", b"/handled/1")):
            got, _, body = raw(method, target, bearer("writer-mfa"))
            assert got == status
            assert b"Statement" not in body
    assert CALLS.seen == []


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_failure_in_the_adapter_itself_denies(kind: str, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    import django_iamguard.adapter as adapter

    caplog.set_level(logging.CRITICAL)

    def explode(*args: Any) -> Any:
        raise UnicodeError("unreadable header")

    monkeypatch.setattr(adapter, "_from_environ" if kind == "wsgi" else "_from_scope", explode)
    with django_app() as sink:
        got, _, _ = Raw(kind)("GET", b"/orders/1", READER)
    assert got == 503
    assert CALLS.seen == []
    assert sink.records[-1].reason == "internal_error"


def test_concurrent_async_requests_from_two_principals_never_cross() -> None:
    import json

    async def run() -> list[tuple[str, str]]:
        client = AsyncClient()

        async def one(token: str, index: int) -> tuple[str, str]:
            response = await client.get(f"/orders/{index}", headers={"authorization": f"Bearer {token}"})
            return token, json.loads(response.content)["principal"]

        return await asyncio.gather(*(one(token, index) for index in range(15) for token in ("reader", "writer")))

    with django_app(ASYNC_URLS):
        results = asyncio.run(run())
    expected = {"reader": ALICE, "writer": "arn:aws:iam::123456789012:user/bob"}
    assert len(results) == 30 and all(principal == expected[token] for token, principal in results)


@FLAVOURS
def test_principal_resolver_for_apps_with_their_own_login(urls: str) -> None:
    directory = StubDirectory({ALICE: (READER_POLICY,)})
    seen_mfa: list[bool] = []

    def principal_for(user: Any) -> str | Login | None:
        seen_mfa.append(False)
        return Login(ALICE) if user.is_authenticated and user.username == "alice" else None

    guard, _, _ = stub_guard(directory=directory, resolver=user_resolver(principal_for))
    stack = [MIDDLEWARE[0], "tests.integrations.django_views.FakeLogin", *MIDDLEWARE[1:]]
    with django_app(urls, middleware=stack, guard=guard):
        client = Client()
        assert client.get("/orders/1", headers={"x-test-user": "alice"}).json()["principal"] == ALICE
        assert client.get("/orders/1").status_code == 401
        assert client.get("/orders/1", headers={"x-test-user": "mallory"}).status_code == 401
        # A token and an application login at once are ambiguous.
        assert client.get("/orders/1", headers={"x-test-user": "alice", "authorization": "Bearer reader"}
                          ).status_code == 400
        async_response = asyncio.run(AsyncClient().get("/orders/2", headers={"x-test-user": "alice"}))
        assert async_response.status_code == 200
    assert CALLS.names == ["get_order", "get_order"]
    with django_app(urls, guard=guard):  # AuthenticationMiddleware missing: the resolver cannot run
        assert Client().get("/orders/1", headers={"x-test-user": "alice"}).status_code == 503


def test_system_checks_flag_unmapped_routes_and_bad_settings() -> None:
    with django_app():
        messages = checks.run_checks(tags=["iamguard"])
    assert {message.id for message in messages} == {"iamguard.W002"}
    assert any("GET /admin: unmapped" in message.msg for message in messages)
    assert not any("/area/open" in message.msg for message in messages)
    with django_app(STRICT=True):
        strict = checks.run_checks(tags=["iamguard"])
    assert strict and {message.id for message in strict} == {"iamguard.E002"}
    assert all(message.is_serious() for message in strict)
    with override_settings(IAMGUARD={"GUARD": "tests.integrations.no_such_module.guard"}):
        broken = checks.run_checks(tags=["iamguard"])
    assert [message.id for message in broken] == ["iamguard.E001"]


def test_the_route_listing_command() -> None:
    output = io.StringIO()
    with django_app():
        call_command("iam_routes", stdout=output)
        with pytest.raises(CommandError, match="no usable iamguard mapping"):
            call_command("iam_routes", "--strict", stdout=io.StringIO())
    listing = output.getvalue()
    assert "/orders/{order_id}/lines" in listing and "orders:CreateOrder" in listing
    assert "/re/{order_id}.json" in listing
    assert "/admin" in listing and "unmapped" in listing


def test_strict_mode_refuses_every_request_while_a_route_is_unmapped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    with django_app(STRICT=True) as sink:
        client = Client()
        assert client.get("/orders/1", headers={"authorization": "Bearer reader"}).status_code == 503
        assert client.get("/health").status_code == 503
    assert CALLS.seen == [] and sink.records[-1].reason == "internal_error"


@pytest.mark.parametrize(("setting", "message"), [
    (None, "IAMGUARD"),
    ({"GUARD": 42}, "GUARD"),
    ({"GUARD": "tests.integrations.django_views.default_guard", "STRIKT": True}, "STRIKT"),
    ({"GUARD": "tests.integrations.django_views.default_guard", "PUBLIC_NAMESPACES": "admin"}, "PUBLIC_NAMESPACES"),
])
def test_a_missing_or_wrong_setting_stops_the_server_at_startup(setting: Any, message: str) -> None:
    with override_settings(ROOT_URLCONF=SYNC_URLS, MIDDLEWARE=MIDDLEWARE, IAMGUARD=setting), \
            pytest.raises(ImproperlyConfigured, match=message):
        WSGIHandler()


def test_mixin_configuration_errors_surface_when_the_class_is_created() -> None:
    with pytest.raises(RouteConfigError, match="CSRF-02"):
        class DeleteOnGet(IamRequiredMixin, View):
            iam_action = "orders:DeleteOrder"
            iam_resource = ORDER

            def get(self, request: Any, order_id: str) -> Any:
                raise AssertionError("never runs")

    with pytest.raises(RouteConfigError, match="HEAD"):
        class HeadRule(IamRequiredMixin, View):
            iam_action = {"head": "orders:GetOrder"}
            iam_resource = ORDER

    with pytest.raises(RouteConfigError, match="no iam_resource"):
        class NoResource(IamRequiredMixin, View):
            iam_action = {"get": "orders:GetOrder"}
            iam_resource = {"post": ORDER}

    with pytest.raises(RouteConfigError, match="both public and protected"):
        class Both(IamRequiredMixin, View):
            iam_action = {"get": "orders:GetOrder"}
            iam_resource = ORDER
            iam_public_methods = ("GET",)

    class ReadOnly(IamRequiredMixin, View):
        iam_action = "orders:GetOrder"
        iam_resource = ORDER
        iam_public_methods = ("post",)

        def get(self, request: Any, order_id: str) -> Any:
            raise AssertionError("not called here")

        def post(self, request: Any, order_id: str) -> Any:
            raise AssertionError("not called here")

    rules = ReadOnly.iam_route_rules()
    assert [(item.action, sorted(item.methods or ()), item.public) for item in rules] == [
        (None, ["POST"], True), ("orders:GetOrder", ["GET"], False)]
