"""The Flask hello-world app, bare or protected by flask_iamguard, served through its WSGI callable."""

from __future__ import annotations

from flask import Flask

from bench.web.tenant import HELLO, WebTenant


def _app() -> Flask:
    app = Flask("iamguard_bench", static_folder=None)  # no static route, which would be unmapped

    @app.get("/orders/<order_id>")
    def hello(order_id: str) -> bytes:
        return HELLO

    return app


def bare() -> Flask:
    return _app()


def with_iamguard(tenant: WebTenant, *, reuse_allows: bool = True) -> Flask:
    from flask_iamguard import IamGuard

    app = _app()
    IamGuard(app, guard=tenant.guard(reuse_allows=reuse_allows))
    return app
