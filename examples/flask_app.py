"""The orders service on Flask, protected by flask_iamguard.

Same service, actions and resources as `starlette_app.py`: the list and create routes are
mapped in the guard's route map, the read and delete views carry `@iam.require`, the token
endpoints are a public blueprint. The factory runs the strict check, so it refuses to build an
app with an unmapped route.

    GET    /orders              orders:ListOrders   arn:app:orders::<tenant>:orders
    POST   /orders              orders:CreateOrder  arn:app:orders::<tenant>:orders
    GET    /orders/<order_id>   orders:GetOrder     arn:app:orders::<tenant>:order/<id>
    DELETE /orders/<order_id>   orders:DeleteOrder  arn:app:orders::<tenant>:order/<id>
    GET    /health              public
    POST   /auth/token, /auth/assume-role, /auth/step-up   public token endpoints

Run it with `flask --app 'examples/flask_app.py:create_app("demo.db")' run` after seeding
`demo.db` with `python examples/demo.py --db demo.db` (which serves the Starlette app on it and
prints the users' keys; stop it with Ctrl-C first).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify, request

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CREATE, DELETE, LIST, READ, TENANT, OrderBook, open_store, read_new_order
from flask_iamguard import IamGuard, auth_blueprint

from iamguard.audit import AuditSink
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.web import Guard, public, rule

Recorder = Callable[[str, dict[str, Any]], None]


def create_app(db_path: str | Path, *, clock: Clock | None = None, audit: AuditSink | None = None,
               on_call: Recorder | None = None, strict: bool = True, debug: bool = False) -> Flask:
    """`on_call(handler_name, path_params)` is called whenever a protected view runs (tests use it
    to prove that denied requests never reach one)."""
    clock = clock or SYSTEM_CLOCK
    _, credentials = open_store(db_path, clock=clock)
    guard = Guard(
        credentials, clock=clock, audit=audit, tenant=TENANT, step_up_endpoint="/auth/step-up", debug=debug,
        routes=[
            rule(*LIST, methods="GET", path="/orders"),
            rule(*CREATE, methods="POST", path="/orders"),
            public(methods="GET", path="/health"),
        ],
    )
    app = Flask(__name__, static_folder=None)  # no static route to map
    iam = IamGuard(app, guard=guard, strict=strict)
    book = OrderBook()
    record = on_call or (lambda name, params: None)

    @app.get("/orders")
    def list_orders() -> Response:
        record("list_orders", {})
        return jsonify({"orders": book.list(), "principal": g.iam.principal})

    @app.post("/orders")
    def create_order() -> tuple[Response, int]:
        record("create_order", {})
        fields = read_new_order(request.get_json(silent=True))
        if fields is None:
            return jsonify({"error": "ValidationError", "message": "send {item, quantity}"}), 400
        return jsonify(book.create(*fields)), 201

    @app.get("/orders/<order_id>")
    @iam.require(*READ, methods="GET")
    def get_order(order_id: str) -> Response | tuple[Response, int]:
        record("get_order", {"order_id": order_id})
        order = book.get(order_id)
        if order is None:
            return jsonify({"error": "NotFound"}), 404
        return jsonify(order)

    @app.delete("/orders/<order_id>")
    @iam.require(*DELETE, methods="DELETE")
    def delete_order(order_id: str) -> Response | tuple[Response, int]:
        record("delete_order", {"order_id": order_id})
        if not book.delete(order_id):
            return jsonify({"error": "NotFound"}), 404
        return Response(status=204)

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    app.register_blueprint(auth_blueprint(credentials, url_prefix="/auth"))
    if strict:
        iam.check_app(app)  # raises UnmappedRoutesError naming every unmapped route
    app.extensions["orders_book"] = book
    return app


if __name__ == "__main__":  # pragma: no cover - manual use
    create_app(sys.argv[1] if len(sys.argv) > 1 else "demo.db").run(host="127.0.0.1", port=8001)
