"""One scenario table for every example app (Starlette, FastAPI, Flask, Django, real uvicorn).

Each app serves the same orders service (examples/common.py) on the same paths, without
trailing slashes:

    GET /health (public), GET /orders, POST /orders, GET /orders/<order_id>, DELETE /orders/<order_id>

and calls `on_call(handler_name, params)` whenever a protected handler runs. A harness:

    seeded = seed(tmp_path / "shop.db", clock=clock)           # examples.common.seed
    tokens = mint_tokens(seeded, clock)
    app = create_app(seeded.path, clock=clock, on_call=calls.append-like)
    for scenario in SCENARIOS:                                  # in order: later rows delete orders
        status, headers, body = <send scenario.method, scenario.path with request_headers(scenario, tokens)
                                 and scenario.body as JSON>
        check(scenario, status, headers, body, <handler names called for this request>)

`headers` are the response headers with lower-case names. Where frameworks legitimately differ
(a trailing slash is a 307 redirect in Starlette and a 404 or 308 elsewhere), `status` is a set;
in every such row no protected handler may run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iamguard.clock import Clock, FrozenClock
from iamguard.credentials import AccessKeyCredentials

TENANT = "111122223333"
ORDERS = f"arn:app:orders::{TENANT}:orders"


def order_arn(order_id: str) -> str:
    return f"arn:app:orders::{TENANT}:order/{order_id}"


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    who: str | None  # a key of mint_tokens(), or None for no credentials
    status: int | frozenset[int]
    handler: str | None = None  # the protected handler that must run; None: none may run
    json: Mapping[str, Any] | None = None  # expected subset of the JSON body
    challenge: str | None = None  # expected start of WWW-Authenticate
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None  # sent as JSON when not None
    no_handler_on: frozenset[int] = frozenset()  # statuses (of `status`) with which no handler runs

    @property
    def statuses(self) -> frozenset[int]:
        return self.status if isinstance(self.status, frozenset) else frozenset({self.status})


STEP_UP = 'Bearer error="insufficient_user_authentication"'
INVALID = 'Bearer error="invalid_token"'
NO_ROUTE = frozenset({404})
REDIRECT_OR_404 = frozenset({301, 307, 308, 404})

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("public health check", "GET", "/health", None, 200, json={"status": "ok"}),
    Scenario("reader lists orders", "GET", "/orders", "reader", 200, handler="list_orders"),
    Scenario("anonymous is challenged", "GET", "/orders", None, 401, challenge="Bearer"),
    Scenario("reader reads an order", "GET", "/orders/1001", "reader", 200, handler="get_order",
             json={"id": "1001", "item": "coffee beans"}),
    Scenario("reader reads a missing order", "GET", "/orders/9999", "reader", 404, handler="get_order"),
    Scenario("wildcard id is a literal id", "GET", "/orders/*", "reader", 404, handler="get_order"),
    Scenario("reader cannot create", "POST", "/orders", "reader", 403, body={"item": "pens", "quantity": 3},
             json={"error": "AccessDenied", "action": "orders:CreateOrder", "resource": ORDERS}),
    Scenario("admin creates", "POST", "/orders", "admin", 201, handler="create_order",
             body={"item": "pens", "quantity": 3}, json={"item": "pens", "quantity": 3}),
    Scenario("reader cannot delete", "DELETE", "/orders/1001", "reader", 403,
             json={"error": "AccessDenied", "action": "orders:DeleteOrder", "resource": order_arn("1001")}),
    Scenario("manager must step up to delete", "DELETE", "/orders/1001", "manager", 401, challenge=STEP_UP,
             json={"error": "insufficient_user_authentication", "max_age": 300, "step_up_endpoint": "/auth/step-up"}),
    Scenario("forged signature", "GET", "/orders", "forged-signature", 401, challenge=INVALID),
    Scenario("unsigned alg none", "GET", "/orders", "alg-none", 401, challenge=INVALID),
    Scenario("expired token", "GET", "/orders", "expired", 401, challenge=INVALID),
    Scenario("garbage token", "GET", "/orders", "garbage", 401, challenge=INVALID),
    Scenario("two tokens", "GET", "/orders", "reader", 400,
             headers=(("authorization", "Bearer also-a-token"),), json={"error": "invalid_request"}),
    Scenario("token in the query string", "GET", "/orders?access_token=x", None, 400),
    Scenario("encoded slash", "GET", "/orders/1001%2F..%2F1002", "admin", 400),
    Scenario("encoded dot segment", "GET", "/orders/%2e%2e/health", "admin", 400),
    Scenario("double slash", "GET", "/orders//1001", "admin", 400),
    Scenario("matrix parameter", "GET", "/orders/1001;jsessionid=x", "admin", 400),
    Scenario("double encoding", "GET", "/orders/1001%252F", "admin", 400),
    Scenario("encoded newline", "GET", "/orders/1001%0A", "admin", 400),
    Scenario("encoded NUL", "GET", "/orders/1001%00", "admin", 400),
    Scenario("method override header", "POST", "/orders", "reader", 400,
             headers=(("x-http-method-override", "GET"),), body={"item": "x", "quantity": 1}),
    Scenario("method override parameter", "POST", "/orders?_method=GET", "reader", 400,
             body={"item": "x", "quantity": 1}),
    Scenario("case change routes nowhere", "GET", "/ORDERS", "admin", NO_ROUTE),
    Scenario("trailing slash runs no handler", "GET", "/orders/1001/", "admin", REDIRECT_OR_404),
    Scenario("unknown method", "TRACE", "/orders", "admin", frozenset({405})),
    # FastAPI routes do not answer HEAD (405); Starlette, Flask and Django run the GET handler.
    Scenario("head is authorized as get", "HEAD", "/orders/1001", "reader", frozenset({200, 405}),
             handler="get_order", no_handler_on=frozenset({405})),
    Scenario("anonymous head is challenged", "HEAD", "/orders/1001", None, frozenset({401, 405})),
    Scenario("manager with fresh mfa deletes", "DELETE", "/orders/1002", "manager-mfa", 204, handler="delete_order"),
    Scenario("admin deletes without mfa", "DELETE", "/orders/1001", "admin", 204, handler="delete_order"),
    Scenario("deleted order is gone", "GET", "/orders/1001", "admin", 404, handler="get_order"),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge_tokens(genuine: str) -> dict[str, str]:
    """Tokens an attacker can make from a genuine one: the same claims and header re-signed with
    their own key, the same claims unsigned (`alg: none`), and junk."""
    header = jwt.get_unverified_header(genuine)
    payload = jwt.decode(genuine, options={"verify_signature": False})
    algorithm = header.get("alg", "EdDSA")
    attacker_key: Any = Ed25519PrivateKey.generate() if algorithm == "EdDSA" else ec.generate_private_key(
        ec.SECP256R1())
    kept = {key: value for key, value in header.items() if key != "alg"}
    resigned = jwt.encode(payload, attacker_key, algorithm=algorithm, headers=kept)
    unsigned_header = {**header, "alg": "none"}
    unsigned = f"{_b64(json.dumps(unsigned_header).encode())}.{_b64(json.dumps(payload).encode())}."
    return {"forged-signature": resigned, "alg-none": unsigned, "garbage": "not.a.token"}


def mint_tokens(seeded: Any, clock: Clock) -> dict[str, str]:
    """Session tokens for every `who` in the table, minted against the seeded store."""
    import sys
    from pathlib import Path

    examples = str(Path(__file__).resolve().parents[2] / "examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    from common import open_store

    _, credentials = open_store(seeded.path, clock=clock)
    tokens: dict[str, str] = {}
    for name in ("admin", "reader", "manager"):
        user = seeded.users[name]
        tokens[name] = credentials.get_session_token(
            AccessKeyCredentials(user.access_key_id, user.secret_access_key)).token
    manager = seeded.users["manager"]
    tokens["manager-mfa"] = credentials.get_session_token(
        AccessKeyCredentials(manager.access_key_id, manager.secret_access_key), mfa_code=manager.totp(clock)).token
    past = FrozenClock(clock.time() - 7200)
    _, earlier = open_store(seeded.path, clock=past)
    tokens["expired"] = earlier.get_session_token(
        AccessKeyCredentials(manager.access_key_id, manager.secret_access_key), duration=900).token
    tokens.update(forge_tokens(tokens["reader"]))
    return tokens


def request_headers(scenario: Scenario, tokens: Mapping[str, str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    if scenario.who is not None:
        headers.append(("authorization", f"Bearer {tokens[scenario.who]}"))
    headers.extend(scenario.headers)
    if scenario.body is not None:
        headers.append(("content-type", "application/json"))
    return headers


def request_body(scenario: Scenario) -> bytes:
    return json.dumps(scenario.body).encode() if scenario.body is not None else b""


@dataclass
class Outcome:
    """What one harness saw for one scenario, for a readable assertion message."""

    scenario: Scenario
    status: int
    headers: Mapping[str, str]
    body: bytes
    handlers: Sequence[str] = field(default_factory=list)


def check(scenario: Scenario, status: int, headers: Mapping[str, str], body: bytes, handlers: Sequence[str]) -> None:
    """Assert that one response matches the scenario. `handlers`: protected handlers that ran."""
    where = f"scenario {scenario.name!r}: {scenario.method} {scenario.path}"
    expected = sorted(scenario.statuses)
    assert status in scenario.statuses, f"{where}: status {status}, expected {expected}: {body[:300]!r}"
    expected_handlers = [scenario.handler] if scenario.handler and status not in scenario.no_handler_on else []
    assert list(handlers) == expected_handlers, f"{where}: handlers {list(handlers)}, expected {expected_handlers}"
    if scenario.challenge is not None:
        challenge = headers.get("www-authenticate", "")
        assert challenge.startswith(scenario.challenge), f"{where}: WWW-Authenticate {challenge!r}"
        if scenario.challenge == "Bearer":
            assert challenge == "Bearer", f"{where}: a missing credential carries no error attribute"
    if scenario.json is not None and scenario.method != "HEAD":
        data = json.loads(body)
        for key, value in scenario.json.items():
            assert data.get(key) == value, f"{where}: body[{key!r}] = {data.get(key)!r}, expected {value!r}"
    if status in (401, 403) and scenario.method != "HEAD":
        assert b"Statement" not in body and b"Condition" not in body, f"{where}: the body leaks policy text"
