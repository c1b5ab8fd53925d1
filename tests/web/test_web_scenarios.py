"""The shared scenario table through the Starlette and FastAPI examples (their real test clients)
and through the Starlette example served by uvicorn on loopback."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from tests.web.scenarios import SCENARIOS, check, mint_tokens, request_body, request_headers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from examples.common import Seeded, seed
from examples.fastapi_app import create_app as create_fastapi_app
from examples.starlette_app import create_app as create_starlette_app

Factory = Callable[..., Any]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[FrozenClock, Seeded, dict[str, str]]:
    clock = FrozenClock()
    seeded = seed(tmp_path_factory.mktemp("shop") / "shop.db", clock=clock)
    return clock, seeded, mint_tokens(seeded, clock)


@pytest.mark.parametrize("factory", [create_starlette_app, create_fastapi_app], ids=["starlette", "fastapi"])
def test_scenario_table_through_the_test_client(factory: Factory, shop: tuple[FrozenClock, Seeded, dict[str, str]]
                                               ) -> None:
    clock, seeded, tokens = shop
    calls: list[str] = []
    sink = MemorySink()
    app = factory(seeded.path, clock=clock, audit=sink, on_call=lambda name, params: calls.append(name))
    with TestClient(app) as client:  # runs the lifespan: strict mode proves every route is mapped
        for scenario in SCENARIOS:
            calls.clear()
            response = client.request(scenario.method, scenario.path, headers=request_headers(scenario, tokens),
                                      content=request_body(scenario), follow_redirects=False)
            headers = {name.lower(): value for name, value in response.headers.items()}
            check(scenario, response.status_code, headers, response.content, list(calls))
    denies = [record for record in sink.records if record.effect == "Deny"]
    assert {record.reason for record in denies} >= {"missing_credentials", "invalid_token", "implicit_deny",
                                                      "mfa_required", "malformed_request", "invalid_request"}
    for token in tokens.values():
        assert all(token not in record.to_json() for record in sink.records)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(shop: tuple[FrozenClock, Seeded, dict[str, str]]) -> Iterator[tuple[int, list[str]]]:
    clock, seeded, _ = shop
    calls: list[str] = []
    app = create_starlette_app(seeded.path, clock=clock, audit=MemorySink(),
                               on_call=lambda name, params: calls.append(name))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port, calls
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_scenario_table_against_a_real_uvicorn_server(served: tuple[int, list[str]],
                                                      shop: tuple[FrozenClock, Seeded, dict[str, str]]) -> None:
    port, calls = served
    _, _, tokens = shop
    for scenario in SCENARIOS:
        calls.clear()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            # http.client sends the target byte for byte: no client-side normalization.
            connection.putrequest(scenario.method, scenario.path, skip_accept_encoding=True)
            for name, value in request_headers(scenario, tokens):
                connection.putheader(name, value)
            body = request_body(scenario)
            connection.putheader("content-length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            payload = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        check(scenario, response.status, headers, payload, list(calls))


def test_raw_dot_segments_on_the_wire(served: tuple[int, list[str]],
                                      shop: tuple[FrozenClock, Seeded, dict[str, str]]) -> None:
    port, calls = served
    _, _, tokens = shop
    for target in ("/orders/../health", "/orders/./1001", "/orders/1001%2f", "/orders/1001\\x", "/orders/%ff"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest("GET", target, skip_accept_encoding=True)
            connection.putheader("authorization", f"Bearer {tokens['admin']}")
            connection.endheaders()
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == 400, target
    assert calls == []


def test_examples_refuse_to_start_with_an_unmapped_route(shop: tuple[FrozenClock, Seeded, dict[str, str]]) -> None:
    from starlette.routing import Route

    clock, seeded, _ = shop
    app = create_starlette_app(seeded.path, clock=clock)

    async def forgotten(request: Any) -> Any:
        raise AssertionError("never runs")

    app.router.routes.append(Route("/forgotten", forgotten))
    with pytest.raises(RuntimeError, match="/forgotten"), TestClient(app):
        pass


def test_example_paths_exist(shop: tuple[FrozenClock, Seeded, dict[str, str]]) -> None:
    assert Path(shop[1].path).exists()
