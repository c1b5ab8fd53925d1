"""The orders service on Starlette, protected by iamguard.

Two ways of mapping routes are shown side by side: the list and create routes are mapped in a
declarative route map, the read and delete endpoints carry `@iam.protect` decorators. The
middleware runs in strict mode, so the app refuses to start if a route is left unmapped.

    GET    /orders              orders:ListOrders   arn:app:orders::<tenant>:orders
    POST   /orders              orders:CreateOrder  arn:app:orders::<tenant>:orders
    GET    /orders/{order_id}   orders:GetOrder     arn:app:orders::<tenant>:order/<id>
    DELETE /orders/{order_id}   orders:DeleteOrder  arn:app:orders::<tenant>:order/<id>
    GET    /health              public
    POST   /auth/token, /auth/assume-role, /auth/step-up   public token endpoints

Run it with `python examples/demo.py`, or `create_app("demo.db")` under any ASGI server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CREATE, DELETE, LIST, READ, TENANT, OrderBook, open_store, read_new_order

from iamguard.asgi import Iam, auth_routes
from iamguard.audit import AuditSink
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.web import Guard, public, rule

Recorder = Callable[[str, dict[str, Any]], None]


def create_app(db_path: str | Path, *, clock: Clock | None = None, audit: AuditSink | None = None,
               on_call: Recorder | None = None, strict: bool = True, debug: bool = False,
               **settings: Any) -> Starlette:
    """`on_call(handler_name, path_params)` is called whenever a protected handler runs (tests
    use it to prove that denied requests never reach one). `debug=True` puts the decision's
    explanation into 403 bodies: for demos only. `settings` go to CredentialsConfig."""
    clock = clock or SYSTEM_CLOCK
    _, credentials = open_store(db_path, clock=clock, **settings)
    guard = Guard(
        credentials, clock=clock, audit=audit, tenant=TENANT, step_up_endpoint="/auth/step-up", debug=debug,
        routes=[
            rule(*LIST, methods="GET", path="/orders"),
            rule(*CREATE, methods="POST", path="/orders"),
            public(methods="GET", path="/health"),
        ],
    )
    iam = Iam(guard)
    book = OrderBook()
    record = on_call or (lambda name, params: None)

    async def list_orders(request: Request) -> JSONResponse:
        record("list_orders", dict(request.path_params))
        return JSONResponse({"orders": book.list(), "principal": request.state.iam.principal})

    async def create_order(request: Request) -> JSONResponse:
        record("create_order", dict(request.path_params))
        try:
            payload = json.loads(await request.body())
        except ValueError:
            payload = None
        fields = read_new_order(payload)
        if fields is None:
            return JSONResponse({"error": "ValidationError", "message": "send {item, quantity}"}, status_code=400)
        return JSONResponse(book.create(*fields), status_code=201)

    @iam.protect(*READ, methods="GET")
    async def get_order(request: Request) -> JSONResponse:
        order_id = request.path_params["order_id"]
        record("get_order", dict(request.path_params))
        order = book.get(order_id)
        if order is None:
            return JSONResponse({"error": "NotFound"}, status_code=404)
        return JSONResponse(order)

    @iam.protect(*DELETE, methods="DELETE")
    async def delete_order(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        record("delete_order", dict(request.path_params))
        if not book.delete(order_id):
            return JSONResponse({"error": "NotFound"}, status_code=404)
        return Response(status_code=204)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/orders", list_orders, methods=["GET"]),
        Route("/orders", create_order, methods=["POST"]),
        Route("/orders/{order_id}", get_order, methods=["GET"]),
        Route("/orders/{order_id}", delete_order, methods=["DELETE"]),
        Route("/health", health, methods=["GET"]),
        Mount("/auth", routes=auth_routes(credentials)),
    ]
    app = Starlette(routes=routes, middleware=[iam.middleware(strict=strict)])
    app.state.iam = iam
    return app


if __name__ == "__main__":  # pragma: no cover - manual use
    import uvicorn

    uvicorn.run(create_app(sys.argv[1] if len(sys.argv) > 1 else "demo.db"), host="127.0.0.1", port=8000)
