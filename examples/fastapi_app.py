"""The orders service on FastAPI, protected by iamguard's dependency and middleware.

Every route declares its action and resource with `Depends(iam.require(...))`; the middleware
reads those declarations, decides before FastAPI parses anything, and the dependency hands the
handler the decision (`IamContext`). The OpenAPI and docs routes are mapped as public.
Same service, same actions and resources as `starlette_app.py`.
"""


import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Response
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CREATE, DELETE, LIST, READ, TENANT, OrderBook, open_store, read_new_order

from iamguard.asgi import Iam, IamMiddleware, auth_routes
from iamguard.audit import AuditSink
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.web import Guard, IamContext, public

Recorder = Callable[[str, dict[str, Any]], None]


def create_app(db_path: str | Path, *, clock: Clock | None = None, audit: AuditSink | None = None,
               on_call: Recorder | None = None, strict: bool = True, debug: bool = False,
               **settings: Any) -> FastAPI:
    clock = clock or SYSTEM_CLOCK
    _, credentials = open_store(db_path, clock=clock, **settings)
    guard = Guard(
        credentials, clock=clock, audit=audit, tenant=TENANT, step_up_endpoint="/auth/step-up", debug=debug,
        routes=[public(methods="GET", path=path) for path in ("/health", "/openapi.json", "/docs",
                                                              "/docs/oauth2-redirect", "/redoc")],
    )
    iam = Iam(guard)
    book = OrderBook()
    record = on_call or (lambda name, params: None)
    orders = APIRouter(prefix="/orders")

    @orders.get("")
    async def list_orders(iam_context: Annotated[IamContext, Depends(iam.require(*LIST))]) -> dict[str, Any]:
        record("list_orders", {})
        return {"orders": book.list(), "principal": iam_context.principal}

    @orders.post("", status_code=201, dependencies=[Depends(iam.require(*CREATE))])
    async def create_order(payload: Annotated[Any, Body()] = None) -> Any:
        record("create_order", {})
        fields = read_new_order(payload)
        if fields is None:
            return JSONResponse({"error": "ValidationError", "message": "send {item, quantity}"}, status_code=400)
        return book.create(*fields)

    @orders.get("/{order_id}", dependencies=[Depends(iam.require(*READ))])
    async def get_order(order_id: str) -> Any:
        record("get_order", {"order_id": order_id})
        order = book.get(order_id)
        return order if order is not None else JSONResponse({"error": "NotFound"}, status_code=404)

    @orders.delete("/{order_id}", status_code=204, dependencies=[Depends(iam.require(*DELETE))])
    async def delete_order(order_id: str) -> Response:
        record("delete_order", {"order_id": order_id})
        if not book.delete(order_id):
            return JSONResponse({"error": "NotFound"}, status_code=404)
        return Response(status_code=204)

    app = FastAPI(title="orders")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(orders)
    for route in auth_routes(credentials, prefix="/auth"):
        app.router.routes.append(route)
    iam.install(app)
    app.add_middleware(IamMiddleware, iam=iam, strict=strict)
    app.state.iam = iam
    return app


if __name__ == "__main__":  # pragma: no cover - manual use
    import uvicorn

    uvicorn.run(create_app(sys.argv[1] if len(sys.argv) > 1 else "demo.db"), host="127.0.0.1", port=8000)
