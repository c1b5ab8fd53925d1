"""Regression tests for defects found in the red-team review of the web layer.

Each test names the spec item it guards and fails on the code as it was before the fix."""


import asyncio
import enum
import uuid
from datetime import timedelta, timezone
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard, IamContext, Login, WebRequest, rule
from iamguard.web.network import TrustedProxies, parse_address, source_ip
from tests.web.asgi_support import Recorder, call_raw
from tests.web.stubs import ALICE, ORDER_ARN, TENANT, WRITER, StubDirectory, StubSession, standard_authority

ORDER = "arn:app:orders::{tenant}:order/{order_id}"
ROUTE = "/orders/{order_id}"
BLOCKED_NETWORK = "203.0.113.0/24"
# Everything on orders, except from one network and except order 7.
GUARDED = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": BLOCKED_NETWORK}}},
    {"Effect": "Deny", "Action": "*", "Resource": f"{ORDER_ARN}/7"}]}


def guarded_authority() -> Any:
    authority = standard_authority()
    authority.add("guarded", StubSession(ALICE, "alice"), GUARDED)
    return authority


# ---- CTX-01/CTX-02: an IPv4 client written as IPv4-mapped IPv6 is still that IPv4 client ------

# (peer, X-Forwarded-For, trusted proxies, expected aws:SourceIp). A dual-stack socket reports an
# IPv4 peer as ::ffff:a.b.c.d, and so does a dual-stack proxy in the header it writes.
MAPPED_ADDRESSES = [
    ("::ffff:203.0.113.5", None, (), "203.0.113.5"),
    ("::ffff:203.0.113.5", None, ("10.0.0.0/8",), "203.0.113.5"),
    ("10.0.0.1", "::ffff:203.0.113.5", ("10.0.0.0/8",), "203.0.113.5"),
    ("::ffff:10.0.0.1", "203.0.113.5", ("10.0.0.0/8",), "203.0.113.5"),
    ("10.0.0.1", "203.0.113.5, ::ffff:10.0.0.2", ("10.0.0.0/8",), "203.0.113.5"),
    ("2001:db8::1", None, (), "2001:db8::1"),  # real IPv6 stays IPv6
]


@pytest.mark.parametrize(("peer", "forwarded_for", "trusted", "expected"), MAPPED_ADDRESSES)
def test_ipv4_mapped_addresses_are_read_as_ipv4(peer: str, forwarded_for: str | None, trusted: tuple[str, ...],
                                                expected: str) -> None:
    proxies = TrustedProxies.of(trusted)
    assert source_ip(peer, [forwarded_for] if forwarded_for else [], proxies) == expected
    guard = Guard(guarded_authority(), tenant=TENANT, clock=FrozenClock(), trusted_proxies=list(trusted),
                  routes=[rule("orders:GetOrder", ORDER, methods="GET", path=ROUTE)])
    headers = [("authorization", "Bearer guarded")]
    if forwarded_for:
        headers.append(("x-forwarded-for", forwarded_for))
    verdict = guard.check_sync(WebRequest(method="GET", path="/orders/1", raw_path=b"/orders/1",
                                          headers=tuple(headers), client=peer, route=ROUTE,
                                          path_params={"order_id": "1"}))
    blocked = expected.startswith("203.0.113.")
    assert (verdict.allowed, verdict.status) == ((False, 403) if blocked else (True, None))


def test_forwarded_ipv4_mapped_node_is_read_as_ipv4() -> None:
    proxies = TrustedProxies.of(["10.0.0.0/8"])
    assert source_ip("10.0.0.1", [], proxies, forwarded=['for="[::ffff:203.0.113.5]:4711"']) == "203.0.113.5"


# ---- MAP-11: a Starlette decorator without the middleware denies the methods it does not cover --

def decorated_app(*, stacked: bool) -> tuple[Starlette, Recorder]:
    recorder = Recorder()
    iam = Iam(Guard(standard_authority(), tenant=TENANT, clock=FrozenClock(), audit=MemorySink()))

    async def order(request: Request) -> JSONResponse:
        recorder.hit(request.method, request.path_params)
        return JSONResponse({"method": request.method})

    endpoint = iam.protect("orders:GetOrder", ORDER, methods="GET")(order)
    if stacked:
        endpoint = iam.protect("orders:DeleteOrder", ORDER, methods="DELETE")(endpoint)
    return Starlette(routes=[Route(ROUTE, endpoint, methods=["GET", "POST", "DELETE"])]), recorder


