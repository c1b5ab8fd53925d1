"""Red-team round 6, audit records: the token endpoints' own refusals leave exactly one record,
with the same fields in every adapter (Starlette, Flask, Django under WSGI and ASGI).

Before this round a throttled address (429), a malformed or oversized body (400/413), a missing or
refused Bearer session at /step-up and /assume-role (401), and in Django a method other than POST
(405) were answered with no audit record at all (spec LOG-02: every deny, authentication and
malformed requests included; "unlogged failures hide probing")."""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from django.urls import include, path
from django_iamguard.endpoints import auth_urlpatterns
from flask import Flask
from flask_iamguard import IamGuard, auth_blueprint
from starlette.applications import Starlette
from starlette.routing import Mount

from iamguard.asgi import Iam, auth_routes
from iamguard.audit import Auditor, AuditRecord, MemorySink
from iamguard.clock import FrozenClock
from iamguard.errors import IamGuardError
from iamguard.web import Guard
from iamguard.web.throttle import SourceLimit
from tests.integrations.support import PEER, call_wsgi
from tests.integrations.test_integrations_parity import MIDDLEWARE
from tests.web.asgi_support import call_raw

FRAMEWORKS = ("starlette", "flask", "django-sync", "django-async")
URLCONF = "tests_rt6_audit_auth_urls"
JSON = (("content-type", "application/json"),)
LOGIN = b'{"user_name": "ann", "password": "not-her-password"}'
Send = Callable[[str, bytes, tuple[tuple[str, str], ...], bytes], int]


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


class PasswordRefused(IamGuardError):
    """As the credentials layer refuses a password (it records `login_failed` itself)."""

    status = 403
    code = "AuthenticationFailed"
    message = "the user name or password is incorrect"


class SessionRefused(IamGuardError):
    """As the credentials layer refuses a Bearer session (it records nothing: the caller does)."""

    status = 401
    code = "InvalidToken"
    reason = "invalid"
    message = "the token is invalid"


class Issuer:
    """The credentials seam of the endpoints: every credential is refused."""

    def __init__(self, auditor: Auditor) -> None:
        self.clock = FrozenClock()
        self.auditor = auditor

    def get_session_token(self, *args: Any, **kwargs: Any) -> Any:
        raise PasswordRefused()

    def assume_role(self, *args: Any, **kwargs: Any) -> Any:
        raise PasswordRefused()

    def step_up(self, *args: Any, **kwargs: Any) -> Any:
        raise PasswordRefused()

    def authenticate(self, token: object) -> Any:
        raise SessionRefused()


async def _call_asgi(app: Any, method: str, target: bytes, headers: tuple[tuple[str, str], ...], body: bytes) -> int:
    return (await call_raw(app, method, target, headers, client=(PEER, 5000), body=body)).status


