"""The neutral Guard: the decision pipeline, response shapes, step-up and failing closed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.store.database import StoreError
from iamguard.web import ContextInput, Guard, Login, WebRequest, public, rule
from tests.web.stubs import (
    ALICE,
    ORDER_ARN,
    READER,
    TENANT,
    StubDirectory,
    StubSession,
    TokenRefused,
    standard_authority,
)

ROUTES = [
    rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET", path="/orders/{order_id}"),
    rule("orders:DeleteOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="DELETE",
         path="/orders/{order_id}"),
    public(methods="GET", path="/health"),
]


def make_guard(**options: Any) -> tuple[Guard, MemorySink]:
    sink = MemorySink()
    authority = options.pop("authority", None) or standard_authority()
    routes = options.pop("routes", ROUTES)
    guard = Guard(authority, routes=routes, audit=sink, clock=options.pop("clock", FrozenClock()), tenant=TENANT,
                  step_up_endpoint="/auth/step-up", **options)
    return guard, sink


def request(method: str = "GET", token: str | None = "reader", *, route: str | None = "/orders/{order_id}",
            params: Mapping[str, Any] | None = None, headers: tuple[tuple[str, str], ...] = (),
            **fields: Any) -> WebRequest:
    all_headers = ((("authorization", f"Bearer {token}"),) if token else ()) + headers
    path = fields.pop("path", "/orders/7")
    return WebRequest(method, path, route=route, path_params={"order_id": "7"} if params is None else params,
                      headers=all_headers, client=fields.pop("client", "192.0.2.10"), **fields)


STATUS_TABLE = [
    # name, request, status, reason
    ("allowed read", request(), None, "allowed"),
    ("missing credentials", request(token=None), 401, "missing_credentials"),
    ("unknown token", request(token="forged"), 401, "invalid_token"),
    ("reader cannot delete", request("DELETE"), 403, "implicit_deny"),
    ("explicit deny", request("DELETE", token="no-deletes"), 403, "explicit_deny"),
    ("delete without mfa", request("DELETE", token="writer"), 401, "mfa_required"),
    ("delete with old mfa", request("DELETE", token="writer-old-mfa"), 401, "mfa_required"),
    ("delete with fresh mfa", request("DELETE", token="writer-mfa"), None, "allowed"),
    ("other order", request(token="seven", params={"order_id": "8"}), 403, "implicit_deny"),
    ("wildcard order id", request(token="seven", params={"order_id": "*"}), 403, "implicit_deny"),
    ("head is get", request("HEAD"), None, "allowed"),
    ("public route", request(token=None, route="/health", params={}), None, "public"),
    ("unmapped route", request(route="/admin", params={}), 403, "unmapped_route"),
    ("unmapped route anonymous", request(token=None, route="/admin", params={}), 401, "missing_credentials"),
    ("unmapped method", request("POST"), 403, "unmapped_route"),
    ("options never runs handler", request("OPTIONS", token=None), 204, "preflight"),
    ("lowercase method", request("get"), 400, "malformed_request"),
    ("unknown method", request("TRACE"), 405, "method_not_allowed"),
    ("encoded slash", request(raw_path=b"/orders/a%2Fb"), 400, "malformed_request"),
    ("override header", request(headers=(("x-http-method-override", "DELETE"),)), 400, "malformed_request"),
    ("token in query", request(query_string=b"access_token=reader"), 400, "invalid_request"),
    ("two authorization headers", request(headers=(("authorization", "Bearer writer"),)), 400, "invalid_request"),
    ("two tokens joined by a WSGI server", request(token="reader, Bearer writer"), 400, "invalid_request"),
    ("empty bearer", request(token=None, headers=(("authorization", "Bearer "),)), 401, "invalid_token"),
    ("basic scheme", request(token=None, headers=(("authorization", "Basic YTpi"),)), 401,
     "missing_credentials"),
    ("oversized token", request(token="a" * 9000), 400, "invalid_request"),
    ("bad token characters", request(token="a b\u00e9"), 401, "invalid_token"),
]


@pytest.mark.parametrize(("name", "web_request", "status", "reason"), STATUS_TABLE,
                         ids=[row[0] for row in STATUS_TABLE])
def test_status_table(name: str, web_request: WebRequest, status: int | None, reason: str) -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(web_request)
    assert verdict.reason == reason
    assert verdict.status == status
    assert verdict.allowed is (status is None)
    if reason in ("public", "preflight"):  # audited only with audit_public=True
        assert sink.records == []
    else:
        assert [record.reason for record in sink.records] == [reason]
        assert sink.records[0].effect == ("Allow" if status is None else "Deny")


def test_async_and_sync_give_the_same_answers() -> None:
    guard, _ = make_guard()
    for _, web_request, status, reason in STATUS_TABLE:
        verdict = asyncio.run(guard.check(web_request))
        assert (verdict.status, verdict.reason) == (status, reason)


def test_response_shapes() -> None:
    guard, _ = make_guard()
    missing = guard.check_sync(request(token=None)).response
    assert missing is not None and dict(missing.headers)["www-authenticate"] == "Bearer"
    invalid = guard.check_sync(request(token="forged")).response
    assert invalid is not None
    assert dict(invalid.headers)["www-authenticate"].startswith('Bearer error="invalid_token"')
    denied = guard.check_sync(request("DELETE")).response
    assert denied is not None and denied.json() == {
        "error": "AccessDenied", "action": "orders:DeleteOrder", "resource": f"{ORDER_ARN}/7"}
    assert b"Statement" not in denied.body and b"Allow" not in denied.body
    ambiguous = guard.check_sync(request(headers=(("authorization", "Bearer x"),))).response
    assert ambiguous is not None and 'error="invalid_request"' in dict(ambiguous.headers)["www-authenticate"]
    for response in (missing, invalid, denied, ambiguous):
        assert dict(response.headers)["cache-control"] == "no-store"


def test_step_up_challenge_follows_rfc_9470() -> None:
    guard, _ = make_guard()
    verdict = guard.check_sync(request("DELETE", token="writer"))
    assert verdict.response is not None
    header = dict(verdict.response.headers)["www-authenticate"]
    assert header.startswith('Bearer error="insufficient_user_authentication"')
    assert "max_age=300" in header  # from the policy's NumericGreaterThan 300
    body = verdict.response.json()
    assert body["error"] == "insufficient_user_authentication"
    assert body["max_age"] == 300 and body["step_up_endpoint"] == "/auth/step-up"


def test_step_up_default_max_age_when_policy_only_needs_presence() -> None:
    authority = standard_authority()
    presence_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:DeleteOrder", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
    authority.add("presence", StubSession(ALICE, "alice"), presence_only)
    guard, _ = make_guard(authority=authority, step_up_max_age=120)
    verdict = guard.check_sync(request("DELETE", token="presence"))
    assert verdict.reason == "mfa_required"
    assert verdict.response is not None and verdict.response.json()["max_age"] == 120


def test_debug_mode_adds_the_explanation_and_is_off_by_default() -> None:
    quiet, _ = make_guard()
    loud, _ = make_guard(debug=True)
    quiet_body = quiet.check_sync(request("DELETE")).response
    loud_body = loud.check_sync(request("DELETE")).response
    assert quiet_body is not None and "explanation" not in quiet_body.json()
    assert loud_body is not None and "implicit deny" in loud_body.json()["explanation"]


def test_allowed_verdict_carries_the_context_the_handler_reads() -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(request(params={"order_id": "x*y"}, token="reader"))
    assert verdict.iam is not None
    assert verdict.iam.principal == ALICE and verdict.iam.action == "orders:GetOrder"
    assert verdict.iam.resource == f"{ORDER_ARN}/x*y"
    assert dict(verdict.iam.path_params) == {"order_id": "x*y"}
    assert verdict.iam.request_id == sink.records[0].request_id
    assert sink.records[0].session_id == "jti-0001"


def test_converted_path_values_are_authorized_as_text() -> None:
    guard, _ = make_guard()
    verdict = guard.check_sync(request(params={"order_id": 7}))
    assert verdict.iam is not None and verdict.iam.resource == f"{ORDER_ARN}/7"
    assert dict(verdict.iam.path_params) == {"order_id": "7"}


def test_colon_in_a_head_segment_is_refused() -> None:
    routes = [rule("orders:GetOrder", "arn:app:orders:{region}:{tenant}:order/{order_id}", methods="GET",
                   path="/r/{region}/orders/{order_id}")]
    guard, _ = make_guard(routes=routes)
    verdict = guard.check_sync(request(route="/r/{region}/orders/{order_id}",
                                       params={"region": "eu:123456789012", "order_id": "7"}))
    assert (verdict.status, verdict.reason) == (400, "invalid_path_parameter")


def test_network_context_uses_trusted_proxies_only() -> None:
    guard, sink = make_guard(trusted_proxies=["10.0.0.1"])
    spoofed = guard.check_sync(request(client="203.0.113.5", headers=(("x-forwarded-for", "127.0.0.1"),)))
    assert spoofed.allowed and sink.records[-1].source_ip == "203.0.113.5"
    proxied = guard.check_sync(request(client="10.0.0.1", headers=(("x-forwarded-for", "6.6.6.6, 198.51.100.4"),)))
    assert proxied.allowed and sink.records[-1].source_ip == "198.51.100.4"
    garbage = guard.check_sync(request(client="10.0.0.1", headers=(("x-forwarded-for", "a"),)))
    assert (garbage.status, garbage.reason) == (400, "malformed_request")
    assert spoofed.decision is not None
    context = spoofed.decision.request.context
    assert context["aws:SourceIp"] == "203.0.113.5" and context["aws:SecureTransport"] is False
    assert context["aws:CurrentTime"] == "2026-01-01T00:00:00Z" and context["aws:EpochTime"] == 1767225600


def test_source_ip_condition_cannot_be_spoofed() -> None:
    authority = standard_authority()
    office_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}]}
    authority.add("office", StubSession(ALICE, "alice"), office_only)
    guard, _ = make_guard(authority=authority)
    spoofed = guard.check_sync(request(token="office", headers=(("x-forwarded-for", "198.51.100.1"),)))
    assert spoofed.reason == "implicit_deny"
    inside = guard.check_sync(request(token="office", client="198.51.100.1"))
    assert inside.allowed


def test_context_providers_sync_and_async_feed_the_decision() -> None:
    owners = {"7": "alice", "8": "bob"}

    def owner_tag(given: ContextInput) -> Mapping[str, Any]:
        return {"aws:ResourceTag/owner": owners[given.path_params["order_id"]]}

    async def async_owner_tag(given: ContextInput) -> Mapping[str, Any]:
        await asyncio.sleep(0)
        return owner_tag(given)

    for provider in (owner_tag, async_owner_tag):
        guard, _ = make_guard(context=[provider])
        for order_id, allowed in (("7", True), ("8", False)):
            web_request = request(token="owner", params={"order_id": order_id})
            assert asyncio.run(guard.check(web_request)).allowed is allowed
            assert guard.check_sync(web_request).allowed is allowed


def test_rule_level_provider() -> None:
    routes = [rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET",
                   path="/orders/{order_id}", context=[lambda given: {"aws:ResourceTag/owner": "alice"}])]
    guard, _ = make_guard(routes=routes)
    assert guard.check_sync(request(token="owner")).allowed


@pytest.mark.parametrize("key", ["aws:MultiFactorAuthPresent", "aws:SourceIp", "AWS:PRINCIPALARN", "aws:username",
                                 "sts:RoleSessionName", "aws:SecureTransport"])
def test_providers_cannot_set_security_keys(key: str) -> None:
    guard, _ = make_guard(context=[lambda given: {key: "true"}])
    verdict = guard.check_sync(request())
    assert (verdict.status, verdict.reason) == (503, "context_error")


# ---- failing closed at every seam (FAIL-01..03) ------------------------------------------------

def broken_provider(exc: BaseException) -> Any:
    def provider(given: ContextInput) -> Mapping[str, Any]:
        raise exc

    return provider


class ExplodingSink:
    def emit(self, record: Any) -> None:
        raise OSError("disk full")


SEAMS = [
    ("authenticate bug", {"authenticate": KeyError("x")}, {}, 503, "authentication_error"),
    ("authenticate store", {"authenticate": StoreError("locked")}, {}, 503, "store_unavailable"),
    ("authenticate timeout", {"authenticate": TimeoutError()}, {}, 503, "timeout"),
    ("authenticate refusal", {"authenticate": TokenRefused("expired")}, {}, 401, "invalid_token"),
    ("resolve store", {"policy_set_for": StoreError("locked")}, {}, 503, "store_unavailable"),
    ("resolve bug", {"policy_set_for": RecursionError()}, {}, 503, "authentication_error"),
    ("provider bug", {}, {"context": [broken_provider(ValueError("bad date"))]}, 503, "context_error"),
    ("provider store", {}, {"context": [broken_provider(StoreError("down"))]}, 503, "store_unavailable"),
    ("provider returns junk", {}, {"context": [lambda given: ["not", "a", "mapping"]]}, 503, "context_error"),
    ("audit sink", {}, {"audit_sink": ExplodingSink()}, 503, "audit_unavailable"),
]


@pytest.mark.parametrize(("name", "fail", "options", "status", "reason"), SEAMS, ids=[row[0] for row in SEAMS])
def test_every_seam_fails_closed(name: str, fail: dict[str, BaseException], options: dict[str, Any], status: int,
                                 reason: str) -> None:
    authority = standard_authority()
    authority.fail.update(fail)
    options = dict(options)
    sink = options.pop("audit_sink", None) or MemorySink()
    guard = Guard(authority, routes=ROUTES, audit=sink, clock=FrozenClock(), tenant=TENANT, **options)
    for verdict in (guard.check_sync(request()), asyncio.run(guard.check(request()))):
        assert not verdict.allowed
        assert (verdict.status, verdict.reason) == (status, reason)
    if isinstance(sink, MemorySink):
        assert {record.reason for record in sink.records} == {reason}


def test_evaluator_failure_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    from iamguard.engine.evaluator import PolicySet

    def explode(self: Any, question: Any) -> Any:
        raise MemoryError("boom")

    guard, _ = make_guard()
    monkeypatch.setattr(PolicySet, "evaluate", explode)
    verdict = guard.check_sync(request())
    assert (verdict.status, verdict.reason) == (503, "evaluation_error")


def test_a_decision_with_an_error_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    from iamguard.engine.decision import Decision, Effect
    from iamguard.engine.evaluator import PolicySet

    def failed(self: Any, question: Any) -> Decision:
        return Decision(Effect.EXPLICIT_DENY, question, error="store went away")

    guard, _ = make_guard()
    monkeypatch.setattr(PolicySet, "evaluate", failed)
    assert (guard.check_sync(request()).status, guard.check_sync(request()).reason) == (503, "evaluation_error")


def test_a_failing_sink_on_a_deny_keeps_the_deny_and_reports(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard(standard_authority(), routes=ROUTES, audit=ExplodingSink(), clock=FrozenClock(), tenant=TENANT)
    with caplog.at_level("ERROR", logger="iamguard.audit.failure"):
        verdict = guard.check_sync(request("DELETE"))
    assert (verdict.status, verdict.reason) == (403, "implicit_deny")
    assert any("undelivered record" in message and "implicit_deny" in message for message in caplog.messages)


def test_slow_decisions_time_out() -> None:
    clock = FrozenClock()

    async def slow(given: ContextInput) -> Mapping[str, Any]:
        await asyncio.sleep(1)
        return {}

    guard, _ = make_guard(context=[slow], timeout=0.05, clock=clock)
    verdict = asyncio.run(guard.check(request()))
    assert (verdict.status, verdict.reason) == (503, "timeout")


def test_async_hook_in_sync_check_inside_a_running_loop_is_refused() -> None:
    async def provider(given: ContextInput) -> Mapping[str, Any]:
        return {}

    guard, _ = make_guard(context=[provider])

    async def inside_loop() -> Any:
        return guard.check_sync(request())

    verdict = asyncio.run(inside_loop())
    assert not verdict.allowed and verdict.status == 503


# ---- resolvers, cookies, CSRF --------------------------------------------------------------------

def resolver_guard(login: Any, **options: Any) -> Guard:
    directory = StubDirectory({ALICE: (READER,)})
    clock = options.pop("clock", None) or FrozenClock()
    return Guard(None, directory=directory, resolver=lambda web_request: login, routes=ROUTES,
                 audit=MemorySink(), clock=clock, tenant=TENANT, **options)


def test_principal_resolver_for_apps_with_their_own_login() -> None:
    assert resolver_guard(ALICE).check_sync(request(token=None)).allowed
    assert resolver_guard(Login(ALICE)).check_sync(request(token=None)).allowed
    assert resolver_guard(None).check_sync(request(token=None)).reason == "missing_credentials"
    unknown = resolver_guard("arn:aws:iam::123456789012:user/ghost").check_sync(request(token=None))
    assert (unknown.status, unknown.reason) == (403, "unknown_principal")
    both = resolver_guard(ALICE).check_sync(request(token="reader"))
    assert (both.status, both.reason) == (400, "invalid_request")


def test_resolver_logins_always_carry_mfa_keys() -> None:
    clock = FrozenClock()
    fresh = Login(ALICE, mfa_authenticated_at=clock.now() - timedelta(seconds=40))
    verdict = resolver_guard(fresh, clock=clock).check_sync(request(token=None))
    assert verdict.decision is not None
    assert verdict.decision.request.context["aws:MultiFactorAuthPresent"] is True
    assert verdict.decision.request.context["aws:MultiFactorAuthAge"] == 40
    plain = resolver_guard(ALICE).check_sync(request(token=None))
    assert plain.decision is not None and plain.decision.request.context["aws:MultiFactorAuthPresent"] is False


def test_resolver_failure_denies() -> None:
    def broken(web_request: WebRequest) -> str:
        raise RuntimeError("session backend down")

    guard = Guard(None, directory=StubDirectory(), resolver=broken, routes=ROUTES, audit=MemorySink(),
                  tenant=TENANT)
    verdict = guard.check_sync(request(token=None))
    assert (verdict.status, verdict.reason) == (503, "authentication_error")


COOKIE = "__Host-iamguard"


@pytest.mark.parametrize(("method", "headers", "status", "reason"), [
    ("GET", ((("cookie", f"{COOKIE}=reader")),), None, "allowed"),
    ("GET", (("cookie", f"a=1; {COOKIE}=reader"),), None, "allowed"),
    ("GET", (("cookie", f"{COOKIE}=reader; {COOKIE}=writer"),), 400, "invalid_request"),
    ("GET", (("cookie", f"{COOKIE}=reader"), ("authorization", "Bearer reader")), 400, "invalid_request"),
    ("DELETE", (("cookie", f"{COOKIE}=writer-mfa"),), 403, "csrf_failed"),
    ("DELETE", (("cookie", f"{COOKIE}=writer-mfa"), ("origin", "https://evil.example")), 403, "csrf_failed"),
    ("DELETE", (("cookie", f"{COOKIE}=writer-mfa"), ("origin", "https://shop.example")), None, "allowed"),
])
def test_cookie_sessions(method: str, headers: tuple[tuple[str, str], ...], status: int | None, reason: str) -> None:
    guard, _ = make_guard(cookie_name=COOKIE, trusted_origins=("https://shop.example",))
    verdict = guard.check_sync(request(method, token=None, headers=headers))
    assert (verdict.status, verdict.reason) == (status, reason)


def test_cookies_are_ignored_unless_enabled() -> None:
    guard, _ = make_guard()
    verdict = guard.check_sync(request(token=None, headers=(("cookie", f"{COOKIE}=reader"),)))
    assert verdict.reason == "missing_credentials"


def test_mapping_conflicts_deny() -> None:
    other = rule("orders:ListOrders", "arn:app:orders::{tenant}:orders", methods="GET")
    guard, _ = make_guard()
    verdict = guard.check_sync(request(declared=(other,)))
    assert (verdict.status, verdict.reason) == (403, "mapping_conflict")
    anywhere = rule("orders:DeleteOrder", "arn:app:orders::{tenant}:order/{order_id}")
    on_get = guard.check_sync(request(route="/x/{order_id}", declared=(anywhere,)))
    assert (on_get.status, on_get.reason) == (403, "mapping_conflict")


def test_no_state_is_shared_between_concurrent_principals() -> None:
    guard, _ = make_guard()

    async def run() -> list[Any]:
        async def one(token: str, index: int) -> Any:
            await asyncio.sleep(0)
            return token, await guard.check(request("DELETE" if index % 2 else "GET", token=token))

        return await asyncio.gather(*(one(token, index) for index in range(40)
                                      for token in ("reader", "writer-mfa")))

    for token, verdict in asyncio.run(run()):
        expected = "arn:aws:iam::123456789012:user/" + ("alice" if token == "reader" else "bob")
        if verdict.allowed:
            assert verdict.iam.principal == expected
        else:
            assert token == "reader" and verdict.reason == "implicit_deny"


def test_configuration_is_validated() -> None:
    with pytest.raises(ValueError):
        Guard(None, tenant="Not A Tenant")
    with pytest.raises(ValueError):
        Guard(None, trusted_proxies=["*"])
    with pytest.raises(ValueError):
        Guard(None, resolver=lambda web_request: None)
    with pytest.raises(TypeError):
        Guard(None, nonsense=True)


def test_a_broken_clock_while_recording_refuses_the_allow() -> None:
    class BreaksOnSecondCall(FrozenClock):
        calls = 0

        def now(self) -> Any:
            self.calls += 1
            if self.calls > 2:  # the decision reads the clock; the audit record then fails
                raise OSError("clock source gone")
            return super().now()

    guard, _ = make_guard(clock=BreaksOnSecondCall())
    verdict = guard.check_sync(request())
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 503, "audit_unavailable")


@pytest.mark.parametrize(("effect", "operator", "number", "max_age"), [
    ("Allow", "NumericLessThan", "300", 299),  # an age of 300 is not less than 300
    ("Allow", "NumericLessThanEquals", "300", 300),
    ("Allow", "NumericLessThan", "300.5", 300),
    ("Allow", "NumericLessThanEquals", "300.5", 300),
    ("Deny", "NumericGreaterThan", "300", 300),  # denied only past 300
    ("Deny", "NumericGreaterThanEquals", "300", 299),
    ("Deny", "NumericGreaterThanEquals", "0.5", 0),
])
def test_step_up_max_age_is_the_oldest_age_the_condition_admits(effect: str, operator: str, number: str,
                                                               max_age: int) -> None:
    """RFC 9470's max_age is the elapsed time that still satisfies the policy: a client whose MFA
    is exactly max_age seconds old must be allowed."""
    authority = standard_authority()
    present = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "orders:DeleteOrder", "Resource": "*",
                                         "Condition": {**present, operator: {"aws:MultiFactorAuthAge": number}}
                                         if effect == "Allow" else present}]
    if effect == "Deny":
        statements.append({"Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*",
                           "Condition": {operator: {"aws:MultiFactorAuthAge": number}}})
    authority.add("aged", StubSession(ALICE, "alice"), {"Version": "2012-10-17", "Statement": statements})
    guard, _ = make_guard(authority=authority, step_up_max_age=900)
    verdict = guard.check_sync(request("DELETE", token="aged"))
    assert verdict.reason == "mfa_required"
    assert verdict.response is not None and verdict.response.json()["max_age"] == max_age
    assert dict(verdict.response.headers)["www-authenticate"].endswith(f"max_age={max_age}")


@pytest.mark.parametrize(("token", "params", "reason", "action", "resource"), [
    (None, {"order_id": "7"}, "missing_credentials", "orders:GetOrder", f"{ORDER_ARN}/7"),
    ("forged", {"order_id": "7"}, "invalid_token", "orders:GetOrder", f"{ORDER_ARN}/7"),
    # A value the resource refuses: the record names the action alone; the answer stays the 401.
    (None, {"order_id": ""}, "missing_credentials", "orders:GetOrder", None),
], ids=["no-credential", "forged-token", "unrenderable-value"])
def test_a_request_refused_before_its_decision_is_audited_with_its_target(
        token: str | None, params: dict[str, str], reason: str, action: str, resource: str | None) -> None:
    """LOG-02: the record of a 401 names what was asked for, as far as the rule renders it."""
    guard, sink = make_guard()
    verdict = guard.check_sync(request(token=token, params=params))
    assert (verdict.status, verdict.reason) == (401, reason)
    [record] = sink.records
    assert (record.effect, record.reason, record.action, record.resource) == ("Deny", reason, action, resource)


def test_an_unmapped_route_is_audited_without_a_target() -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(request(token=None, route="/nowhere", path="/nowhere", params={}))
    assert verdict.status == 401
    [record] = sink.records
    assert (record.action, record.resource) == (None, None)