# (stacked decorators, method, token, status, handler runs)
UNCOVERED = [
    (False, "POST", None, 401, False),
    (False, "POST", "reader", 403, False),
    (False, "DELETE", "writer-mfa", 403, False),
    (False, "GET", "reader", 200, True),
    (True, "DELETE", "writer-mfa", 200, True),
    (True, "DELETE", "reader", 403, False),
    (True, "POST", "writer-mfa", 403, False),
    (True, "GET", "reader", 200, True),
]


@pytest.mark.parametrize(("stacked", "method", "token", "status", "runs"), UNCOVERED)
def test_decorator_alone_denies_methods_no_rule_covers(stacked: bool, method: str, token: str | None, status: int,
                                                       runs: bool) -> None:
    app, recorder = decorated_app(stacked=stacked)
    headers = [("authorization", f"Bearer {token}")] if token else []
    response = asyncio.run(call_raw(app, method, b"/orders/1", headers))
    assert response.status == status
    assert [name for name, _ in recorder.calls] == ([method] if runs else [])


# ---- MAP-01/APP-01: FastAPI's typed path parameters name the object the ARN names -------------

class Colour(str, enum.Enum):
    red = "red"


def fastapi_app(*, middleware: bool) -> tuple[Any, Recorder]:
    recorder = Recorder()
    iam = Iam(Guard(guarded_authority(), tenant=TENANT, clock=FrozenClock(), audit=MemorySink()))
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    iam.install(api)
    router = APIRouter()

    def order_number(order_id: int) -> int:  # a dependency that reads the parameter as a number
        return order_id

    @router.get("/orders/{order_id}")
    async def get_order(order_id: int, ctx: Annotated[IamContext, Depends(iam.require("orders:GetOrder", ORDER))]
                        ) -> dict[str, Any]:
        recorder.hit("get_order", {"order_id": order_id})
        return {"resource": ctx.resource}

    @router.get("/notes/{order_id}")
    async def get_note(order_id: str, number: Annotated[int, Depends(order_number)],
                       ctx: Annotated[IamContext, Depends(iam.require("orders:GetOrder", ORDER))]) -> dict[str, Any]:
        recorder.hit("get_note", {"order_id": number})
        return {"resource": ctx.resource}

    @router.get("/ids/{order_id}")
    async def get_by_uuid(order_id: uuid.UUID,
                          ctx: Annotated[IamContext, Depends(iam.require("orders:GetOrder", ORDER))]) -> dict[str, Any]:
        recorder.hit("get_by_uuid", {"order_id": str(order_id)})
        return {"resource": ctx.resource}

    @router.get("/colours/{order_id}")
    async def get_colour(order_id: Colour,
                         ctx: Annotated[IamContext, Depends(iam.require("orders:GetOrder", ORDER))]) -> dict[str, Any]:
        recorder.hit("get_colour", {"order_id": order_id.value})
        return {"resource": ctx.resource}

    @router.get("/aliased/{oid}")
    async def get_aliased(number: Annotated[int, Path(alias="oid")],
                          ctx: Annotated[IamContext, Depends(iam.require(
                              "orders:GetOrder", "arn:app:orders::{tenant}:order/{oid}"))]) -> dict[str, Any]:
        recorder.hit("get_aliased", {"oid": number})
        return {"resource": ctx.resource}

    api.include_router(router, prefix="/v1")
    return (iam.wrap(api) if middleware else api), recorder


SAMPLE_UUID = "3f2c8a64-5b1e-4c1a-9d7e-2a6b0c4d8e10"
# (target, status, handler runs). Order 7 is denied; every other spelling of 7 must be too.
TYPED_PARAMETERS = [
    (b"/v1/orders/7", 403, False),
    (b"/v1/orders/8", 200, True),
    (b"/v1/orders/007", 400, False),
    (b"/v1/orders/+7", 400, False),
    (b"/v1/orders/7_0", 400, False),
    (b"/v1/notes/07", 400, False),
    (b"/v1/notes/8", 200, True),
    (b"/v1/aliased/07", 400, False),
    (b"/v1/aliased/8", 200, True),
    (f"/v1/ids/{SAMPLE_UUID}".encode(), 200, True),
    (f"/v1/ids/{SAMPLE_UUID.upper()}".encode(), 400, False),
    (f"/v1/ids/{SAMPLE_UUID.replace('-', '')}".encode(), 400, False),
    (b"/v1/colours/red", 200, True),
]


