"""The shared scenario table (tests/web/scenarios.py) through the Flask example (Flask's test
client) and the Django example (Django's `Client` and `AsyncClient`), the token endpoints of both,
and the strict check on both examples."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.test import AsyncClient, Client, override_settings
from django_iamguard.checks import route_reports
from werkzeug.datastructures import Headers

from examples.common import Seeded, seed
from examples.flask_app import create_app as create_flask_app
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import UnmappedRoutesError
from tests.web.scenarios import SCENARIOS, Scenario, check, mint_tokens, request_body, request_headers

DJANGO_SETTINGS = {
    "ROOT_URLCONF": "django_shop.urls",
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django_iamguard.middleware.IamGuardMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    "IAMGUARD": {"GUARD": "django_shop.shop.build_guard", "STRICT": True},
}
Shop = tuple[FrozenClock, Seeded, dict[str, str]]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    clock = FrozenClock()
    seeded = seed(tmp_path_factory.mktemp("shop") / "shop.db", clock=clock)
    return clock, seeded, mint_tokens(seeded, clock)


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)  # Django logs every 4xx as a warning


def flask_outcomes(seeded: Seeded, clock: FrozenClock, tokens: dict[str, str],
                   scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[tuple[int, dict[str, str], bytes, list[str]]]:
    calls: list[str] = []
    app = create_flask_app(seeded.path, clock=clock, audit=MemorySink(),
                           on_call=lambda name, params: calls.append(name))
    client = app.test_client()
    outcomes = []
    for scenario in scenarios:
        calls.clear()
        headers = Headers()
        for name, value in request_headers(scenario, tokens):
            headers.add(name, value)
        response = client.open(scenario.path, method=scenario.method, headers=headers, data=request_body(scenario))
        outcomes.append((response.status_code, {name.lower(): value for name, value in response.headers.items()},
                         response.data, list(calls)))
    return outcomes


@contextmanager
def django_shop(seeded: Seeded, clock: FrozenClock, calls: list[str], sink: MemorySink | None = None) -> Iterator[Any]:
    from django_shop import shop as services

    shop = services.configure(seeded.path, clock=clock, audit=sink or MemorySink(),
                              on_call=lambda name, params: calls.append(name))
    with override_settings(**DJANGO_SETTINGS):
        yield shop


def _django_headers(scenario: Scenario, tokens: dict[str, str]) -> dict[str, str]:
    # Django's clients take one value per header name: repeated lines arrive joined with commas,
    # as WSGI servers join them.
    joined: dict[str, str] = {}
    for name, value in request_headers(scenario, tokens):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def django_outcomes(seeded: Seeded, clock: FrozenClock, tokens: dict[str, str], *, use_async: bool,
                    scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[tuple[int, dict[str, str], bytes, list[str]]]:
    calls: list[str] = []
    outcomes = []

    async def send_async(client: AsyncClient, scenario: Scenario, headers: dict[str, str]) -> Any:
        return await client.generic(scenario.method, scenario.path, request_body(scenario), headers=headers,
                                    content_type=headers.pop("content-type", "application/octet-stream"))

    with django_shop(seeded, clock, calls):
        client: Any = AsyncClient() if use_async else Client()
        for scenario in scenarios:
            calls.clear()
            headers = _django_headers(scenario, tokens)
            if use_async:
                response = asyncio.run(send_async(client, scenario, headers))
            else:
                content_type = headers.pop("content-type", "application/octet-stream")
                response = client.generic(scenario.method, scenario.path, request_body(scenario),
                                          content_type=content_type, headers=headers)
            outcomes.append((response.status_code, {name.lower(): value for name, value in response.headers.items()},
                             response.content, list(calls)))
    return outcomes


def test_scenario_table_through_the_flask_example(shop: Shop) -> None:
    clock, seeded, tokens = shop
    for scenario, (status, headers, body, calls) in zip(SCENARIOS, flask_outcomes(seeded, clock, tokens), strict=True):
        check(scenario, status, headers, body, calls)


@pytest.mark.parametrize("use_async", [False, True], ids=["Client", "AsyncClient"])
def test_scenario_table_through_the_django_example(shop: Shop, use_async: bool) -> None:
    clock, seeded, tokens = shop
    outcomes = django_outcomes(seeded, clock, tokens, use_async=use_async)
    for scenario, (status, headers, body, calls) in zip(SCENARIOS, outcomes, strict=True):
        check(scenario, status, headers, body, calls)


def test_audit_records_of_the_django_example_hold_no_token(shop: Shop) -> None:
    clock, seeded, tokens = shop
    sink = MemorySink()
    with django_shop(seeded, clock, [], sink):
        client = Client()
        for scenario in SCENARIOS[:16]:
            headers = _django_headers(scenario, tokens)
            client.generic(scenario.method, scenario.path, request_body(scenario),
                           content_type=headers.pop("content-type", "application/octet-stream"), headers=headers)
    reasons = {record.reason for record in sink.records}
    assert {"missing_credentials", "invalid_token", "implicit_deny", "mfa_required", "invalid_request"} <= reasons
    for token in tokens.values():
        assert all(token not in record.to_json() for record in sink.records)


def test_both_examples_map_every_route(shop: Shop) -> None:
    clock, seeded, _ = shop
    app = create_flask_app(seeded.path, clock=clock)  # strict: the factory itself runs the check
    reports = app.extensions["iamguard"].extension.report(app)
    assert reports and all(report.ok for report in reports)
    with django_shop(seeded, clock, []):
        assert checks.run_checks(tags=["iamguard"]) == []
        django_reports = route_reports()
    assert {(report.method, report.path) for report in django_reports} >= {
        ("GET", "/orders"), ("POST", "/orders"), ("GET", "/orders/{order_id}"), ("DELETE", "/orders/{order_id}"),
        ("GET", "/health"), ("POST", "/auth/step-up")}
    assert all(report.ok for report in django_reports)


def test_the_flask_example_refuses_to_build_with_an_unmapped_route(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    clock, seeded, _ = shop
    original = Flask.register_blueprint

    def register_and_forget(self: Flask, blueprint: Any, **options: Any) -> None:
        original(self, blueprint, **options)
        self.add_url_rule("/forgotten", "forgotten", lambda: "never runs")

    monkeypatch.setattr(Flask, "register_blueprint", register_and_forget)
    with pytest.raises(UnmappedRoutesError, match="/forgotten"):
        create_flask_app(seeded.path, clock=clock)


def _json(response: Any) -> Any:
    return response.get_json() if hasattr(response, "get_json") else response.json()


def _post(client: Any, path: str, body: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    if isinstance(client, Client):
        return client.post(path, body, content_type="application/json", headers=headers or {})
    return client.post(path, json=body, headers=headers or {})


def test_token_exchange_and_step_up_through_both_examples(tmp_path: Path) -> None:
    """A manager exchanges an access key for a token, is challenged on delete, steps up with a
    TOTP code and deletes; the same flow on Flask and Django."""
    clock = FrozenClock()
    seeded = seed(tmp_path / "flow.db", clock=clock)
    manager = seeded.users["manager"]
    key = {"access_key_id": manager.access_key_id, "secret_access_key": manager.secret_access_key}
    flask_client = create_flask_app(seeded.path, clock=clock).test_client()
    with django_shop(seeded, clock, []):
        django_client = Client()
        for client, order in ((flask_client, "1001"), (django_client, "1002")):
            issued = _post(client, "/auth/token", key)
            assert issued.status_code == 200
            token = _json(issued)["token"]
            bearer = {"authorization": f"Bearer {token}"}
            challenged = client.delete(f"/orders/{order}", headers=bearer)
            assert challenged.status_code == 401
            assert _json(challenged)["step_up_endpoint"] == "/auth/step-up"
            clock.advance(30)  # a new TOTP step: the code below was never used
            stepped = _post(client, "/auth/step-up", {"mfa_code": manager.totp(clock)}, bearer)
            assert stepped.status_code == 200
            fresh = {"authorization": f"Bearer {_json(stepped)['token']}"}
            assert client.delete(f"/orders/{order}", headers=fresh).status_code == 204
            replayed = _post(client, "/auth/step-up", {"mfa_code": manager.totp(clock)}, bearer)
            assert (replayed.status_code, _json(replayed)["error"]) == (403, "InvalidAuthenticationCode")  # MFA-01
            wrong = _post(client, "/auth/token", {**key, "secret_access_key": "wrong"})
            assert (wrong.status_code, _json(wrong)["error"]) == (403, "InvalidClientTokenId")
            assert client.get("/auth/token").status_code == 405
