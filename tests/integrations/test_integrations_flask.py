"""flask_iamguard: Werkzeug's routing result decides, attacks never reach a protected view, every
failure denies, and the route listing flags what is unmapped."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Blueprint, Flask, g, jsonify, request
from flask_iamguard import IamGuard, route_template
from werkzeug.middleware.proxy_fix import ProxyFix

from iamguard.web import Guard, UnmappedRoutesError, public, rule
from tests.integrations.apps import flask_app
from tests.integrations.support import COMMON_ATTACKS, FAULTS, ORDER, READER, Calls, bearer, call_wsgi, stub_guard
from tests.web.stubs import ALICE, ORDER_ARN, TENANT, StubSession, standard_authority


def build(**guard_options: Any) -> tuple[Flask, Calls, Any]:
    guard, sink, _ = stub_guard(**guard_options)
    calls = Calls()
    app, _ = flask_app(guard, calls)
    return app, calls, sink


@pytest.mark.parametrize(("rule_text", "template"), [
    ("/orders/<order_id>", "/orders/{order_id}"),
    ("/orders/<int:order_id>/lines", "/orders/{order_id}/lines"),
    ("/files/<path:rest>", "/files/{rest}"),
    ("/pick/<any(a, b):choice>", "/pick/{choice}"),
    ("/fixed/<string(length=2):code>", "/fixed/{code}"),
    ("/plain", "/plain"),
])
def test_route_templates_are_werkzeug_rules_in_iamguard_spelling(rule_text: str, template: str) -> None:
    assert route_template(rule_text) == template


# Path values the router extracts must reach the view exactly as they went into the ARN (MAP-01, MAP-16).
ODD_VALUES = [
    (b"/orders/a*b", "a*b"),
    (b"/orders/x%3Fy", "x?y"),
    (b"/orders/%24%7Baws:username%7D", "${aws:username}"),
    (b"/orders/caf%C3%A9", "caf\u00e9"),
    (b"/orders/%EF%BC%8Fadmin", "\uff0fadmin"),
]


@pytest.mark.parametrize(("target", "value"), ODD_VALUES)
def test_the_view_receives_exactly_the_values_in_the_resource(target: bytes, value: str) -> None:
    app, calls, _ = build()
    response = call_wsgi(app, "GET", target, READER)
    assert response.status == 200
    body = app.json.loads(response.body)
    assert calls.seen == [("get_order", {"order_id": value})]
    assert body["params"] == body["received"] == {"order_id": value}
    assert body["resource"] == f"{ORDER_ARN}/{value}"


ATTACKS: list[tuple[str, bytes, tuple[tuple[str, str], ...], int]] = [
    *COMMON_ATTACKS,
    ("GET", b"/slashed/1", READER, 308),  # Werkzeug's strict-slashes redirect: no view, no data
    ("POST", b"/orders/1", READER, 405),  # Werkzeug's MethodNotAllowed, answered by the guard
    ("DELETE", b"/orders/1", bearer("writer-old-mfa"), 401),
]


@pytest.mark.parametrize(("method", "target", "headers", "status"), ATTACKS,
                         ids=[f"{method} {target!r} {len(headers)}" for method, target, headers, _ in ATTACKS])
def test_attacks_never_reach_a_protected_view(method: str, target: bytes, headers: tuple[tuple[str, str], ...],
                                              status: int) -> None:
    app, calls, sink = build()
    response = call_wsgi(app, method, target, headers)
    assert response.status == status
    assert calls.seen == []
    if status in (400, 401, 403, 405):
        assert sink.records and sink.records[-1].effect == "Deny"
        assert sink.records[-1].status == status


def test_head_is_authorized_as_get_and_options_never_runs_the_view() -> None:
    app, calls, _ = build()
    client = app.test_client()
    assert client.head("/orders/1", headers=dict(READER)).status_code == 200
    assert client.head("/orders/1").status_code == 401
    preflight = client.options("/orders/1")
    assert preflight.status_code == 204 and preflight.data == b""
    assert "GET" in preflight.headers["allow"]
    assert calls.names == ["get_order"]


def test_public_routes_get_the_anonymous_principal_and_blueprints_can_be_public() -> None:
    app, _, sink = build()
    client = app.test_client()
    assert client.get("/health").json == {"status": "ok", "anonymous": True}
    assert client.get("/area/page").json == {"area": True, "anonymous": True}
    assert sink.records == []


def test_method_view_handlers_carry_their_own_rules() -> None:
    app, calls, _ = build()
    client = app.test_client()
    assert client.get("/orders/5/lines", headers=dict(READER)).status_code == 200
    assert client.post("/orders/5/lines", headers=dict(READER)).status_code == 403
    assert client.post("/orders/5/lines", headers=dict(bearer("writer"))).status_code == 200
    assert calls.names == ["lines", "add_line"]


def test_route_map_and_decorators_work_together() -> None:
    app, calls, _ = build()
    client = app.test_client()
    assert client.delete("/orders/5", headers=dict(bearer("writer-mfa"))).status_code == 200
    assert client.get("/orders/5", headers=dict(bearer("writer-mfa"))).status_code == 200
    assert calls.seen == [("delete_order", {"order_id": "5"}), ("get_order", {"order_id": "5"})]


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    authority = standard_authority()
    office_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"{ORDER_ARN}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}
    authority.add("office", StubSession(ALICE, "alice"), office_only)
    guard, sink, _ = stub_guard(authority, trusted_proxies=["10.0.0.0/8"])
    calls = Calls()
    app, _ = flask_app(guard, calls)
    spoofed = (*bearer("office"), ("x-forwarded-for", "203.0.113.7"))
    assert call_wsgi(app, "GET", b"/orders/1", spoofed, client="192.0.2.10").status == 403
    assert sink.records[-1].source_ip == "192.0.2.10"
    # ProxyFix rewrites REMOTE_ADDR from the header; the guard still sees the real peer.
    fixed = ProxyFix(app.wsgi_app, x_for=1)
    app.wsgi_app = fixed  # type: ignore[method-assign]
    assert call_wsgi(app, "GET", b"/orders/1", spoofed, client="192.0.2.10").status == 403
    assert sink.records[-1].source_ip == "192.0.2.10"
    assert call_wsgi(app, "GET", b"/orders/1", spoofed, client="10.1.2.3").status == 200  # a trusted proxy
    assert sink.records[-1].source_ip == "203.0.113.7"
    unparsable = (*bearer("office"), ("x-forwarded-for", "203.0.113.007"))
    assert call_wsgi(app, "GET", b"/orders/1", unparsable, client="10.1.2.3").status == 400
    assert calls.names == ["get_order"]


def test_two_credentials_at_once_are_refused() -> None:
    guard, _, _ = stub_guard(cookie_name="session")
    calls = Calls()
    app, _ = flask_app(guard, calls)
    both = (*READER, ("cookie", "session=writer"))
    assert call_wsgi(app, "GET", b"/orders/1", both).status == 400
    twice = (("cookie", "session=reader; session=writer"),)
    assert call_wsgi(app, "GET", b"/orders/1", twice).status == 400
    assert call_wsgi(app, "GET", b"/orders/1", (("cookie", "session=reader"),)).status == 200
    assert calls.names == ["get_order"]


@pytest.mark.parametrize(("name", "fail", "options", "status"), FAULTS, ids=[row[0] for row in FAULTS])
def test_every_fault_in_the_guards_collaborators_denies(name: str, fail: dict[str, BaseException],
                                                         options: dict[str, Any], status: int,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    authority = standard_authority()
    authority.fail.update(fail)
    guard, _, _ = stub_guard(authority, **options)
    calls = Calls()
    app, _ = flask_app(guard, calls)
    for method, target in (("GET", b"/orders/1"), ("DELETE", b"/orders/1"), ("GET", b"/orders/1/lines")):
        response = call_wsgi(app, method, target, bearer("writer-mfa"))
        assert response.status == status
        assert b"Statement" not in response.body
    assert calls.seen == []


def test_a_failure_in_the_adapter_itself_denies(monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    import flask_iamguard.adapter as adapter

    caplog.set_level(logging.CRITICAL)
    app, calls, sink = build()

    def explode(environ: Any) -> Any:
        raise UnicodeError("unreadable header")

    monkeypatch.setattr(adapter, "environ_headers", explode)
    response = call_wsgi(app, "GET", b"/orders/1", READER)
    assert response.status == 503
    assert calls.seen == []
    assert sink.records[-1].reason == "internal_error"


def test_decorators_decide_alone_without_the_hook() -> None:
    guard, _, _ = stub_guard()
    calls = Calls()
    app, _ = flask_app(guard, calls, hook=False)
    client = app.test_client()
    assert client.get("/orders/3", headers=dict(READER)).status_code == 200
    assert client.get("/orders/3").status_code == 401
    assert client.get("/orders/3", headers=dict(bearer("seven"))).status_code == 403
    assert client.post("/orders/3/lines", headers=dict(READER)).status_code == 403
    assert calls.names == ["get_order"]


def test_a_view_called_with_other_parameters_than_authorized_is_refused() -> None:
    guard, _, _ = stub_guard()
    calls = Calls()
    app, _ = flask_app(guard, calls)

    @app.before_request
    def rewrite() -> None:  # a later hook that changes what the view will receive
        if request.view_args and "order_id" in request.view_args:
            request.view_args["order_id"] = "999"

    response = app.test_client().get("/orders/7", headers=dict(bearer("seven")))
    assert response.status_code == 403
    assert calls.seen == []


def test_g_iam_belongs_to_one_request_only() -> None:
    app, _, _ = build()
    client = app.test_client()
    first = client.get("/orders/1", headers=dict(READER)).json
    second = client.get("/orders/1", headers=dict(bearer("writer"))).json
    assert first["principal"] == ALICE and second["principal"] != ALICE
    assert client.get("/orders/1").status_code == 401


def test_blueprint_rules_are_defaults_for_their_views() -> None:
    guard, _, _ = stub_guard()
    app = Flask("bp", static_folder=None)
    iam = IamGuard(app, guard=guard)
    calls = Calls()
    shop = Blueprint("shop", "shop", url_prefix="/shop")
    iam.require("orders:GetOrder", ORDER, methods="GET")(shop)

    @shop.get("/<order_id>")
    def read(order_id: str) -> Any:
        calls.hit("read", {"order_id": order_id})
        return jsonify({"resource": g.iam.resource})

    @shop.get("/<order_id>/open")
    @iam.public
    def open_view(order_id: str) -> Any:
        return jsonify({"anonymous": g.iam.anonymous})

    app.register_blueprint(shop)
    client = app.test_client()
    assert client.get("/shop/7", headers=dict(bearer("seven"))).json == {"resource": f"{ORDER_ARN}/7"}
    assert client.get("/shop/8", headers=dict(bearer("seven"))).status_code == 403
    assert client.get("/shop/8/open").json == {"anonymous": True}
    assert calls.names == ["read"]


def test_route_listing_flags_unmapped_routes_and_the_strict_check_refuses() -> None:
    guard, _, _ = stub_guard()
    calls = Calls()
    app, iam = flask_app(guard, calls)
    reports = {(report.method, report.path): report for report in iam.report(app)}
    assert reports[("GET", "/orders/{order_id}")].rule is not None
    assert reports[("DELETE", "/orders/{order_id}")].ok
    assert reports[("POST", "/orders/{order_id}/lines")].rule.action == "orders:CreateOrder"  # type: ignore[union-attr]
    assert reports[("GET", "/area/page")].ok
    assert reports[("GET", "/admin")].problem == "unmapped"
    assert [key for key, report in reports.items() if not report.ok] == [("GET", "/admin"), ("HEAD", "/admin")]
    with pytest.raises(UnmappedRoutesError, match="/admin"):
        iam.check_app(app)
    result = app.test_cli_runner().invoke(args=["iam-routes", "--strict"])
    assert result.exit_code == 1 and "/admin" in result.output and "unmapped" in result.output


def test_strict_mode_refuses_every_request_while_a_route_is_unmapped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    guard, sink, _ = stub_guard()
    calls = Calls()
    app, _ = flask_app(guard, calls, strict=True)
    assert call_wsgi(app, "GET", b"/orders/1", READER).status == 503
    assert call_wsgi(app, "GET", b"/health", ()).status == 503
    assert calls.seen == [] and sink.records[-1].reason == "internal_error"


def test_a_mutating_action_on_get_is_a_startup_error() -> None:
    guard, _, _ = stub_guard()
    iam = IamGuard(guard=guard)
    from iamguard.web import RouteConfigError

    with pytest.raises(RouteConfigError, match="CSRF-02"):
        iam.require("orders:DeleteOrder", ORDER, methods="GET")
    app = Flask("csrf", static_folder=None)
    iam.init_app(app)

    @app.get("/orders/<order_id>")
    @iam.require("orders:DeleteOrder", ORDER)  # no methods: checked against the route's GET
    def delete_on_get(order_id: str) -> Any:
        raise AssertionError("never runs")

    problems = [report for report in iam.report(app) if not report.ok]
    assert problems and all("CSRF-02" in str(report.problem) for report in problems)
    assert app.test_client().get("/orders/1", headers=dict(READER)).status_code == 403


def test_constructor_forms() -> None:
    authority = standard_authority()
    app = Flask("forms", static_folder=None)
    iam = IamGuard(app, authority=authority, tenant=TENANT,
                   routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
    assert isinstance(iam.guard, Guard)

    @app.get("/orders/<order_id>")
    def read(order_id: str) -> Any:
        return jsonify({"principal": g.iam.principal})

    assert app.test_client().get("/orders/1", headers=dict(READER)).json == {"principal": ALICE}
    with pytest.raises(TypeError):
        IamGuard(Flask("none")).init_app(Flask("other"))
    with pytest.raises(TypeError):
        IamGuard(guard=iam.guard, tenant=TENANT)
    with pytest.raises(RuntimeError):
        iam.init_app(app)


def test_one_extension_serves_several_apps_with_their_own_guards() -> None:
    first_guard, _, _ = stub_guard()
    second_guard, _, _ = stub_guard(routes=[public(methods="GET", path="/orders/{order_id}")])
    iam = IamGuard()
    apps = []
    for guard in (first_guard, second_guard):
        app = Flask("multi", static_folder=None)
        iam.init_app(app, guard=guard)
        app.add_url_rule("/orders/<order_id>", "read", lambda order_id: jsonify({"anonymous": g.iam.anonymous}))
        apps.append(app)
    assert apps[0].test_client().get("/orders/1").status_code == 401
    assert apps[1].test_client().get("/orders/1").json == {"anonymous": True}


def test_no_client_header_can_mark_a_request_as_authorized() -> None:
    app, calls, _ = build()
    signals = (("x-middleware-subrequest", "middleware"), ("x-iamguard-authorized", "true"),
               ("x-internal-request", "1"), ("x-amz-principal", ALICE))
    assert call_wsgi(app, "GET", b"/orders/1", signals).status == 401
    assert call_wsgi(app, "DELETE", b"/orders/1", (*bearer("writer"), *signals)).status == 401  # still step-up
    assert calls.seen == []


def test_async_views_keep_their_kind_under_the_decorator() -> None:
    guard, _, _ = stub_guard()
    app = Flask("async_views", static_folder=None)
    iam = IamGuard(app, guard=guard)
    calls = Calls()

    @app.get("/orders/<order_id>")
    @iam.require("orders:GetOrder", ORDER, methods="GET")
    async def read(order_id: str) -> Any:
        calls.hit("read", {"order_id": order_id})
        return jsonify({"resource": g.iam.resource})

    client = app.test_client()
    assert client.get("/orders/7", headers=dict(bearer("seven"))).json == {"resource": f"{ORDER_ARN}/7"}
    assert client.get("/orders/8", headers=dict(bearer("seven"))).status_code == 403
    assert calls.names == ["read"]


def test_the_token_endpoints_refuse_oversized_bodies() -> None:
    from flask_iamguard import auth_blueprint

    class NoCredentials:
        clock = None

        def __getattr__(self, name: str) -> Any:
            raise AssertionError("an oversized body must not reach the credentials")

    guard, _, _ = stub_guard()
    app = Flask("tokens", static_folder=None)
    IamGuard(app, guard=guard)
    app.register_blueprint(auth_blueprint(NoCredentials()))
    client = app.test_client()
    response = client.post("/auth/token", data=b"{" + b" " * 20_000 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert client.get("/auth/token").status_code == 405
