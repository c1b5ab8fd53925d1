"""Catalogue items of sections 3 (MAP) and 4 (CTX) that the rest of the suite tests only in part.

Each test is named after the security-catalogue ID it covers. Rows that go through every adapter
use the differential senders of the round-6 parity tests (Starlette, Flask, Django under WSGI and
ASGI), so one table states what all four answer.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from werkzeug.middleware.proxy_fix import ProxyFix

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials, Credentials
from iamguard.directory import Directory
from iamguard.store.memory import MemoryStore
from iamguard.web import ContextInput, Guard, WebRequest, rule
from iamguard.web.target import check_path
from iamguard.web.wsgi import raw_target
from tests.integrations.apps import flask_app
from tests.integrations.django_views import CALLS
from tests.integrations.support import (
    READER,
    Calls,
    bearer,
    call_environ,
    configure_django,
    stub_guard,
    wsgi_environ,
)
from tests.integrations.test_integrations_parity_redteam6 import MIDDLEWARE, send_everywhere
from tests.web.asgi_support import call_raw
from tests.web.stubs import ALICE, ORDER_ARN, TENANT, StubSession, standard_authority
from tests.web.test_web_asgi import build

configure_django()

ORDER = "arn:app:orders::{tenant}:order/{order_id}"
ADAPTERS = ("starlette", "flask", "django-sync", "django-async")
Headers = tuple[tuple[str, str], ...]


def _statuses(method: str, target: bytes, headers: Headers = (), **options: Any) -> dict[str, tuple[int, list[str]]]:
    return {name: (answer[0], answer[3]) for name, answer in send_everywhere(method, target, headers,
                                                                              **options).items()}


# ---- MAP-01: the decision is about the route the router dispatches --------------------------------

@pytest.mark.parametrize(("target", "headers", "status", "handlers"), [
    # `%3F` and `%23` decode to `?` and `#`: a layer re-parsing the decoded path as a URL would read
    # "/health" (public); every router reads a path that matches no route.
    (b"/health%3F/x", (), 404, []),
    (b"/health%3Fx", (), 404, []),
    (b"/health%23x", (), 404, []),
    (b"/admin%3F", READER, 404, []),
    # An encoded letter decodes to the route's own spelling: the guard decides that route.
    (b"/%61dmin", (), 401, []),
    (b"/%61dmin", READER, 403, []),
    (b"/%68ealth", (), 200, []),
    (b"/orders/%37", READER, 200, ["get_order"]),
], ids=lambda value: value.decode() if isinstance(value, bytes) else None)
def test_map_01_encoded_query_fragment_and_letters_are_decided_as_the_router_reads_them(
        target: bytes, headers: Headers, status: int, handlers: list[str]) -> None:
    assert _statuses("GET", target, headers) == {name: (status, handlers) for name in ADAPTERS}


@pytest.mark.parametrize(("target", "value"), [(b"/orders/7%3Fx", "7?x"), (b"/orders/7%23x", "7#x")])
def test_map_01_a_decoded_question_mark_stays_in_the_authorized_value(target: bytes, value: str) -> None:
    for name, answer in send_everywhere("GET", target, READER).items():
        assert (answer[0], answer[3]) == (200, ["get_order"]), name
        assert json.loads(answer[2])["resource"] == f"{ORDER_ARN}/{value}", name


# ---- MAP-03 / MAP-06: encoded dots and `%25` in any position ----------------------------------------

@pytest.mark.parametrize("target", [b"/orders/a%2eb", b"/orders/.%2e", b"/orders/%2e.", b"/orders/%2E%2e/admin",
                                    b"/orders/7%2e"])
def test_map_03_an_encoded_dot_anywhere_in_the_path_is_400_everywhere(target: bytes) -> None:
    assert _statuses("GET", target, READER) == {name: (400, []) for name in ADAPTERS}


@pytest.mark.parametrize("target", [b"/orders/100%25", b"/orders/%2541", b"/orders/%252e%252e", b"/orders/%25%32%46"])
def test_map_06_any_encoded_percent_is_400_everywhere(target: bytes) -> None:
    assert _statuses("GET", target, READER) == {name: (400, []) for name in ADAPTERS}


@pytest.mark.parametrize("path", ["/orders/%41", "/orders/100%", "/orders/%2F", "/%2e%2e/admin"])
def test_map_06_a_percent_left_after_decoding_is_400_without_a_raw_target(path: str) -> None:
    # WSGI servers such as wsgiref pass only the decoded path: a "%" there came from "%25".
    rejection = check_path(path)
    assert rejection is not None
    assert (rejection.status, rejection.reason) == (400, "malformed_request")


# ---- MAP-10: a WSGI deployment prefix changes nothing ---------------------------------------------

def _wsgi_call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[int, bytes]:
    response = call_environ(app, environ)
    return response.status, response.body


@pytest.mark.parametrize("script_name", ["", "/deploy", "/a/b"])
def test_map_10_flask_under_a_script_name_decides_as_at_the_root(script_name: str) -> None:
    calls = Calls()
    app, _ = flask_app(stub_guard()[0], calls)
    statuses = []
    for method, path, headers in [("GET", b"/orders/7", READER), ("DELETE", b"/orders/7", READER),
                                  ("DELETE", b"/orders/7", bearer("writer-mfa")), ("GET", b"/admin", READER),
                                  ("GET", b"/health", ()), ("GET", b"/orders/7", ())]:
        environ = wsgi_environ(method, path, headers)
        environ["SCRIPT_NAME"] = script_name
        environ["RAW_URI"] = script_name + environ["RAW_URI"]
        statuses.append(_wsgi_call(app, environ)[0])
    assert statuses == [200, 403, 200, 403, 200, 401]
    assert calls.names == ["get_order", "delete_order"]


# ---- MAP-15: absolute-form targets ----------------------------------------------------------------

@pytest.mark.parametrize(("target", "host", "expected"), [
    ("/orders/7", "testserver", b"/orders/7"),
    ("/orders/7?x=1", "testserver", b"/orders/7"),
    ("http://testserver/orders/7", "testserver", b"/orders/7"),
    ("HTTPS://TestServer/orders/7?x=1", "testserver", b"/orders/7"),  # scheme and host ignore case
    ("http://testserver", "testserver", b"/"),
    # Another authority than Host: kept whole, so the path screen refuses it.
    ("http://evil.example/orders/7", "testserver", b"http://evil.example/orders/7"),
    ("http://testserver:8080/orders/7", "testserver", b"http://testserver:8080/orders/7"),
    ("http://testserver/orders/7", "", b"http://testserver/orders/7"),
    ("ftp://testserver/orders/7", "testserver", b"ftp://testserver/orders/7"),
    ("*", "testserver", b"*"),
])
def test_map_15_an_absolute_target_yields_its_path_only_for_the_request_host(target: str, host: str,
                                                                            expected: bytes) -> None:
    environ = {"RAW_URI": target, "HTTP_HOST": host} if host else {"RAW_URI": target}
    assert raw_target(environ) == expected


def _absolute_environ(target: str, headers: Headers = READER) -> dict[str, Any]:
    # What gunicorn passes for `GET http://host/orders/7`: the path alone in PATH_INFO, the request
    # target as sent in RAW_URI.
    environ = wsgi_environ("GET", b"/orders/7", headers)
    environ["RAW_URI"] = target
    return environ


def _django_wsgi(environ: dict[str, Any]) -> tuple[int, list[str]]:
    guard = stub_guard()[0]
    with override_settings(ROOT_URLCONF="tests.integrations.django_urls", MIDDLEWARE=MIDDLEWARE,
                           IAMGUARD={"GUARD": guard}):
        CALLS.clear()
        status, _ = _wsgi_call(WSGIHandler(), environ)
        return status, CALLS.names


def _flask_wsgi(environ: dict[str, Any]) -> tuple[int, list[str]]:
    calls = Calls()
    app, _ = flask_app(stub_guard()[0], calls)
    status, _ = _wsgi_call(app, environ)
    return status, calls.names


@pytest.mark.parametrize("send", [_flask_wsgi, _django_wsgi], ids=["flask", "django"])
@pytest.mark.parametrize(("target", "status", "handlers"), [
    ("http://testserver/orders/7", 200, ["get_order"]),
    ("http://evil.example/orders/7", 400, []),
    ("http://evil.example/orders/7%2F..%2Fadmin", 400, []),
    ("http://testserver.evil.example/orders/7", 400, []),
])
def test_map_15_an_absolute_target_naming_another_host_is_400(send: Callable[[dict[str, Any]], tuple[int, list[str]]],
                                                              target: str, status: int, handlers: list[str]) -> None:
    assert send(_absolute_environ(target)) == (status, handlers)


def test_map_15_an_absolute_target_on_an_asgi_server_never_reaches_a_handler() -> None:
    # h11-based servers put the whole absolute target in raw_path and its decoding in path.
    app, recorder, sink = build()
    response = asyncio.run(call_raw(app, "GET", b"http://testserver/orders/7", [("authorization", "Bearer reader")]))
    assert response.status == 400 and recorder.calls == []
    assert [(record.effect, record.reason) for record in sink.records] == [("Deny", "malformed_request")]


# ---- MAP-16: identifiers are never normalized -------------------------------------------------------

# (percent-encoded value, the code points the handler and the ARN must carry)
UNICODE_VALUES = [
    (b"%EF%BC%8Fadmin", "\uff0fadmin"),  # FULLWIDTH SOLIDUS: NFKC gives "/admin"
    (b"alice%EF%BC%A0example", "alice\uff20example"),  # FULLWIDTH COMMERCIAL AT
    (b"%EF%AC%81le", "\ufb01le"),  # LATIN SMALL LIGATURE FI: NFKC gives "file"
    (b"e%CC%81", "e\u0301"),  # decomposed e-acute: NFC composes it
    (b"%E2%84%AA", "\u212a"),  # KELVIN SIGN: NFKC gives "K"
    (b"%EF%BC%97", "\uff17"),  # FULLWIDTH DIGIT SEVEN: NFKC gives "7"
]


@pytest.mark.parametrize(("encoded", "value"), UNICODE_VALUES)
def test_map_16_the_arn_and_the_handler_get_the_same_unnormalized_code_points(encoded: bytes, value: str) -> None:
    assert unicodedata.normalize("NFKC", value) != value  # the row would prove nothing otherwise
    for name, answer in send_everywhere("GET", b"/orders/" + encoded, READER).items():
        assert (answer[0], answer[3]) == (200, ["get_order"]), name
        body = json.loads(answer[2])
        assert body["resource"] == f"{ORDER_ARN}/{value}", name
        assert body["params"] == {"order_id": value}, name
        if "received" in body:  # Starlette and Flask echo what the handler itself was given
            assert body["received"] == {"order_id": value}, name


@pytest.mark.parametrize(("target", "status", "handlers"), [
    (b"/orders/7", 200, ["get_order"]),
    (b"/orders/%EF%BC%97", 403, []),  # looks like 7, is not order 7
    (b"/orders/%F0%9D%9F%95", 403, []),  # MATHEMATICAL BOLD DIGIT SEVEN
])
def test_map_16_a_lookalike_of_the_allowed_id_is_not_that_id(target: bytes, status: int, handlers: list[str]) -> None:
    # The "seven" principal may read order 7 only.
    assert _statuses("GET", target, bearer("seven")) == {name: (status, handlers) for name in ADAPTERS}


# ---- CTX-02: a trusted proxy's unreadable address is a 400, never a skipped condition -------------

# Allowed from anywhere but the blocked network: a missing aws:SourceIp must never skip the Deny.
_BLOCKED_NETWORK = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"},
    {"Effect": "Deny", "Action": "orders:GetOrder", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}


def _network_guard() -> tuple[Guard, MemorySink]:
    authority = standard_authority()
    authority.add("open", StubSession(ALICE, "alice"), _BLOCKED_NETWORK)
    sink = MemorySink()
    routes = [rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")]
    return Guard(authority, routes=routes, audit=sink, clock=FrozenClock(), tenant=TENANT,
                 trusted_proxies=["10.0.0.1"]), sink


def _from(peer: str, *headers: tuple[str, str]) -> WebRequest:
    return WebRequest("GET", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"}, client=peer,
                      headers=(("authorization", "Bearer open"), *headers))


@pytest.mark.parametrize(("peer", "forwarded_for", "status", "reason", "source_ip"), [
    ("10.0.0.1", "203.0.113.9", 403, "explicit_deny", "203.0.113.9"),
    ("10.0.0.1", "198.51.100.7", None, "allowed", "198.51.100.7"),
    # Unreadable from the trusted proxy: 400, not "no address, Deny skipped".
    ("10.0.0.1", "a", 400, "malformed_request", None),
    ("10.0.0.1", "203.0.113.009", 400, "malformed_request", None),  # leading zeros (CVE-2021-29921)
    ("10.0.0.1", "0313.0.113.9", 400, "malformed_request", None),
    ("10.0.0.1", "203.0.113.9:443", 400, "malformed_request", None),  # a port
    ("10.0.0.1", "[2001:db8::1]", 400, "malformed_request", None),  # brackets
    ("10.0.0.1", "203.0.113 .9", 400, "malformed_request", None),  # whitespace inside the value
    ("10.0.0.1", "203.0.113.9%eth0", 400, "malformed_request", None),
    ("10.0.0.1", "", 400, "malformed_request", None),
    ("10.0.0.1", "198.51.100.7,,", 400, "malformed_request", None),
    # From an untrusted peer the header is not read at all: the peer is the client.
    ("203.0.113.5", "a", 403, "explicit_deny", "203.0.113.5"),
    ("203.0.113.5", "198.51.100.7", 403, "explicit_deny", "203.0.113.5"),
    ("198.51.100.5", "203.0.113.009", None, "allowed", "198.51.100.5"),
])
def test_ctx_02_an_unreadable_forwarded_address_is_refused_not_skipped(
        peer: str, forwarded_for: str, status: int | None, reason: str, source_ip: str | None) -> None:
    guard, sink = _network_guard()
    verdict = guard.check_sync(_from(peer, ("x-forwarded-for", forwarded_for)))
    assert (verdict.status, verdict.reason) == (status, reason)
    [record] = sink.records
    assert (record.effect, record.reason) == ("Allow" if status is None else "Deny", reason)
    if source_ip is not None:
        assert record.source_ip == source_ip


def test_ctx_02_disagreeing_forwarding_headers_from_a_trusted_proxy_are_400() -> None:
    guard, _ = _network_guard()
    verdict = guard.check_sync(_from("10.0.0.1", ("x-forwarded-for", "198.51.100.7"),
                                     ("forwarded", "for=203.0.113.9")))
    assert (verdict.status, verdict.reason) == (400, "malformed_request")


# ---- CTX-03: framework proxy helpers cannot make a plain-http request secure ----------------------

_TLS_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}


def _tls_guard(**options: Any) -> Guard:
    authority = standard_authority()
    authority.add("tls", StubSession(ALICE, "alice"), _TLS_ONLY)
    return stub_guard(authority, **options)[0]


def _flask_behind_proxy_fix(guard: Guard, client: str, scheme: str, headers: Headers) -> tuple[int, list[str]]:
    calls = Calls()
    app, _ = flask_app(guard, calls)
    # ProxyFix trusts one hop of X-Forwarded-* from whoever connects; the guard must not.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    status, _ = _wsgi_call(app, wsgi_environ("GET", b"/orders/7", headers, client=client, scheme=scheme))
    return status, calls.names


def _django_with_ssl_header(guard: Guard, client: str, scheme: str, headers: Headers) -> tuple[int, list[str]]:
    with override_settings(ROOT_URLCONF="tests.integrations.django_urls", MIDDLEWARE=MIDDLEWARE,
                           IAMGUARD={"GUARD": guard}, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        CALLS.clear()
        status, _ = _wsgi_call(WSGIHandler(), wsgi_environ("GET", b"/orders/7", headers, client=client,
                                                           scheme=scheme))
        return status, CALLS.names


@pytest.mark.parametrize("send", [_flask_behind_proxy_fix, _django_with_ssl_header], ids=["flask", "django"])
@pytest.mark.parametrize(("client", "scheme", "proto", "status", "handlers"), [
    ("203.0.113.5", "http", "https", 403, []),  # an untrusted client's claim is ignored
    ("203.0.113.5", "https", None, 200, ["get_order"]),  # TLS to this server is TLS
    ("10.1.2.3", "http", "https", 200, ["get_order"]),  # the trusted proxy's word is taken
    ("10.1.2.3", "http", "http", 403, []),
])
def test_ctx_03_framework_proxy_settings_cannot_make_plain_http_secure(
        send: Callable[[Guard, str, str, Headers], tuple[int, list[str]]], client: str, scheme: str,
        proto: str | None, status: int, handlers: list[str]) -> None:
    headers = (*bearer("tls"), *((("x-forwarded-proto", proto),) if proto else ()))
    assert send(_tls_guard(trusted_proxies=["10.1.0.0/16"]), client, scheme, headers) == (status, handlers)


# ---- CTX-04 / CTX-05: time and principal tags come from the server -------------------------------

_TAGGED_TEAM = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}
# The same grant, only during the first half hour of 2026 (the shop's clock starts at midnight).
_TIME_WINDOW = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"},
                   "DateLessThan": {"aws:CurrentTime": "2026-01-01T00:30:00Z"}}}]}

# Headers a client might hope to be read as "now" or as its own attributes.
_CLAIMED_HEADERS: Headers = (
    ("date", "Thu, 01 Jan 2025 00:00:00 GMT"),
    ("x-request-time", "2025-01-01T00:00:00Z"),
    ("aws-currenttime", "2025-01-01T00:00:00Z"),
    ("x-amz-date", "20250101T000000Z"),
    ("x-principal-tag-team", "blue"),
    ("principaltag-team", "blue"),
    ("x-amz-tagging", "team=blue"),
)


class Shop:
    """A real directory and credentials store behind a guard: alice is tagged team=red."""

    def __init__(self, context: tuple[Callable[[ContextInput], Mapping[str, Any]], ...] = (),
                 policy: Mapping[str, Any] = _TAGGED_TEAM) -> None:
        self.clock = FrozenClock()
        store = MemoryStore()
        Directory.create_tenant(store, TENANT, "Shop")
        self.directory = Directory(store, TENANT, clock=self.clock)
        self.credentials = Credentials(self.directory, clock=self.clock)
        managed = self.directory.create_policy("Read", dict(policy))
        self.directory.create_user("alice", tags={"team": "red"})
        self.directory.attach_user_policy("alice", managed.arn)
        key = self.credentials.create_access_key("alice")
        self.token = self.credentials.get_session_token(
            AccessKeyCredentials(key.access_key_id, key.secret_access_key), duration=3600).token
        self.sink = MemorySink()
        self.guard = Guard(self.credentials, tenant=TENANT, audit=self.sink, clock=self.clock, context=list(context),
                           routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])

    def get(self, *headers: tuple[str, str]) -> Any:
        return self.guard.check_sync(WebRequest(
            "GET", "/orders/7", raw_path=b"/orders/7", client="192.0.2.10", route="/orders/{order_id}",
            path_params={"order_id": "7"}, headers=(("authorization", f"Bearer {self.token}"), *headers)))


@pytest.fixture
def shop() -> Iterator[Shop]:
    yield Shop()


def test_ctx_05_principal_tags_come_from_the_store_never_from_request_headers(shop: Shop) -> None:
    claimed = shop.get(*_CLAIMED_HEADERS)
    assert (claimed.status, claimed.reason) == (403, "implicit_deny")
    assert claimed.decision is not None
    assert claimed.decision.request.context["aws:PrincipalTag/team"] == "red"
    shop.directory.tag_user("alice", {"team": "blue"})  # only a store write changes the tag
    assert shop.get().allowed


@pytest.mark.parametrize("key", ["aws:PrincipalTag/team", "AWS:PRINCIPALTAG/TEAM", "aws:principaltag/Team"])
def test_ctx_05_a_context_provider_cannot_set_a_principal_tag(key: str) -> None:
    shop = Shop(context=(lambda given: {key: "blue"},))
    verdict = shop.get()
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 503, "context_error")
    assert [(record.effect, record.reason) for record in shop.sink.records] == [("Deny", "context_error")]


def test_ctx_04_request_headers_never_move_the_guards_clock() -> None:
    shop = Shop(policy=_TIME_WINDOW)
    shop.directory.tag_user("alice", {"team": "blue"})
    verdict = shop.get(*_CLAIMED_HEADERS)
    assert verdict.allowed and verdict.decision is not None
    context = verdict.decision.request.context
    assert (context["aws:CurrentTime"], context["aws:EpochTime"]) == ("2026-01-01T00:00:00Z", 1767225600)
    shop.clock.advance(1799)
    assert shop.get(*_CLAIMED_HEADERS).allowed
    # At half past by the server clock the window is closed, whatever the client says the time is.
    shop.clock.advance(1)
    late = shop.get(*_CLAIMED_HEADERS)
    assert (late.status, late.reason) == (403, "implicit_deny")


def test_ctx_04_token_expiry_follows_the_server_clock_not_a_date_header(shop: Shop) -> None:
    shop.directory.tag_user("alice", {"team": "blue"})
    leeway = shop.credentials.config.leeway_seconds
    shop.clock.advance(3600 + leeway - 1)
    assert shop.get(("date", "Sat, 01 Jan 2000 00:00:00 GMT")).allowed
    shop.clock.advance(1)
    expired = shop.get(("date", "Thu, 01 Jan 2026 00:00:00 GMT"), ("x-request-time", "2026-01-01T00:00:00Z"))
    assert (expired.status, expired.reason) == (401, "invalid_token")
    assert expired.response is not None
    assert dict(expired.response.headers)["www-authenticate"].startswith('Bearer error="invalid_token"')


# ---- CTX-06: aws:UserAgent is the client's own text -----------------------------------------------

_NO_SCANNERS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"},
    {"Effect": "Deny", "Action": "orders:GetOrder", "Resource": "*",
     "Condition": {"StringLike": {"aws:UserAgent": "*sqlmap*"}}}]}


def _agent_guard(**options: Any) -> Guard:
    authority = standard_authority()
    authority.add("agent", StubSession(ALICE, "alice"), _NO_SCANNERS)
    routes = [rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")]
    return Guard(authority, routes=routes, audit=MemorySink(), clock=FrozenClock(), tenant=TENANT, **options)


def _with_agent(*agents: str) -> WebRequest:
    return WebRequest("GET", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                      client="192.0.2.10",
                      headers=(("authorization", "Bearer agent"), *(("user-agent", agent) for agent in agents)))


@pytest.mark.parametrize(("agents", "reason", "seen"), [
    (("sqlmap/1.7",), "explicit_deny", "sqlmap/1.7"),
    (("curl/8.0",), "allowed", "curl/8.0"),
    ((), "allowed", None),  # absent: a Deny on it cannot apply, which is why it may only narrow
    (("curl/8.0", "sqlmap/1.7"), "explicit_deny", "curl/8.0, sqlmap/1.7"),  # every line is read
])
def test_ctx_06_user_agent_is_the_clients_verbatim_text_usable_to_deny(agents: tuple[str, ...], reason: str,
                                                                      seen: str | None) -> None:
    verdict = _agent_guard().check_sync(_with_agent(*agents))
    assert verdict.reason == reason
    assert verdict.decision is not None
    assert verdict.decision.request.context.get("aws:UserAgent") == seen


@pytest.mark.parametrize("key", ["aws:UserAgent", "aws:useragent", "aws:Referer"])
def test_ctx_06_a_context_provider_cannot_replace_the_user_agent(key: str) -> None:
    verdict = _agent_guard(context=[lambda given: {key: "curl/8.0"}]).check_sync(_with_agent("sqlmap/1.7"))
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 503, "context_error")