def endpoints_app(framework: str, *, failures: int = 100) -> tuple[MemorySink, Send]:
    """The three token endpoints in `framework`, behind its guard; one Auditor for the guard and
    the credentials, as the README recommends."""
    sink = MemorySink()
    issuer = Issuer(Auditor(sink))
    guard = Guard(None, audit=issuer.auditor, clock=issuer.clock)
    limit = SourceLimit(failures=failures)
    if framework == "starlette":
        asgi_app = Starlette(routes=[Mount("/auth", routes=auth_routes(issuer, source_limit=limit))],
                             middleware=[Iam(guard).middleware()])
        return sink, lambda method, target, headers, body: asyncio.run(
            _call_asgi(asgi_app, method, target, headers, body))
    if framework == "flask":
        flask = Flask("rt6_audit")
        IamGuard(flask, guard=guard)
        flask.register_blueprint(auth_blueprint(issuer, source_limit=limit))
        return sink, lambda method, target, headers, body: call_wsgi(flask, method, target, headers, body=body).status
    urls = types.ModuleType(URLCONF)
    urls.urlpatterns = [path("auth/", include(auth_urlpatterns(issuer, source_limit=limit)))]  # type: ignore[attr-defined]
    sys.modules[URLCONF] = urls

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...], body: bytes) -> int:
        with override_settings(ROOT_URLCONF=URLCONF, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
            if framework == "django-sync":
                return call_wsgi(WSGIHandler(), method, target, headers, body=body).status
            return asyncio.run(_call_asgi(ASGIHandler(), method, target, headers, body))

    return sink, send


def _fields(record: AuditRecord) -> tuple[Any, ...]:
    """Everything but time, request id and latency, and the free-text detail (adapters read a
    malformed body or header with their own words)."""
    return (record.effect, record.reason, record.status, record.principal, record.session_id, record.action,
            record.resource, record.statements, record.method, record.source_ip, record.user_agent,
            dict(record.extra))


# (method, target, headers, body, status, reason of the one record, endpoint named in it)
REFUSALS: list[tuple[str, bytes, tuple[tuple[str, str], ...], bytes, int, str, str | None]] = [
    ("GET", b"/auth/token", (), b"", 405, "method_not_allowed", None),
    ("PUT", b"/auth/step-up", JSON, b"{}", 405, "method_not_allowed", None),
    ("POST", b"/auth/token", JSON, b"not json", 400, "malformed_request", "token"),
    ("POST", b"/auth/token", (), b"{}", 400, "malformed_request", "token"),
    ("POST", b"/auth/token", JSON, b'{"a": "' + b"x" * 17_000 + b'"}', 413, "malformed_request", "token"),
    ("POST", b"/auth/assume-role", JSON, b'{"role_arn": "r", "session_name": "s"}', 401, "missing_credentials",
     "assume-role"),
    ("POST", b"/auth/step-up", (*JSON, ("authorization", "Bearer not-a-session"), ("user-agent", "probe/1")),
     b'{"mfa_code": "123456"}', 401, "invalid_token", "step-up"),
    ("POST", b"/auth/step-up", (*JSON, ("authorization", "Bearer a"), ("authorization", "Basic b")),
     b'{"mfa_code": "123456"}', 400, "invalid_request", "step-up"),
]


@pytest.mark.parametrize(("method", "target", "headers", "body", "status", "reason", "endpoint"), REFUSALS,
                         ids=[f"{row[0]} {row[1].decode()} {row[4]} {row[5]}" for row in REFUSALS])
def test_each_refusal_of_the_token_endpoints_leaves_one_record_alike_in_every_adapter(
        method: str, target: bytes, headers: tuple[tuple[str, str], ...], body: bytes, status: int, reason: str,
        endpoint: str | None) -> None:
    seen: dict[str, tuple[Any, ...]] = {}
    for framework in FRAMEWORKS:
        sink, send = endpoints_app(framework)
        assert send(method, target, headers, body) == status, framework
        assert len(sink.records) == 1, f"{framework}: {sink.records}"
        record = sink.records[0]
        assert (record.effect, record.reason, record.status, record.source_ip) == ("Deny", reason, status, PEER)
        if endpoint is not None:
            assert record.extra["endpoint"] == endpoint
        seen[framework] = _fields(record)
    assert len(set(map(repr, seen.values()))) == 1, seen


def test_a_throttled_address_leaves_a_record_for_every_attempt_it_is_refused() -> None:
    for framework in FRAMEWORKS:
        sink, send = endpoints_app(framework, failures=1)
        # The refused password is recorded by the credentials layer (login_failed), not by the endpoint.
        assert send("POST", b"/auth/token", JSON, LOGIN) == 403
        assert sink.records == [], framework
        for _ in range(2):
            assert send("POST", b"/auth/token", JSON, LOGIN) == 429
        assert [(record.effect, record.reason, record.status, record.source_ip, record.extra["endpoint"])
                for record in sink.records] == [("Deny", "throttled", 429, PEER, "token")] * 2, framework


def test_endpoint_records_never_hold_the_body_or_a_token() -> None:
    for framework in FRAMEWORKS:
        sink, send = endpoints_app(framework)
        send("POST", b"/auth/step-up", (*JSON, ("authorization", "Bearer secret-session-token")),
             b'{"mfa_code": "654321"}')
        send("POST", b"/auth/token", JSON, b'{"user_name": "ann", "password": "hunter2-secret" ')
        text = "\n".join(record.to_json() for record in sink.records)
        assert len(sink.records) == 2, framework
        for secret in ("secret-session-token", "654321", "hunter2-secret"):
            assert secret not in text, (framework, secret)
