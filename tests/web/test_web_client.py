"""The httpx Auth against the example apps: token exchange, refresh before expiry, step-up."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.common import Seeded, seed
from examples.fastapi_app import create_app as create_fastapi_app
from examples.starlette_app import create_app as create_starlette_app
from iamguard.client import IamAuth, StepUpError, TokenExchangeError, challenge_error
from iamguard.clock import FrozenClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


class PathLog:
    """ASGI wrapper recording every request path, to count token exchanges and retries."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.fixture
def shop(tmp_path: Path) -> tuple[FrozenClock, Seeded]:
    clock = FrozenClock()
    return clock, seed(tmp_path / "shop.db", clock=clock)


def auth_for(seeded: Seeded, name: str, clock: FrozenClock, code: Callable[[], Any] | None = None) -> IamAuth:
    user = seeded.users[name]
    return IamAuth("/auth/token", user.access_key_id, user.secret_access_key, step_up_url="/auth/step-up",
                   mfa_code=code, clock=clock)


@pytest.mark.parametrize("factory", [create_starlette_app, create_fastapi_app], ids=["starlette", "fastapi"])
def test_sync_client_exchanges_steps_up_and_retries_once(factory: Callable[..., Any],
                                                         shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    calls: list[str] = []
    log = PathLog(factory(seeded.path, clock=clock, on_call=lambda name, params: calls.append(name)))
    asked: list[int] = []

    def code() -> str:
        asked.append(1)
        return seeded.users["manager"].totp(clock)

    auth = auth_for(seeded, "manager", clock, code)
    with TestClient(log, base_url="http://testserver") as client:
        assert client.get("/orders", auth=auth).status_code == 200
        assert client.get("/orders/1001", auth=auth).status_code == 200
        deleted = client.delete("/orders/1001", auth=auth)
    assert deleted.status_code == 204
    assert asked == [1]
    assert log.paths == ["POST /auth/token", "GET /orders", "GET /orders/1001", "DELETE /orders/1001",
                         "POST /auth/step-up", "DELETE /orders/1001"]
    assert calls == ["list_orders", "get_order", "delete_order"]


def test_async_client_with_an_async_code_callback(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    log = PathLog(create_starlette_app(seeded.path, clock=clock))

    async def code() -> str:
        await asyncio.sleep(0)
        return seeded.users["manager"].totp(clock)

    async def run() -> list[int]:
        auth = auth_for(seeded, "manager", clock, code)
        transport = httpx.ASGITransport(app=log)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", auth=auth) as client:
            first = await client.get("/orders")
            second = await client.delete("/orders/1002")
            third = await client.get("/orders/1002")
        return [first.status_code, second.status_code, third.status_code]

    assert asyncio.run(run()) == [200, 204, 404]
    assert log.paths.count("POST /auth/step-up") == 1 and log.paths.count("POST /auth/token") == 1


def test_token_is_refreshed_before_it_expires(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    log = PathLog(create_starlette_app(seeded.path, clock=clock))
    auth = auth_for(seeded, "reader", clock)
    with TestClient(log, base_url="http://testserver") as client:
        client.get("/orders", auth=auth)
        clock.advance(60)
        client.get("/orders", auth=auth)
        assert log.paths.count("POST /auth/token") == 1
        clock.advance(12 * 3600 - 60 - 30)  # inside the refresh margin of the 12-hour default session
        assert client.get("/orders", auth=auth).status_code == 200
    assert log.paths.count("POST /auth/token") == 2


def test_no_step_up_for_a_plain_deny_and_no_retry_loop(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    log = PathLog(create_starlette_app(seeded.path, clock=clock))
    asked: list[int] = []
    auth = auth_for(seeded, "reader", clock, lambda: asked.append(1) or "123456")
    with TestClient(log, base_url="http://testserver") as client:
        assert client.delete("/orders/1001", auth=auth).status_code == 403
    assert asked == []
    assert log.paths == ["POST /auth/token", "DELETE /orders/1001"]


def test_a_wrong_code_raises_and_the_handler_never_runs(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    calls: list[str] = []
    app = create_starlette_app(seeded.path, clock=clock, on_call=lambda name, params: calls.append(name))
    auth = auth_for(seeded, "manager", clock, lambda: "000000")
    with TestClient(app, base_url="http://testserver") as client, pytest.raises(StepUpError) as raised:
        client.delete("/orders/1001", auth=auth)
    assert raised.value.status == 403 and raised.value.error == "InvalidAuthenticationCode"
    assert calls == []
    assert "000000" not in str(raised.value)


def test_bad_secret_raises_without_leaking_it(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    app = create_starlette_app(seeded.path, clock=clock)
    user = seeded.users["reader"]
    auth = IamAuth("/auth/token", user.access_key_id, "wrong-secret-value", clock=clock)
    with TestClient(app, base_url="http://testserver") as client, pytest.raises(TokenExchangeError) as raised:
        client.get("/orders", auth=auth)
    assert raised.value.status == 403
    assert "wrong-secret-value" not in str(raised.value) and "wrong-secret-value" not in repr(auth)


def test_password_login_and_revoked_token_recovery(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    log = PathLog(create_starlette_app(seeded.path, clock=clock))
    user = seeded.users["reader"]
    auth = IamAuth("/auth/token", user_name="reader", password=user.password, clock=clock)
    with TestClient(log, base_url="http://testserver") as client:
        assert client.get("/orders", auth=auth).status_code == 200
        from examples.common import open_store

        _, credentials = open_store(seeded.path, clock=clock)
        clock.advance(1)
        credentials.revoke_sessions(user.arn)
        clock.advance(1)
        assert client.get("/orders", auth=auth).status_code == 200  # re-exchanged once, then retried
    assert log.paths.count("POST /auth/token") == 2


def test_endpoint_errors_are_shaped(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    app = create_starlette_app(seeded.path, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        assert client.post("/auth/token", content=b"{}", headers={"content-type": "text/plain"}).status_code == 400
        assert client.post("/auth/token", json={"access_key_id": 1}).status_code == 400
        json_type = {"content-type": "application/json"}
        duplicate = client.post("/auth/token", content=b'{"a": 1, "a": 2}', headers=json_type)
        assert duplicate.status_code == 400
        assert client.post("/auth/token", content=b"x" * 20000,
                           headers={"content-type": "application/json"}).status_code == 413
        assert client.post("/auth/step-up", json={"mfa_code": "123456"}).status_code == 401
        forged = client.post("/auth/step-up", json={"mfa_code": "123456"}, headers={"authorization": "Bearer x.y.z"})
        assert forged.status_code == 401 and challenge_error(forged) == "invalid_token"


def test_throttled_logins_answer_429_with_retry_after(shop: tuple[FrozenClock, Seeded]) -> None:
    clock, seeded = shop
    app = create_starlette_app(seeded.path, clock=clock)
    statuses = []
    with TestClient(app, base_url="http://testserver") as client:
        for _ in range(6):  # the credentials layer locks a login after 5 consecutive failures
            response = client.post("/auth/token", json={"user_name": "reader", "password": "wrong-password"})
            statuses.append(response.status_code)
    assert statuses[:5] == [403] * 5  # refused body credentials: 403, as a refused access key
    assert statuses[5] == 429 and int(response.headers["retry-after"]) >= 1
    assert response.json()["error"] == "Throttling"


def test_assume_role_endpoint_issues_a_role_session(shop: tuple[FrozenClock, Seeded]) -> None:
    from examples.common import TENANT, open_store

    clock, seeded = shop
    directory, _ = open_store(seeded.path, clock=clock)
    admin = seeded.users["admin"]
    role = directory.create_role("auditor", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin.arn}, "Action": "sts:AssumeRole"}]})
    directory.attach_role_policy("auditor", f"arn:aws:iam::{TENANT}:policy/OrdersReadOnly")
    directory.put_user_policy("admin", "MayAssumeAuditor", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role.arn}]})
    calls: list[str] = []
    app = create_starlette_app(seeded.path, clock=clock, on_call=lambda name, params: calls.append(name))
    with TestClient(app, base_url="http://testserver") as client:
        token = client.post("/auth/token", json={"access_key_id": admin.access_key_id,
                                                 "secret_access_key": admin.secret_access_key}).json()["token"]
        assumed = client.post("/auth/assume-role", json={"role_arn": role.arn, "session_name": "audit-1"},
                              headers={"authorization": f"Bearer {token}"})
        assert assumed.status_code == 200
        assert assumed.json()["session_arn"] == f"arn:aws:sts::{TENANT}:assumed-role/auditor/audit-1"
        role_token = assumed.json()["token"]
        assert client.get("/orders", headers={"authorization": f"Bearer {role_token}"}).status_code == 200
        assert client.delete("/orders/1001", headers={"authorization": f"Bearer {role_token}"}).status_code == 403
        reader = seeded.users["reader"]
        reader_token = client.post("/auth/token", json={"access_key_id": reader.access_key_id,
                                                        "secret_access_key": reader.secret_access_key}).json()["token"]
        refused = client.post("/auth/assume-role", json={"role_arn": role.arn, "session_name": "nope"},
                              headers={"authorization": f"Bearer {reader_token}"})
        assert refused.status_code == 403 and refused.json()["error"] == "AccessDenied"
        assert client.post("/auth/assume-role", json={"role_arn": role.arn, "session_name": "x"}).status_code == 401
    assert calls == ["list_orders"]


@pytest.mark.parametrize(("header", "error"), [
    ('Bearer error="insufficient_user_authentication", max_age=300', "insufficient_user_authentication"),
    ("Bearer error=invalid_token", "invalid_token"),
    ('Bearer realm="api", error="invalid_token"', "invalid_token"),
    ('bearer  realm="api" ,  error="invalid_token" ', "invalid_token"),
    # A comma or `error=` inside a quoted value is part of that value, not a parameter.
    ('Bearer realm="a, error=insufficient_user_authentication", error="invalid_token"', "invalid_token"),
    ('Bearer error_description="error=invalid_token", error="insufficient_user_authentication"',
     "insufficient_user_authentication"),
    ('Bearer realm="say \\"error=invalid_token\\""', None),
    ('Bearer error="a\\"b"', 'a"b'),
    ("Bearer", None),
    ('Basic realm="x", error="invalid_token"', None),
    ('Bearer realm="unterminated, error="invalid_token"', None),  # stops parsing: nothing after is read
])
def test_challenge_error_reads_auth_params_as_rfc_9110_writes_them(header: str, error: str | None) -> None:
    response = httpx.Response(401, headers={"www-authenticate": header})
    assert challenge_error(response) == error
