"""The stub service on Flask and Starlette, with the same routes and rules as the Django test
URLconfs (django_urls.py), so the same request can be sent to every adapter."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, jsonify
from flask.views import MethodView
from flask_iamguard import IamGuard
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.web import Guard
from tests.integrations.support import FILE, ORDER, Calls


def _flask_body(name: str, params: dict[str, Any], calls: Calls) -> Any:
    calls.hit(name, params)
    iam = g.get("iam")
    return jsonify({"principal": iam.principal if iam else None, "resource": iam.resource if iam else None,
                    "params": dict(iam.path_params) if iam else None,
                    "received": {key: str(value) for key, value in params.items()}})


def flask_app(guard: Guard, calls: Calls, *, hook: bool = True, strict: bool = False) -> tuple[Flask, IamGuard]:
    """`hook=False`: the extension is not initialised on the app; the decorators decide alone."""
    app = Flask("stub_orders", static_folder=None)
    iam = IamGuard(app, guard=guard, strict=strict) if hook else IamGuard(guard=guard)

    @app.get("/orders/<order_id>")
    @iam.require("orders:GetOrder", ORDER, methods="GET")
    def get_order(order_id: str) -> Any:
        return _flask_body("get_order", {"order_id": order_id}, calls)

    @app.delete("/orders/<order_id>")
    def delete_order(order_id: str) -> Any:
        return _flask_body("delete_order", {"order_id": order_id}, calls)

    class Lines(MethodView):
        @iam.require("orders:ListOrders", ORDER, methods="GET")
        def get(self, order_id: str) -> Any:
            return _flask_body("lines", {"order_id": order_id}, calls)

        @iam.require("orders:CreateOrder", ORDER, methods="POST")
        def post(self, order_id: str) -> Any:
            return _flask_body("add_line", {"order_id": order_id}, calls)

    app.add_url_rule("/orders/<order_id>/lines", view_func=Lines.as_view("lines"))

    @app.get("/files/<path:path>")
    @iam.require("orders:GetOrder", FILE, methods="GET")
    def files(path: str) -> Any:
        return _flask_body("files", {"path": path}, calls)

    @app.get("/slashed/<item>/")
    @iam.require("orders:GetOrder", "arn:app:orders::{tenant}:order/{item}")
    def slashed(item: str) -> Any:
        return _flask_body("slashed", {"item": item}, calls)

    @app.get("/health")
    def health() -> Any:
        return jsonify({"status": "ok", "anonymous": g.iam.anonymous})

    @app.get("/admin")
    def admin() -> Any:
        return _flask_body("admin", {}, calls)

    area = Blueprint("area", "area", url_prefix="/area")
    iam.public(area)

    @area.get("/page")
    def page() -> Any:
        return jsonify({"area": True, "anonymous": g.iam.anonymous})

    app.register_blueprint(area)
    return app, iam


async def _starlette_body(request: Request, name: str, calls: Calls) -> JSONResponse:
    calls.hit(name, dict(request.path_params))
    iam = request.state.iam
    return JSONResponse({"principal": iam.principal, "resource": iam.resource, "params": dict(iam.path_params),
                         "received": {key: str(value) for key, value in request.path_params.items()}})


def starlette_app(guard: Guard, calls: Calls) -> Starlette:
    iam = Iam(guard)

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def get_order(request: Request) -> JSONResponse:
        return await _starlette_body(request, "get_order", calls)

    async def delete_order(request: Request) -> JSONResponse:
        return await _starlette_body(request, "delete_order", calls)

    class Lines(HTTPEndpoint):
        @iam.protect("orders:ListOrders", ORDER, methods="GET")
        async def get(self, request: Request) -> JSONResponse:
            return await _starlette_body(request, "lines", calls)

        @iam.protect("orders:CreateOrder", ORDER, methods="POST")
        async def post(self, request: Request) -> JSONResponse:
            return await _starlette_body(request, "add_line", calls)

    @iam.protect("orders:GetOrder", FILE, methods="GET")
    async def files(request: Request) -> JSONResponse:
        return await _starlette_body(request, "files", calls)

    @iam.protect("orders:GetOrder", "arn:app:orders::{tenant}:order/{item}")
    async def slashed(request: Request) -> JSONResponse:
        return await _starlette_body(request, "slashed", calls)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "anonymous": request.state.iam.anonymous})

    async def admin(request: Request) -> JSONResponse:
        return await _starlette_body(request, "admin", calls)

    routes = [
        Route("/orders/{order_id}", get_order, methods=["GET"]),
        Route("/orders/{order_id}", delete_order, methods=["DELETE"]),
        Route("/orders/{order_id}/lines", Lines),
        Route("/files/{path:path}", files, methods=["GET"]),
        Route("/slashed/{item}/", slashed, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/admin", admin, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[iam.middleware()])
