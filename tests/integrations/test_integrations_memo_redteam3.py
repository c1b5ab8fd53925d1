"""Third red-team regressions for the VerdictMemo in flask_iamguard (spec CACHE-05, FAIL-03).

Flask reuses one app context, and so one `g`, for every request while a context is pushed
(`app.app_context().push()` at import time, test fixtures). The full path drops `g.iam` before it
decides, so a refused request never shows the decision of an earlier one. The memo's hit path
(a per-app hook that looks up no proxy it can do without) answered a failure of its own with 503
but left `g.iam` as the previous request had it: an `after_request` or `teardown_request` hook
then saw another principal's allow on the refused request. Both paths now leave none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask_iamguard import IamGuard

from iamguard.audit import MemorySink
from iamguard.web import Guard, rule
from tests.credentials.conftest import build_env
from tests.web.memo_support import ALICE, ORDER, TENANT, session_tokens


class BrokenWants(MemorySink):
    """Keeps denials only, as the default logging sink with INFO off; while `failing` is set, asking
    it which records it wants raises (a misconfigured logging handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def wants(self, effect: str) -> bool:
        if self.failing:
            raise RuntimeError("the logging configuration is broken")
        return effect == "Deny"


def _break_the_sink(sink: BrokenWants) -> dict[str, Any]:
    sink.failing = True
    return {}


def _non_string_environ_name(sink: BrokenWants) -> dict[str, Any]:
    return {"environ_base": {1: None}}  # a WSGI middleware breaking PEP 3333: the adapter cannot read it


@pytest.mark.parametrize("reuse", [True, False], ids=["memo", "full"])
@pytest.mark.parametrize("failure", [_break_the_sink, _non_string_environ_name], ids=["sink", "environ"])
def test_a_refused_request_never_shows_an_earlier_request_s_decision(tmp_path: Path, reuse: bool,
                                                                     failure: Any) -> None:
    env = build_env("memory", tmp_path)
    token = session_tokens(env)["alice"]
    sink = BrokenWants()
    guard = Guard(env.creds, tenant=TENANT, audit=sink, clock=env.clock, reuse_allows=reuse,
                  routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
    app = Flask("memo_redteam3", static_folder=None)
    IamGuard(app, guard=guard)
    viewed: list[str] = []
    after: list[tuple[int, str | None]] = []
    torn_down: list[str | None] = []

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> Any:
        viewed.append(g.iam.principal)
        return {"order": order_id}

    @app.after_request
    def log(response: Any) -> Any:
        iam = g.get("iam")
        after.append((response.status_code, iam.principal if iam is not None else None))
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        iam = g.get("iam")
        torn_down.append(iam.principal if iam is not None else None)

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():  # one g for every request below
        statuses = [client.get("/orders/1", headers=headers).status_code for _ in range(2)]
        statuses.append(client.get("/orders/1", headers=headers, **failure(sink)).status_code)
    assert statuses == [200, 200, 503]
    assert viewed == [ALICE, ALICE]
    assert after == [(200, ALICE), (200, ALICE), (503, None)]
    assert torn_down == [ALICE, ALICE, None]
