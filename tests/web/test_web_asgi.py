"""The ASGI middleware and Starlette decorators: the router's own match decides (MAP-01, MAP-10),
attacks never reach a protected handler, WebSockets are decided at the handshake."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from iamguard.asgi import Iam, IamMiddleware
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard, UnmappedRoutesError, public, rule
from tests.web.asgi_support import Recorder, call_raw
from tests.web.stubs import ORDER_ARN, TENANT, standard_authority

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORDER = "arn:app:orders::{tenant}:order/{order_id}"


def build(prefix: str = "", *, strict: bool = False, middleware: bool = True) -> tuple[Starlette, Recorder, MemorySink]:
    recorder = Recorder()
    sink = MemorySink()
    guard = Guard(standard_authority(), tenant=TENANT, audit=sink, clock=FrozenClock(),
                  routes=[rule("orders:DeleteOrder", ORDER, methods="DELETE", path=prefix + "/orders/{order_id}"),
                          public(methods="GET", path=prefix + "/health")])
    iam = Iam(guard)

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def get_order(request: Request) -> JSONResponse:
        recorder.hit("get_order", request.path_params)
        context = request.state.iam
        return JSONResponse({"principal": context.principal, "resource": context.resource,
                             "params": dict(context.path_params)})

    async def delete_order(request: Request) -> JSONResponse:
        recorder.hit("delete_order", request.path_params)
        return JSONResponse({"deleted": request.path_params["order_id"]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "anonymous": request.state.iam.anonymous})

    async def admin(request: Request) -> JSONResponse:
        recorder.hit("admin", request.path_params)
        return JSONResponse({"secret": True})

    async def files(request: Request) -> JSONResponse:
        recorder.hit("files", request.path_params)
        return JSONResponse({"path": request.path_params["path"]})

    class Lines(HTTPEndpoint):
        @iam.protect("orders:ListOrders", "arn:app:orders::{tenant}:order/{order_id}", methods="GET")
        async def get(self, request: Request) -> JSONResponse:
            recorder.hit("lines", request.path_params)
            return JSONResponse({"lines": []})

    @iam.protect("orders:GetOrder", ORDER)
    async def watch(websocket: WebSocket) -> None:
        recorder.hit("watch", websocket.path_params)
        await websocket.accept()
        await websocket.send_json({"principal": websocket.state.iam.principal})
        await websocket.close()

    routes = [
        Route("/orders/{order_id}", get_order),
        Route("/orders/{order_id}", delete_order, methods=["DELETE"]),
        Route("/orders/{order_id}/lines", Lines),
        Route("/health", health),
        Route("/admin", admin),
        Route("/files/{path:path}", iam.protect("orders:GetOrder", "arn:app:orders::{tenant}:file/{path}",
                                                 methods="GET")(files)),
        WebSocketRoute("/orders/{order_id}/watch", watch),
    ]
    if prefix:
        routes = [Mount(prefix, routes=routes)]
    stack = [iam.middleware(strict=strict)] if middleware else []
    return Starlette(routes=routes, middleware=stack), recorder, sink


def client(app: Starlette, **kwargs: Any) -> TestClient:
    return TestClient(app, **kwargs)


READER = {"Authorization": "Bearer reader"}


def test_allow_and_the_handler_sees_what_was_authorized() -> None:
    app, recorder, sink = build()
    response = client(app).get("/orders/a*b", headers=READER)
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == f"{ORDER_ARN}/a*b" and body["params"] == {"order_id": "a*b"}
    assert recorder.calls == [("get_order", {"order_id": "a*b"})]
    assert [record.reason for record in sink.records] == ["allowed"]


# Raw request targets, exactly as sent on the wire (the oracle: no protected handler runs).
ATTACKS = [
    ("GET", b"/orders/1%2F..%2Fadmin", {}, 400),
    ("GET", b"/orders/1%2fx", {}, 400),
    ("GET", b"/orders/%2e%2e/admin", {}, 400),
    ("GET", b"/orders/../admin", {}, 400),
    ("GET", b"/orders/./1", {}, 400),
    ("GET", b"//admin", {}, 400),
    ("GET", b"/orders//1", {}, 400),
    ("GET", b"/orders/1;x=y", {}, 400),
    ("GET", b"/orders/1%3b", {}, 400),
    ("GET", b"/orders/1%252F", {}, 400),
    ("GET", b"/orders/1%00", {}, 400),
    ("GET", b"/orders/1%0a", {}, 400),
    ("GET", b"/orders/%201", {}, 400),
    ("GET", b"/orders/1\\", {}, 400),
    ("GET", b"/orders/%ff", {}, 400),
    ("GET", b"/health%3F/../admin", {}, 400),
    ("GET", b"/files/a%2F..%2F..%2Fetc", {}, 400),
    ("GET", b"/ADMIN", {}, 404),  # case changes route nowhere (the router is case-sensitive)
    ("GET", b"/Orders/1", READER, 404),
    ("GET", b"/orders/1/", READER, 307),  # a redirect, no handler
    ("GET", b"/admin", READER, 403),  # unmapped route, authenticated
    ("GET", b"/admin", {}, 401),  # unmapped route, anonymous
    ("GET", b"/admin/", READER, 307),
    ("get", b"/orders/1", READER, 400),
    ("TRACE", b"/orders/1", READER, 405),
    ("POST", b"/orders/1", {**READER, "X-HTTP-Method-Override": "GET"}, 400),
    ("POST", b"/orders/1?_method=GET", READER, 400),
    ("DELETE", b"/orders/1", {**READER, "X-HTTP-Method": "GET"}, 400),
    ("POST", b"/orders/1", READER, 405),  # partial match: the guard answers, not the router
    ("OPTIONS", b"/orders/1", {}, 405),
    ("GET", b"/orders/1", {"Authorization": "Bearer forged"}, 401),
    ("GET", b"/orders/1", {"Authorization": "Bearer reader", "authorization": "Bearer writer"}, 400),
    ("GET", b"/orders/1?access_token=reader", {}, 400),
    ("DELETE", b"/orders/1", READER, 403),
    ("DELETE", b"/orders/1", {"Authorization": "Bearer writer"}, 401),  # step-up
    ("GET", b"/orders/1/lines", {"Authorization": "Bearer writer", "X-Forwarded-For": "127.0.0.1"}, 200),
]


@pytest.mark.parametrize(("method", "target", "headers", "status"), ATTACKS,
                         ids=[f"{method} {target!r}" for method, target, _, _ in ATTACKS])
def test_attacks_never_reach_a_protected_handler(method: str, target: bytes, headers: dict[str, str],
                                                 status: int) -> None:
    app, recorder, sink = build()
    pairs = [(name, value) for name, value in headers.items()]
    if "authorization" in headers and "Authorization" in headers:
        pairs = [("authorization", headers["Authorization"]), ("authorization", headers["authorization"])]
    response = asyncio.run(call_raw(app, method, target, pairs))
    assert response.status == status
    if status != 200:
        assert [name for name, _ in recorder.calls if name != "lines"] == []
        if status not in (307, 404):
            assert sink.records and sink.records[-1].effect == "Deny"


def test_unauthenticated_forwarded_for_is_not_the_source_ip() -> None:
    app, _, sink = build()
    response = asyncio.run(call_raw(app, "GET", b"/orders/1", [("authorization", "Bearer reader"),
                                                               ("x-forwarded-for", "10.9.9.9")]))
    assert response.status == 200 and sink.records[-1].source_ip == "192.0.2.10"


@pytest.mark.parametrize(("prefix", "root_path"), [("", ""), ("/api", ""), ("", "/deploy"), ("/api", "/deploy")])
def test_root_path_and_mounts_give_identical_decisions(prefix: str, root_path: str) -> None:
    app, recorder, _ = build(prefix)
    outcomes = []
    for method, path, token in [("GET", "/orders/7", "reader"), ("DELETE", "/orders/7", "reader"),
                                ("DELETE", "/orders/7", "writer-mfa"), ("GET", "/admin", "reader"),
                                ("GET", "/health", None), ("GET", "/orders/7/lines", "reader")]:
        headers = [("authorization", f"Bearer {token}")] if token else []
        response = asyncio.run(call_raw(app, method, (prefix + path).encode(), headers, root_path=root_path))
        outcomes.append(response.status)
    assert outcomes == [200, 403, 200, 403, 200, 200]
    assert [name for name, _ in recorder.calls] == ["get_order", "delete_order", "lines"]


def test_path_path_convertor_values_are_authorized_verbatim() -> None:
    app, recorder, _ = build()
    response = client(app).get("/files/reports/2026/q1.pdf", headers={"Authorization": "Bearer no-deletes"})
    assert response.status_code == 200
    assert recorder.calls == [("files", {"path": "reports/2026/q1.pdf"})]


def test_head_is_authorized_as_get() -> None:
    app, recorder, _ = build()
    test_client = client(app)
    assert test_client.head("/orders/1", headers=READER).status_code == 200
    assert test_client.head("/orders/1").status_code == 401
    assert [name for name, _ in recorder.calls] == ["get_order"]


def test_public_routes_get_the_anonymous_principal() -> None:
    app, _, sink = build()
    response = client(app).get("/health")
    assert response.json() == {"ok": True, "anonymous": True}
    assert sink.records == []  # public requests are not audited unless audit_public=True


def test_websocket_handshake_is_authorized_before_accept() -> None:
    from starlette.testclient import WebSocketDenialResponse

    app, recorder, sink = build()
    test_client = client(app)
    with test_client.websocket_connect("/orders/9/watch", headers=READER) as socket:
        assert socket.receive_json() == {"principal": "arn:aws:iam::123456789012:user/alice"}
    with pytest.raises(WebSocketDenialResponse) as denied, test_client.websocket_connect("/orders/9/watch"):
        pass
    assert denied.value.status_code == 401
    assert recorder.calls == [("watch", {"order_id": "9"})]
    assert sink.records[-1].reason == "missing_credentials"


def test_websocket_denial_without_the_http_response_extension_closes_1008() -> None:
    app, recorder, _ = build()
    sent: list[dict[str, Any]] = []
    scope = {"type": "websocket", "path": "/orders/9/watch", "raw_path": b"/orders/9/watch", "root_path": "",
             "query_string": b"", "headers": [], "client": ("192.0.2.1", 1), "scheme": "ws", "subprotocols": []}
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert recorder.calls == []


def test_decorators_work_without_the_middleware() -> None:
    app, recorder, _ = build(middleware=False)
    test_client = client(app)
    assert test_client.get("/orders/3", headers=READER).status_code == 200
    assert test_client.get("/orders/3").status_code == 401
    assert test_client.get("/orders/3", headers={"Authorization": "Bearer seven"}).status_code == 403
    assert [name for name, _ in recorder.calls] == ["get_order"]


def test_interleaved_requests_from_two_principals_never_cross() -> None:
    recorder = Recorder()
    guard = Guard(standard_authority(), tenant=TENANT, audit=MemorySink(), clock=FrozenClock())
    iam = Iam(guard)

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def who(request: Request) -> JSONResponse:
        first = request.state.iam.principal
        await asyncio.sleep(0.001)  # let the other principal's request run in between
        second = request.state.iam.principal
        recorder.hit("who", {"first": first, "second": second})
        return JSONResponse({"principal": second})

    app = Starlette(routes=[Route("/orders/{order_id}", who)], middleware=[iam.middleware()])

    async def run() -> list[tuple[str, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            async def one(token: str, index: int) -> tuple[str, str]:
                response = await http.get(f"/orders/{index}", headers={"Authorization": f"Bearer {token}"})
                return token, response.json()["principal"]

            return await asyncio.gather(*(one(token, index) for index in range(25) for token in ("reader", "writer")))

    expected = {"reader": "arn:aws:iam::123456789012:user/alice", "writer": "arn:aws:iam::123456789012:user/bob"}
    results = asyncio.run(run())
    assert len(results) == 50 and all(principal == expected[token] for token, principal in results)
    assert all(call["first"] == call["second"] for _, call in recorder.calls)


def test_strict_mode_refuses_to_start_with_unmapped_routes() -> None:
    app, _, _ = build(strict=True)
    with pytest.raises(RuntimeError, match="unmapped"), client(app):
        pass


def test_strict_mode_without_lifespan_refuses_every_request() -> None:
    app, recorder, _ = build(strict=True)
    response = asyncio.run(call_raw(app, "GET", b"/orders/1", [("authorization", "Bearer reader")]))
    assert response.status == 503 and recorder.calls == []


def test_route_listing_flags_unmapped_routes() -> None:
    app, _, _ = build("/api")
    iam = Iam(Guard(standard_authority(), tenant=TENANT,
                    routes=[rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/api/orders/{order_id}"),
                            public(methods="GET", path="/api/health")]))
    reports = {(report.method, report.path): report for report in iam.report(app)}
    assert reports[("GET", "/api/orders/{order_id}")].rule is not None
    assert reports[("DELETE", "/api/orders/{order_id}")].ok
    assert reports[("GET", "/api/admin")].problem == "unmapped"
    assert reports[("WEBSOCKET", "/api/orders/{order_id}/watch")].ok
    assert reports[("GET", "/api/orders/{order_id}/lines")].ok
    with pytest.raises(UnmappedRoutesError, match="/api/admin"):
        iam.check_app(app)


def test_middleware_can_wrap_any_asgi_app_from_outside() -> None:
    app, recorder, _ = build(middleware=False)
    guard = Guard(standard_authority(), tenant=TENANT, audit=MemorySink())
    wrapped = IamMiddleware(app, guard, router=app.router)
    assert asyncio.run(call_raw(wrapped, "GET", b"/admin", [("authorization", "Bearer reader")])).status == 403
    assert asyncio.run(call_raw(wrapped, "GET", b"/orders/1", [("authorization", "Bearer reader")])).status == 200
    assert [name for name, _ in recorder.calls] == ["get_order"]


# ---- the router's values are the authorized values (MAP-01 oracle) -------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="/?#%\\;"),
               min_size=1, max_size=20))
def test_handler_receives_exactly_the_values_in_the_resource(order_id: str) -> None:
    app, recorder, sink = build()
    target = b"/orders/" + quote(order_id, safe="").encode("ascii")
    response = asyncio.run(call_raw(app, "GET", target, [("authorization", "Bearer no-deletes")]))
    if response.status == 400:  # refused up front (dot segment, edge whitespace): nothing ran
        assert recorder.calls == []
        return
    assert response.status == 200, response.body
    body = json.loads(response.body)
    assert recorder.calls == [("get_order", {"order_id": order_id})]
    assert body["params"] == {"order_id": order_id}
    assert body["resource"] == f"{ORDER_ARN}/{order_id}" == sink.records[-1].resource


# ---- failing closed through the whole app ------------------------------------------------------

class Exploding:
    def emit(self, record: Any) -> None:
        raise OSError("sink down")


def _raise(exc: BaseException) -> Any:
    def hook(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return hook


@pytest.mark.parametrize("seam", ["authenticate", "policy_set_for", "provider", "evaluate", "audit"])
def test_a_fault_at_any_seam_never_reaches_the_handler(seam: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamguard.engine.evaluator import PolicySet

    authority = standard_authority()
    providers: list[Any] = []
    audit: Any = MemorySink()
    if seam in ("authenticate", "policy_set_for"):
        authority.fail[seam] = RuntimeError("injected")
    elif seam == "provider":
        providers.append(_raise(LookupError("injected")))
    elif seam == "evaluate":
        monkeypatch.setattr(PolicySet, "evaluate", _raise(RecursionError("injected")))
    else:
        audit = Exploding()
    recorder = Recorder()
    iam = Iam(Guard(authority, tenant=TENANT, audit=audit, context=providers))

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def get_order(request: Request) -> JSONResponse:
        recorder.hit("get_order", request.path_params)
        return JSONResponse({})

    app = Starlette(routes=[Route("/orders/{order_id}", get_order)], middleware=[iam.middleware()])
    response = asyncio.run(call_raw(app, "GET", b"/orders/1", [("authorization", "Bearer reader")]))
    assert response.status == 503
    assert recorder.calls == []


def test_dispatch_with_other_parameters_than_authorized_is_refused() -> None:
    from iamguard.asgi import SCOPE_KEY
    from iamguard.web import IamContext

    recorder = Recorder()
    iam = Iam(Guard(standard_authority(), tenant=TENANT, audit=MemorySink()))

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def get_order(request: Request) -> JSONResponse:
        recorder.hit("get_order", request.path_params)
        return JSONResponse({})

    from iamguard.web import rules_of

    authorized = IamContext("r1", "arn:aws:iam::123456789012:user/alice", "orders:GetOrder", f"{ORDER_ARN}/1", None,
                            {"order_id": "1"}, rule=rules_of(get_order)[0])
    app = Starlette(routes=[Route("/orders/{order_id}", get_order)])
    scope = {"type": "http", "method": "GET", "path": "/orders/2", "raw_path": b"/orders/2", "root_path": "",
             "query_string": b"", "headers": [], "client": ("192.0.2.1", 1), "scheme": "http",
             SCOPE_KEY: authorized}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 403 and recorder.calls == []


def test_mounted_asgi_apps_are_mapped_as_one_route() -> None:
    async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await JSONResponse({"path": scope["path"]})(scope, receive, send)

    class Opaque:
        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            await plain_app(scope, receive, send)

    iam = Iam(Guard(standard_authority(), tenant=TENANT, audit=MemorySink()))
    app = Starlette(routes=[Mount("/static", app=iam.public(Opaque())), Mount("/legacy", app=Opaque())],
                    middleware=[iam.middleware()])
    assert asyncio.run(call_raw(app, "GET", b"/static/app.js")).status == 200
    assert asyncio.run(call_raw(app, "GET", b"/legacy/x")).status == 401
    assert asyncio.run(call_raw(app, "GET", b"/legacy/x", [("authorization", "Bearer reader")])).status == 403
    reports = {(report.method, report.path): report.problem for report in iam.report(app)}
    assert reports[("GET", "/static/{path}")] is None and reports[("GET", "/legacy/{path}")] == "unmapped"
