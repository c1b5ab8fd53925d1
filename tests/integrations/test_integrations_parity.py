"""The same request gets the same answer from every adapter: the ASGI middleware (Starlette),
flask_iamguard and django_iamguard (sync views under WSGI, async views under ASGI).

Where the frameworks' routers legitimately differ (a trailing-slash redirect, Flask's automatic
OPTIONS, Django routing every method to a function view) the row names each framework's answer;
in every row no protected handler runs unless the request is allowed."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings

from examples.common import seed
from examples.starlette_app import create_app as create_starlette_app
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from tests.integrations.apps import flask_app, starlette_app
from tests.integrations.django_views import CALLS
from tests.integrations.support import READER, Calls, bearer, call_wsgi, stub_guard
from tests.integrations.test_integrations_examples import django_outcomes, flask_outcomes
from tests.web.asgi_support import call_raw
from tests.web.scenarios import SCENARIOS, check, mint_tokens, request_body, request_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

FRAMEWORKS = ("starlette", "flask", "django-sync", "django-async")
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_iamguard.middleware.IamGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
Sender = Callable[[str, bytes, tuple[tuple[str, str], ...]], tuple[int, dict[str, str], bytes, list[str]]]


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)


def _guard_answer(status: int, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    """What must be identical across adapters: the status, and for the guard's own refusals the
    challenge and the JSON body."""
    if status in (400, 401, 403, 405, 503):
        # Free-text descriptions name the rule that caught the request, and Django's clients cannot
        # send what a server would (no raw target, no repeated header lines), so another rule may
        # catch the same request first; the status, the error codes and the rest must agree.
        document = {key: value for key, value in json.loads(body).items()
                    if key not in ("message", "error_description")} if body else None
        challenge = headers.get("www-authenticate")
        return status, challenge.split(", error_description=")[0] if challenge else None, document
    return (status,)


def test_the_examples_answer_the_scenario_table_identically(tmp_path_factory: pytest.TempPathFactory) -> None:
    answers: dict[str, list[tuple[Any, ...]]] = {}
    for framework in FRAMEWORKS:
        clock = FrozenClock()  # a fresh tenant per app: the table deletes orders
        seeded = seed(tmp_path_factory.mktemp(framework) / "shop.db", clock=clock)
        tokens = mint_tokens(seeded, clock)
        if framework == "starlette":
            outcomes = []
            calls = Calls()
            app = create_starlette_app(seeded.path, clock=clock, audit=MemorySink(), on_call=calls.hit)
            with TestClient(app) as client:
                for scenario in SCENARIOS:
                    calls.clear()
                    response = client.request(scenario.method, scenario.path, headers=request_headers(scenario, tokens),
                                              content=request_body(scenario), follow_redirects=False)
                    outcomes.append((response.status_code, {k.lower(): v for k, v in response.headers.items()},
                                     response.content, calls.names))
        elif framework == "flask":
            outcomes = flask_outcomes(seeded, clock, tokens)
        else:
            outcomes = django_outcomes(seeded, clock, tokens, use_async=framework == "django-async")
        for scenario, (status, headers, body, handlers) in zip(SCENARIOS, outcomes, strict=True):
            check(scenario, status, headers, body, handlers)
        answers[framework] = [_guard_answer(status, headers, body) if isinstance(scenario.status, int) else ("set",)
                              for scenario, (status, headers, body, _) in zip(SCENARIOS, outcomes, strict=True)]
    reference = answers["starlette"]
    for framework in FRAMEWORKS[1:]:
        for scenario, expected, got in zip(SCENARIOS, reference, answers[framework], strict=True):
            assert got == expected, f"{framework} answered {scenario.name!r} with {got}, starlette with {expected}"


# (method, target, headers, status everywhere, {framework: status where its router differs})
ROWS: list[tuple[str, bytes, tuple[tuple[str, str], ...], int, dict[str, int]]] = [
    ("GET", b"/orders/7", READER, 200, {}),
    ("GET", b"/orders/7", (), 401, {}),
    ("GET", b"/orders/7", bearer("forged"), 401, {}),
    ("GET", b"/orders/8", bearer("seven"), 403, {}),
    ("GET", b"/orders/7", bearer("seven"), 200, {}),
    ("DELETE", b"/orders/7", READER, 403, {}),
    ("DELETE", b"/orders/7", bearer("writer"), 401, {}),
    ("DELETE", b"/orders/7", bearer("writer-old-mfa"), 401, {}),
    ("DELETE", b"/orders/7", bearer("writer-mfa"), 200, {}),
    ("DELETE", b"/orders/7", bearer("no-deletes"), 403, {}),
    ("GET", b"/orders/7/lines", READER, 200, {}),
    ("POST", b"/orders/7/lines", READER, 403, {}),
    ("POST", b"/orders/7/lines", bearer("writer"), 200, {}),
    ("GET", b"/files/reports/2026/q1.pdf", bearer("no-deletes"), 200, {}),
    ("GET", b"/health", (), 200, {}),
    ("GET", b"/admin", READER, 403, {}),
    ("GET", b"/admin", (), 401, {}),
    ("HEAD", b"/orders/7", READER, 200, {}),
    ("HEAD", b"/orders/7", (), 401, {}),
    ("GET", b"/orders/1%2Fx", READER, 400, {}),
    ("GET", b"/orders/%2e%2e/admin", READER, 400, {}),
    ("GET", b"/orders/../admin", READER, 400, {}),
    ("GET", b"//admin", READER, 400, {}),
    ("GET", b"/orders//7", READER, 400, {}),
    ("GET", b"/orders/7;x=y", READER, 400, {}),
    ("GET", b"/orders/7%252F", READER, 400, {}),
    ("GET", b"/orders/7%00", READER, 400, {}),
    ("GET", b"/orders/7%0a", READER, 400, {}),
    ("GET", b"/orders/%ff", READER, 400, {}),
    ("GET", b"/ADMIN", READER, 404, {}),
    ("GET", b"/Orders/7", READER, 404, {}),
    ("get", b"/orders/7", READER, 400, {}),
    ("TRACE", b"/orders/7", READER, 405, {}),
    ("POST", b"/orders/7", (*READER, ("x-http-method-override", "GET")), 400, {}),
    ("POST", b"/orders/7?_method=GET", READER, 400, {}),
    ("GET", b"/orders/7?access_token=reader", (), 400, {}),
    ("GET", b"/orders/7", (("authorization", "Bearer reader"), ("authorization", "Bearer writer")), 400, {}),
    ("GET", b"/orders/7", (*READER, ("x-forwarded-for", "127.0.0.1")), 200, {}),
    ("GET", b"/orders/7/", READER, 404, {"starlette": 307}),
    ("GET", b"/slashed/7", READER, 308, {"starlette": 307, "django-sync": 301, "django-async": 301}),
    ("OPTIONS", b"/orders/7", (), 204, {"starlette": 405}),
    ("POST", b"/orders/7", READER, 405, {"django-sync": 403, "django-async": 403}),
]


def _senders(calls: Calls) -> dict[str, Sender]:
    def starlette(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Any:
        guard, _, _ = stub_guard()
        answer = asyncio.run(call_raw(starlette_app(guard, calls), method, target, headers))
        return answer.status, answer.headers, answer.body, calls.names

    def flask(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Any:
        guard, _, _ = stub_guard()
        app, _ = flask_app(guard, calls)
        answer = call_wsgi(app, method, target, headers)
        return answer.status, answer.headers, answer.body, calls.names

    def django(urls: str, kind: str) -> Sender:
        def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Any:
            guard, _, _ = stub_guard()
            with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
                CALLS.clear()
                if kind == "wsgi":
                    answer: Any = call_wsgi(WSGIHandler(), method, target, headers)
                else:
                    answer = asyncio.run(call_raw(ASGIHandler(), method, target, headers))
                names = CALLS.names
            return answer.status, {name.lower(): value for name, value in answer.headers.items()}, answer.body, names

        return send

    return {"starlette": starlette, "flask": flask,
            "django-sync": django("tests.integrations.django_urls", "wsgi"),
            "django-async": django("tests.integrations.django_async_urls", "asgi")}


@pytest.mark.parametrize(("method", "target", "headers", "status", "differences"), ROWS,
                         ids=[f"{method} {target!r} {len(headers)}" for method, target, headers, _, _ in ROWS])
def test_the_same_request_gets_the_same_answer_from_every_adapter(
        method: str, target: bytes, headers: tuple[tuple[str, str], ...], status: int,
        differences: dict[str, int]) -> None:
    calls = Calls()
    answers = {}
    for framework, send in _senders(calls).items():
        calls.clear()
        got, response_headers, body, handlers = send(method, target, headers)
        assert got == differences.get(framework, status), f"{framework}: {got} {body[:200]!r}"
        if not 200 <= got < 300:
            assert handlers == [], f"{framework} ran {handlers} for a refused request"
        if got in (400, 401, 403, 405) and framework not in differences:
            answers[framework] = _guard_answer(got, response_headers, body)
    if len(answers) > 1:
        first = next(iter(answers.values()))
        assert all(answer == first for answer in answers.values()), answers