@pytest.mark.parametrize("middleware", [True, False])
@pytest.mark.parametrize(("target", "status", "runs"), TYPED_PARAMETERS)
def test_fastapi_typed_parameters_must_be_spelled_as_their_value(middleware: bool, target: bytes, status: int,
                                                                 runs: bool) -> None:
    app, recorder = fastapi_app(middleware=middleware)
    response = asyncio.run(call_raw(app, "GET", target, [("authorization", "Bearer guarded")]))
    assert response.status == status
    assert bool(recorder.calls) is runs
    if runs:  # the oracle: the handler's value, as text, is the one in the ARN
        (_, received), = recorder.calls
        assert response.body.decode().endswith(f'/{next(iter(received.values()))}"}}')


# ---- MFA-07: an application login's MFA time must be an unambiguous instant -------------------

@pytest.mark.parametrize(("aware", "status", "reason"), [(True, 401, "mfa_required"),
                                                         (False, 503, "authentication_error")])
def test_a_naive_mfa_time_from_a_resolver_is_refused(aware: bool, status: int, reason: str) -> None:
    clock = FrozenClock()
    two_hours_ago = clock.now().astimezone(timezone.utc) - timedelta(hours=2)
    # Naive and shifted as the local time of a zone behind UTC would be: read as local time it
    # would look minutes old, or in the future, and pass MFA-age conditions.
    moment = two_hours_ago if aware else (two_hours_ago + timedelta(hours=5)).replace(tzinfo=None)
    guard = Guard(directory=StubDirectory({ALICE: (WRITER,)}), resolver=lambda _: Login(ALICE, moment),
                  tenant=TENANT, clock=clock, audit=MemorySink(),
                  routes=[rule("orders:DeleteOrder", ORDER, methods="DELETE", path=ROUTE)])
    verdict = guard.check_sync(WebRequest(method="DELETE", path="/orders/1", raw_path=b"/orders/1", route=ROUTE,
                                          path_params={"order_id": "1"}, client="192.0.2.1"))
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, status, reason)


@pytest.mark.parametrize(("ahead_seconds", "status", "reason"), [
    (0, 204, "allowed"), (59, 204, "allowed"), (61, 503, "authentication_error"),
    (10 * 365 * 86400, 503, "authentication_error"),
])
def test_an_mfa_time_in_the_future_is_fresh_only_within_the_clock_skew(ahead_seconds: int, status: int,
                                                                       reason: str) -> None:
    clock = FrozenClock()
    moment = clock.now().astimezone(timezone.utc) + timedelta(seconds=ahead_seconds)
    guard = Guard(directory=StubDirectory({ALICE: (WRITER,)}), resolver=lambda _: Login(ALICE, moment),
                  tenant=TENANT, clock=clock, audit=MemorySink(),
                  routes=[rule("orders:DeleteOrder", ORDER, methods="DELETE", path=ROUTE)])
    verdict = guard.check_sync(WebRequest(method="DELETE", path="/orders/1", raw_path=b"/orders/1", route=ROUTE,
                                          path_params={"order_id": "1"}, client="192.0.2.1"))
    assert (verdict.status if not verdict.allowed else 204, verdict.reason) == (status, reason)


@pytest.mark.parametrize(("entry", "peer", "trusted"), [
    ("::ffff:10.0.0.0/104", "10.1.2.3", True),
    ("::ffff:10.0.0.0/104", "::ffff:10.1.2.3", True),
    ("::ffff:10.0.0.0/104", "11.0.0.1", False),
    ("::ffff:192.0.2.7/128", "192.0.2.7", True),
    ("10.0.0.0/8", "::ffff:10.9.9.9", True),
    ("2001:db8::/32", "2001:db8::1", True),
    ("2001:db8::/32", "10.0.0.1", False),
])
def test_trusted_proxies_written_in_mapped_form_trust_the_ipv4_peers(entry: str, peer: str, trusted: bool) -> None:
    assert TrustedProxies.of([entry]).trusts(parse_address(peer)) is trusted
