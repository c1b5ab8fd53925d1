"""FastAPI: the `Depends(iam.require(...))` dependency, with and without the middleware, through
included routers and their prefixes."""


import asyncio
import warnings
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI

from iamguard.asgi import Iam
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard, IamContext, public
from tests.web.asgi_support import Recorder, call_raw
from tests.web.stubs import ORDER_ARN, TENANT, standard_authority

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORDER = "arn:app:orders::{tenant}:order/{order_id}"


def build(*, middleware: bool, install: bool = True) -> tuple[FastAPI, Recorder, MemorySink]:
    recorder = Recorder()
    sink = MemorySink()
    guard = Guard(standard_authority(), tenant=TENANT, audit=sink, clock=FrozenClock(),
                  routes=[public(methods="GET", path="/health")])
    iam = Iam(guard)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    router = APIRouter()

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str,
                        ctx: Annotated[IamContext, Depends(iam.require("orders:GetOrder", ORDER))]) -> dict[str, Any]:
        recorder.hit("get_order", {"order_id": order_id})
        return {"resource": ctx.resource, "principal": ctx.principal}

    @router.delete("/orders/{order_id}", dependencies=[Depends(iam.require("orders:DeleteOrder", ORDER))])
    async def delete_order(order_id: int) -> dict[str, Any]:
        recorder.hit("delete_order", {"order_id": order_id})
        return {"deleted": order_id}

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/unmapped")
    async def unmapped() -> dict[str, bool]:
        recorder.hit("unmapped", {})
        return {"secret": True}

    app.include_router(router, prefix="/v1")
    if install:
        iam.install(app)
    if middleware:
        app.add_middleware(iam.middleware().cls, iam=iam)
    return app, recorder, sink


READER = {"Authorization": "Bearer reader"}


@pytest.mark.parametrize("middleware", [True, False])
def test_dependency_decides_with_and_without_the_middleware(middleware: bool) -> None:
    app, recorder, sink = build(middleware=middleware)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(app)
    ok = client.get("/v1/orders/5", headers=READER)
    assert ok.status_code == 200 and ok.json()["resource"] == f"{ORDER_ARN}/5"
    denied = client.delete("/v1/orders/5", headers=READER)
    assert denied.status_code == 403
    assert denied.json() == {"error": "AccessDenied", "action": "orders:DeleteOrder", "resource": f"{ORDER_ARN}/5"}
    step_up = client.delete("/v1/orders/5", headers={"Authorization": "Bearer writer"})
    assert step_up.status_code == 401
    assert 'error="insufficient_user_authentication"' in step_up.headers["www-authenticate"]
    assert client.delete("/v1/orders/5", headers={"Authorization": "Bearer writer-mfa"}).json() == {"deleted": 5}
    missing = client.get("/v1/orders/5")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert [name for name, _ in recorder.calls] == ["get_order", "delete_order"]
    # One decision per request: the dependency reuses the middleware's decision.
    assert [record.reason for record in sink.records].count("allowed") == 2


def test_without_install_the_status_and_challenge_are_still_right() -> None:
    app, recorder, _ = build(middleware=False, install=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(app)
    response = client.delete("/v1/orders/5", headers={"Authorization": "Bearer writer"})
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "insufficient_user_authentication"
    assert recorder.calls == []


def test_middleware_finds_rules_in_dependencies_through_included_routers() -> None:
    app, recorder, sink = build(middleware=True)
    response = asyncio.run(call_raw(app, "DELETE", b"/v1/orders/5", [("authorization", "Bearer reader")]))
    assert response.status == 403 and recorder.calls == []
    assert sink.records[-1].route == "/v1/orders/{order_id}"
    attacks = [b"/v1/orders/5%2F..%2F6", b"/v1//orders/5", b"/v1/orders/../unmapped"]
    for target in attacks:
        assert asyncio.run(call_raw(app, "GET", target, [("authorization", "Bearer reader")])).status == 400
    unmapped = asyncio.run(call_raw(app, "GET", b"/unmapped", [("authorization", "Bearer reader")]))
    assert unmapped.status == 403 and recorder.calls == []


def test_listing_covers_included_routers() -> None:
    app, _, _ = build(middleware=True)
    iam = Iam(Guard(standard_authority(), tenant=TENANT, routes=[public(methods="GET", path="/health")]))
    reports = {(report.method, report.path): report for report in iam.report(app)}
    assert reports[("GET", "/v1/orders/{order_id}")].rule is not None
    assert reports[("DELETE", "/v1/orders/{order_id}")].ok
    assert reports[("GET", "/unmapped")].problem == "unmapped"
    assert reports[("GET", "/health")].ok
