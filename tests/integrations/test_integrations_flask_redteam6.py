"""Red-team round 6 regressions for flask_iamguard.

- A decision was trusted whenever the WSGI environ held one, whichever app had recorded it. A
  Flask view may answer with another WSGI app (documented Flask behaviour), which then runs on the
  very same environ: a blueprint rule of that app, used without `init_app`, took the outer app's
  allow as its own and ran its views unchecked, and its decorated views refused requests they
  should have decided. A decision now counts only in the app that made it (CACHE-05, MAP-01).
- A Werkzeug default of None (`defaults={"order_id": None}`, the pattern of Flask's own
  pluggable-views docs for "list or read one") reached the resource ARN as the text "None": the
  guard authorized `order/None` while the handler received None and listed every order. None is
  "no value": a resource that needs it is denied and the route listing flags it (MAP-01).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, g, jsonify
from flask_iamguard import IamGuard

from iamguard.web import rule
from tests.integrations.support import ORDER, Calls, bearer, call_wsgi, stub_guard
from tests.web.stubs import ALICE, ORDER_ARN, StubSession

# ---- a decision belongs to the app that made it ------------------------------------------------


def _forwarding_apps(inner_rule: str, calls: Calls) -> tuple[Flask, Flask]:
    """`outer` (hook) allows GET /orders/{id} as orders:GetOrder and answers with `inner`, which
    runs on the same environ; `inner` has no `init_app` and protects the same path with
    `inner_rule` ("blueprint": orders:DeleteOrder on its blueprint, "view": orders:GetOrder on
    the view, declared by another IamGuard)."""
    guard, _, _ = stub_guard()
    inner = Flask("inner", static_folder=None)
    inner_iam = IamGuard(guard=guard)  # never initialised on `inner`: its decorators decide
    area = Blueprint("area", "area")

    def read(order_id: str) -> Any:
        calls.hit("inner", {"order_id": order_id})
        return jsonify({"resource": g.iam.resource})

    if inner_rule == "blueprint":
        inner_iam.require("orders:DeleteOrder", ORDER, methods="GET", read_only=True)(area)
        area.add_url_rule("/orders/<order_id>", "read", read)
    else:
        area.add_url_rule("/orders/<order_id>", "read",
                          inner_iam.require("orders:GetOrder", ORDER, methods="GET")(read))
    inner.register_blueprint(area)

    outer = Flask("outer", static_folder=None)
    outer_iam = IamGuard(outer, guard=guard)

    @outer.get("/orders/<order_id>")
    @outer_iam.require("orders:GetOrder", ORDER, methods="GET")
    def forward(order_id: str) -> Any:
        calls.hit("outer", {"order_id": order_id})
        return inner  # Flask runs a returned WSGI app on this request's environ

    return outer, inner


# (inner app's rule, token, status, views that ran)
FORWARDED = [
    ("blueprint", "reader", 403, ["outer"]),  # the reader may GetOrder, not DeleteOrder
    ("blueprint", "writer-mfa", 200, ["outer", "inner"]),
    ("view", "reader", 200, ["outer", "inner"]),  # decided by the inner app itself, not refused
    ("view", "seven", 403, []),  # the outer app denies order 1 already
]


@pytest.mark.parametrize(("inner_rule", "token", "status", "ran"), FORWARDED,
                         ids=[f"{row[0]}-{row[1]}" for row in FORWARDED])
def test_an_app_run_on_another_apps_environ_decides_its_own_request(inner_rule: str, token: str, status: int,
                                                                      ran: list[str]) -> None:
    calls = Calls()
    outer, inner = _forwarding_apps(inner_rule, calls)
    response = call_wsgi(outer, "GET", b"/orders/1", bearer(token))
    assert response.status == status
    assert calls.names == ran
    if "inner" in ran:  # the inner app's answer is the one it gives on its own
        calls.clear()
        assert call_wsgi(inner, "GET", b"/orders/1", bearer(token)).status == 200
        assert calls.names == ["inner"]


# ---- a None default is no value ----------------------------------------------------------------

ONLY_NONE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["orders:GetOrder", "orders:ListOrders"], "Resource": f"{ORDER_ARN}/None"}]}


def _defaults_app(resource: str, action: str = "orders:GetOrder") -> tuple[Flask, IamGuard, Calls, Any]:
    guard, sink, authority = stub_guard()
    authority.add("none-only", StubSession(ALICE, "alice"), ONLY_NONE)
    app = Flask("defaults", static_folder=None)
    iam = IamGuard(app, guard=guard)
    calls = Calls()

    @app.get("/orders/", defaults={"order_id": None})
    @app.get("/orders/<order_id>")
    @iam.require(action, resource, methods="GET")
    def orders(order_id: str | None) -> Any:
        calls.hit("orders", {"order_id": order_id})
        return jsonify({"received": order_id, "params": dict(g.iam.path_params), "resource": g.iam.resource})

    return app, iam, calls, sink


# (token, target, status, the value the view received)
NONE_DEFAULTS = [
    ("none-only", b"/orders/", 403, None),  # was 200: authorized as order/None, ran with None
    ("reader", b"/orders/", 403, None),
    ("reader", b"/orders/5", 200, "5"),
    ("none-only", b"/orders/None", 200, "None"),  # an order really named "None" is that order
]


@pytest.mark.parametrize(("token", "target", "status", "received"), NONE_DEFAULTS,
                         ids=[f"{row[0]}-{row[1]!r}" for row in NONE_DEFAULTS])
def test_a_none_default_never_fills_a_resource(token: str, target: bytes, status: int, received: str | None) -> None:
    app, _, calls, sink = _defaults_app(ORDER)
    response = call_wsgi(app, "GET", target, bearer(token))
    assert response.status == status
    if status == 200:
        assert calls.seen == [("orders", {"order_id": received})]
        assert app.json.loads(response.body)["resource"] == f"{ORDER_ARN}/{received}"
    else:
        assert calls.seen == []
        assert sink.records[-1].effect == "Deny"
        assert sink.records[-1].resource != f"{ORDER_ARN}/None"


def test_a_resource_without_the_parameter_still_serves_the_none_default() -> None:
    app, _, calls, _ = _defaults_app("arn:app:orders::{tenant}:order/None", "orders:ListOrders")
    response = call_wsgi(app, "GET", b"/orders/", bearer("none-only"))
    assert response.status == 200
    assert app.json.loads(response.body) == {"received": None, "params": {}, "resource": f"{ORDER_ARN}/None"}
    assert calls.seen == [("orders", {"order_id": None})]


def test_the_route_listing_flags_a_resource_that_needs_a_none_default() -> None:
    app, iam, _, _ = _defaults_app(ORDER)
    problems = {(report.method, report.path): report.problem for report in iam.report(app) if not report.ok}
    assert set(problems) == {("GET", "/orders/"), ("HEAD", "/orders/")}
    assert all("['order_id']" in str(problem) for problem in problems.values())
    guard, _, _ = stub_guard(routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/")])
    listed = Flask("listed", static_folder=None)
    listed.add_url_rule("/orders/", "orders", lambda order_id: "", defaults={"order_id": None})
    reports = IamGuard(listed, guard=guard).report(listed)
    assert [report.problem is not None for report in reports if report.method == "GET"] == [True]


@pytest.mark.parametrize("decorate", [
    lambda iam: iam.public,
    lambda iam: iam.public(methods="GET"),
    lambda iam: iam.require("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}"),
], ids=["public", "public-with-methods", "require"])
def test_a_rule_on_a_method_view_class_is_refused_where_it_is_written(decorate: Any) -> None:
    """A rule on the class itself is read by no route, so `public` would open nothing and
    `require` protect nothing: both say so at once instead of failing at request time."""
    from flask.views import MethodView

    iam = IamGuard(guard=stub_guard())

    class Orders(MethodView):
        def get(self) -> str:
            return "orders"

    with pytest.raises(TypeError, match="not the class"):
        decorate(iam)(Orders)
