"""Red-team regressions for the less-travelled web paths: Starlette WebSocketEndpoint classes
(with and without the middleware) and Flask blueprint rules in an app without the hook."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from flask import Blueprint, Flask, g
from flask_iamguard import IamGuard
from starlette.applications import Starlette
from starlette.endpoints import WebSocketEndpoint
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from iamguard.asgi import Iam
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard
from tests.web.asgi_support import Recorder
from tests.web.stubs import ORDER_ARN, TENANT, standard_authority

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient, WebSocketDenialResponse

ORDER = "arn:app:orders::{tenant}:order/{order_id}"
READER = {"Authorization": "Bearer reader"}


def socket_app(*, middleware: bool) -> tuple[Starlette, Iam, Recorder]:
    recorder = Recorder()
    iam = Iam(Guard(standard_authority(), tenant=TENANT, audit=MemorySink(), clock=FrozenClock()))

    class Watch(WebSocketEndpoint):
        encoding = "text"

        @iam.protect("orders:GetOrder", ORDER)
        async def on_connect(self, websocket: WebSocket) -> None:
            recorder.hit("connect", websocket.path_params)
            await websocket.accept()
            await websocket.send_json({"resource": websocket.state.iam.resource})

    class PerMessage(WebSocketEndpoint):
        encoding = "text"

        @iam.protect("orders:GetOrder", ORDER)
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            recorder.hit("message", {"data": data})
            await websocket.send_text("echo " + data)

    routes = [WebSocketRoute("/orders/{order_id}/watch", Watch),
              WebSocketRoute("/orders/{order_id}/messages", PerMessage)]
    return Starlette(routes=routes, middleware=[iam.middleware()] if middleware else []), iam, recorder


@pytest.mark.parametrize("middleware", [True, False], ids=["middleware", "decorator-only"])
def test_a_rule_on_a_websocket_endpoints_on_connect_is_the_routes_rule(middleware: bool) -> None:
    app, iam, recorder = socket_app(middleware=middleware)
    client = TestClient(app)
    with client.websocket_connect("/orders/9/watch", headers=READER) as socket:
        assert socket.receive_json() == {"resource": f"{ORDER_ARN}/9"}
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/orders/9/watch"):
        pass
    assert denied.value.status_code == 401
    assert recorder.calls == [("connect", {"order_id": "9"})]
    listed = {report.path: report.ok for report in iam.report(app)}
    assert listed["/orders/{order_id}/watch"] is True


def _drive(app: Starlette, path: str, headers: list[tuple[bytes, bytes]], texts: list[str]) -> list[dict[str, Any]]:
    """One WebSocket session: the handshake, then `texts`, then a disconnect; what the app sent
    (type, text and close code of each message)."""
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": headers, "client": ("192.0.2.1", 1), "scheme": "ws", "subprotocols": [],
             "server": ("testserver", 80)}
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"},
                                      *({"type": "websocket.receive", "text": text} for text in texts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return [{key: value for key, value in message.items() if key in ("type", "text", "code")} for message in sent]


# (headers, what the app sends, the messages the protected handler saw)
PER_MESSAGE = [
    ([(b"authorization", b"Bearer reader")],
     [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "echo a"},
      {"type": "websocket.send", "text": "echo b"}], [{"data": "a"}, {"data": "b"}]),
    # Denied after the accept (nothing declares a rule on the handshake): the socket is closed
    # 1008 at once; the client's next message is neither read nor handled.
    ([], [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1008}], []),
    ([(b"authorization", b"Bearer nope")],
     [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1008}], []),
]


@pytest.mark.parametrize(("headers", "expected", "handled"), PER_MESSAGE)
def test_a_denial_after_accept_closes_the_socket_with_1008(headers: list[tuple[bytes, bytes]],
                                                            expected: list[dict[str, Any]],
                                                            handled: list[dict[str, Any]]) -> None:
    app, _, recorder = socket_app(middleware=False)
    assert _drive(app, "/orders/9/messages", headers, ["a", "b"]) == expected
    assert [params for _, params in recorder.calls] == handled


def flask_app() -> tuple[Flask, list[str]]:
    """A blueprint protected as a whole, in an app where `init_app` was never called."""
    calls: list[str] = []
    iam = IamGuard(guard=Guard(standard_authority(), tenant=TENANT, audit=MemorySink(), clock=FrozenClock()))
    orders = Blueprint("orders", __name__, url_prefix="/orders/<order_id>")
    iam.require("orders:GetOrder", ORDER, methods="GET")(orders)
    iam.require("orders:UpdateOrder", ORDER, methods="PUT")(orders)  # a second rule: still one hook

    @orders.get("/info")
    def info(order_id: str) -> dict[str, str]:
        calls.append(f"info {order_id}")
        return {"resource": g.iam.resource}

    @orders.post("/edit")
    def edit(order_id: str) -> dict[str, str]:
        calls.append(f"edit {order_id}")
        return {"edited": order_id}

    app = Flask(__name__)
    app.register_blueprint(orders)
    return app, calls


# (method, path, headers, status, the view that ran)
BLUEPRINT_WITHOUT_HOOK = [
    ("GET", "/orders/9/info", READER, 200, ["info 9"]),
    ("GET", "/orders/9/info", {}, 401, []),
    ("GET", "/orders/9/info", {"Authorization": "Bearer nope"}, 401, []),
    ("POST", "/orders/9/edit", {}, 401, []),
    ("POST", "/orders/9/edit", {"Authorization": "Bearer writer"}, 403, []),  # no rule for POST: unmapped
]


@pytest.mark.parametrize(("method", "path", "headers", "status", "ran"), BLUEPRINT_WITHOUT_HOOK)
def test_a_blueprint_rule_holds_in_an_app_without_the_hook(method: str, path: str, headers: dict[str, str],
                                                            status: int, ran: list[str]) -> None:
    app, calls = flask_app()
    response = app.test_client().open(path, method=method, headers=headers)
    assert response.status_code == status
    assert calls == ran
    if status == 200:
        assert response.get_json() == {"resource": f"{ORDER_ARN}/9"}
    assert len(app.blueprints["orders"].before_request_funcs[None]) == 1
