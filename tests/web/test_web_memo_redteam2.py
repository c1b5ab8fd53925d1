"""Second red-team regressions for the VerdictMemo's audit trail (spec LOG-04, CACHE-04).

A recalled allow whose record could not be delivered under `require_audit` used to be decided
anew: a sink that did take the recalled record kept an allow for a request that was then refused
(503), or a second allow for one request. It is now refused as the full path refuses it: the same
records, in every sink, with or without the memo (times, request ids and latencies aside).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask_iamguard import IamGuard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.audit import MemorySink
from iamguard.web import Guard, rule
from tests.credentials.conftest import build_env
from tests.web.asgi_support import call_raw
from tests.web.memo_support import ORDER, TENANT, Flaky, session_tokens

ORDER_RULE = rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")


def _asgi(guard: Guard, token: str, seen: list[str]) -> Any:
    async def get_order(request: Request) -> Response:
        seen.append(request.state.iam.request_id)
        return JSONResponse({})

    app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"])],
                    middleware=[Iam(guard).middleware()])
    return lambda: asyncio.run(call_raw(app, "GET", b"/orders/1", [("authorization", f"Bearer {token}")])).status


def _flask(guard: Guard, token: str, seen: list[str]) -> Any:
    app = Flask("memo_redteam2", static_folder=None)
    IamGuard(app, guard=guard)

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> Any:
        seen.append(g.iam.request_id)
        return {"order": order_id}

    client = app.test_client()
    return lambda: client.get("/orders/1", headers={"Authorization": f"Bearer {token}"},
                              environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code


def _trail(tmp_path: Path, adapter: Any, reuse: bool) -> tuple[list[int], int, list[tuple[Any, ...]]]:
    """Statuses, handler runs and the working sink's records (by effect, reason, status and
    request id, numbered in order of appearance) for: an allow, the same request while a second
    sink fails, the same request once it works again."""
    env = build_env("memory", tmp_path)
    token = session_tokens(env)["alice"]
    working, flaky = MemorySink(), Flaky()
    guard = Guard(env.creds, tenant=TENANT, audit=[working, flaky], clock=env.clock, reuse_allows=reuse,
                  routes=[ORDER_RULE])
    seen: list[str] = []
    get = adapter(guard, token, seen)
    statuses = [get()]
    flaky.failing = True
    statuses.append(get())
    flaky.failing = False
    statuses.append(get())
    ids: dict[str, int] = {}
    records = [(record.effect, record.reason, record.status, ids.setdefault(record.request_id, len(ids)))
               for record in working.records]
    return statuses, len(seen), records


@pytest.mark.parametrize("adapter", [_asgi, _flask], ids=["asgi", "flask"])
def test_an_undeliverable_recalled_allow_leaves_the_trail_of_the_full_path(tmp_path: Path, adapter: Any) -> None:
    expected = ([200, 503, 200], 2, [("Allow", "allowed", None, 0), ("Allow", "allowed", None, 1),
                                     ("Deny", "audit_unavailable", 503, 1), ("Allow", "allowed", None, 2)])
    assert _trail(tmp_path / "full", adapter, reuse=False) == expected
    assert _trail(tmp_path / "memo", adapter, reuse=True) == expected
