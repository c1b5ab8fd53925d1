"""The per-request shortcuts of the web layer give exactly the answers of the long way round.

Each shortcut (remembered route rules, bound resource templates, a session's context keys per
whole second, pre-normalized request contexts, cheap value construction, grouped headers) is
checked against the computation it replaces, and the warm path against a real credentials store:
a detached policy, a revoked session, a tag change and an MFA age crossing its limit all count
on the very next request.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamguard.audit import Auditor, MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials, Credentials
from iamguard.credentials.session import Session
from iamguard.directory import Directory
from iamguard.engine.context import Request, normalize_context
from iamguard.store.memory import MemoryStore
from iamguard.web import Guard, IamContext, RouteMap, WebRequest, rule
from iamguard.web.guard import Verdict
from iamguard.web.request import group_headers
from iamguard.web.routes import ResourceTemplate, RouteConfigError, TemplateError
from iamguard.web.sessions import SessionMemo
from iamguard.web.target import check_path, is_plain_path
from iamguard.web.tokens import is_b64token
from iamguard.web.values import quick_init
from iamguard.web.wsgi import environ_headers
from tests.web.stubs import TENANT, standard_authority

ORDER = "arn:app:orders::{tenant}:order/{order_id}"


def get_order(token: str, order_id: str = "7", **fields: Any) -> WebRequest:
    return WebRequest("GET", f"/orders/{order_id}", raw_path=f"/orders/{order_id}".encode(),
                      headers=(("authorization", f"Bearer {token}"),), client="192.0.2.10",
                      route="/orders/{order_id}", path_params={"order_id": order_id}, **fields)


# ---- cheap construction of frozen values ------------------------------------------------------

def test_quick_init_builds_the_same_frozen_objects() -> None:
    built = WebRequest("GET", "/x")
    assert built == WebRequest(method="GET", path="/x", raw_path=None, query_string=b"", headers=())
    assert vars(built) == {field.name: getattr(built, field.name) for field in dataclasses.fields(WebRequest)}
    assert built.path_params == {} and built.path_params is not WebRequest("GET", "/x").path_params
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.method = "POST"  # type: ignore[misc]
    context = IamContext("r1", "p", "a", "r", None, {"id": "1"}, source="bearer")
    assert (context.public, context.rule, context.path_params) == (False, None, {"id": "1"})
    assert Verdict(True, "allowed").status is None


def test_quick_init_refuses_what_it_cannot_reproduce() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    @dataclasses.dataclass
    class Mutable:
        value: int

    for cls in (Checked, Mutable):
        with pytest.raises(TypeError):
            quick_init(cls)


# ---- screening shortcuts ----------------------------------------------------------------------

_OLD_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*", re.ASCII)


@settings(max_examples=3000)
@given(st.text(alphabet="aZ09-._~+/=, é\x00%", max_size=10))
def test_the_token_charset_check_is_the_b64token_grammar(token: str) -> None:
    assert is_b64token(token) is bool(_OLD_B64TOKEN.fullmatch(token))


@settings(max_examples=3000)
@given(st.text(alphabet="/a.%;\\ \t\x00é~-_:@!\ufffd", max_size=12))
def test_a_plain_path_is_one_check_path_accepts(path: str) -> None:
    if is_plain_path(path):
        assert check_path(path) is None


def test_environ_headers_read_every_server_key_the_same_way() -> None:
    environ = {"HTTP_X_TRACE_ID": "1", "CONTENT_TYPE": "text/plain", "HTTP_": "empty name", "PATH_INFO": "/",
               "HTTP_AUTHORIZATION": "Bearer a, Bearer b", "HTTP_COOKIE": b"not text", "CONTENT_LENGTH": "3"}
    expected = (("x-trace-id", "1"), ("content-type", "text/plain"), ("", "empty name"),
                ("authorization", "Bearer a"), ("authorization", "Bearer b"), ("content-length", "3"))
    assert environ_headers(environ) == expected
    assert environ_headers(environ) == expected  # and again, from the remembered names


def test_grouped_headers_and_replaced_requests() -> None:
    headers = (("a", "1"), ("b", "2"), ("a", "3"))
    described = WebRequest("GET", "/x", headers=headers)
    assert described.header("a") == ["1", "3"] and group_headers(headers) == {"a": ["1", "3"], "b": ["2"]}
    routed = described.replaced(route="/x", path_params={"id": "1"})
    assert routed == dataclasses.replace(described, route="/x", path_params={"id": "1"})
    assert routed.header("a") == ["1", "3"]
    other = described.replaced(headers=(("a", "9"),))
    assert other.header("a") == ["9"] and described.header("a") == ["1", "3"]
    with pytest.raises(TypeError):
        described.replaced(no_such_field=1)


# ---- resource templates with the fixed values bound once ---------------------------------------

TEMPLATES = [
    # template, path parameters, rendered or the error class
    (ORDER, {"order_id": "7"}, f"arn:app:orders::{TENANT}:order/7"),
    (ORDER, {"order_id": "a*b?${x}"}, f"arn:app:orders::{TENANT}:order/a*b?${{x}}"),
    (ORDER, {"order_id": ""}, TemplateError),
    (ORDER, {"order_id": "x" * 1025}, TemplateError),
    (ORDER, {}, RouteConfigError),
    ("arn:app:{service}::{tenant}:thing/{id}/{part}", {"service": "a:b", "id": "1", "part": "2"}, TemplateError),
    ("arn:app:{service}::{tenant}:thing/{id}/{part}", {"service": "s", "id": "1", "part": "2"},
     f"arn:app:s::{TENANT}:thing/1/2"),
    ("arn:app:{service}::{tenant}:thing/{id}/{part}", {"service": "s", "id": "1"}, RouteConfigError),
]


@pytest.mark.parametrize(("text", "params", "expected"), TEMPLATES)
def test_a_bound_template_renders_as_the_full_template(text: str, params: dict[str, str], expected: Any) -> None:
    template = ResourceTemplate.parse(text)
    fixed = {"tenant": TENANT}
    bound = template.bind(fixed)
    assert bound is not None and bound.fixed_names == (template.names & {"tenant"})
    if isinstance(expected, str):
        assert bound.render(params) == template.render({**fixed, **params}) == expected
        return
    with pytest.raises(expected) as bound_error:
        bound.render(params)
    with pytest.raises(expected) as full_error:
        template.render({**fixed, **params})
    assert str(bound_error.value) == str(full_error.value)


def test_a_fixed_value_the_template_refuses_is_not_bound() -> None:
    assert ResourceTemplate.parse("arn:app:{svc}::1:x/{id}").bind({"svc": "a:b"}) is None
    guard = Guard(standard_authority(), routes=[rule("orders:GetOrder", "arn:app:{svc}::1:x/{order_id}",
                                                     methods="GET", path="/orders/{order_id}")],
                  template_values={"svc": "x" * 1025}, audit=MemorySink(), clock=FrozenClock())
    verdict = guard.check_sync(get_order("reader"))
    assert (verdict.status, verdict.reason) == (400, "invalid_path_parameter")


# ---- remembered rules follow the route map --------------------------------------------------

def test_a_rule_added_after_requests_applies_to_the_next_one() -> None:
    routes = RouteMap()
    guard = Guard(standard_authority(), routes=routes, tenant=TENANT, audit=MemorySink(), clock=FrozenClock())
    assert guard.check_sync(get_order("reader")).reason == "unmapped_route"
    routes.add(rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}"))
    assert guard.check_sync(get_order("reader")).allowed
    guard.routes = RouteMap([rule("orders:ListOrders", ORDER, methods="GET", path="/orders/{order_id}")])
    verdict = guard.check_sync(get_order("reader"))
    assert verdict.allowed and verdict.iam is not None and verdict.iam.action == "orders:ListOrders"


# ---- pre-normalized contexts -------------------------------------------------------------------

def test_normalized_parts_make_the_normalized_whole() -> None:
    session_keys = {"aws:PrincipalArn": "arn:aws:iam::1:user/a", "aws:PrincipalTag/Team": ["x", "y"],
                    "aws:TokenIssueTime": "2026-01-01T00:00:00Z", "aws:MultiFactorAuthPresent": False}
    network = {"aws:SecureTransport": True, "aws:CurrentTime": "2026-01-01T00:00:01Z", "aws:EpochTime": 1,
               "aws:SourceIp": "192.0.2.1"}
    merged = {**session_keys, **network}
    built = Request.prenormalized("arn:aws:iam::1:user/a", "s:Get", "arn:app:s::1:x",
                                  merged, {**normalize_context(session_keys), **normalize_context(network)})
    plain = Request("arn:aws:iam::1:user/a", "s:Get", "arn:app:s::1:x", merged)
    assert built == plain and built._values == plain._values
    assert (built.resource_account, built.principal_account, built.action_lower) == ("1", "1", "s:get")


# ---- iamguard sessions remembered per whole second ----------------------------------------------

def _session(**fields: Any) -> Session:
    base: dict[str, Any] = dict(
        tenant_id=TENANT, credential_type="session", principal_arn=f"arn:aws:iam::{TENANT}:user/alice",
        source_arn=f"arn:aws:iam::{TENANT}:user/alice", principal_id="AIDA1", userid="AIDA1",
        principal_type="User", user_name="alice", issued_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        expires_at=datetime(2026, 1, 2, tzinfo=timezone.utc), jti="jti-1",
        web_identity_keys=(("issuer:amr", ("a", "b")),))
    base.update(fields)
    return Session(**base)


@pytest.mark.parametrize("offset", [0.0, 0.25, 0.999999, 1.0, 1.5, 59.9, 60.0, 3600.75])
def test_remembered_session_keys_equal_the_sessions_own(offset: float) -> None:
    mfa = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    session = _session(mfa_authenticated_at=mfa)
    memo = SessionMemo()
    facts = memo.facts(session, lambda s: (s.principal_arn, s.jti))
    assert facts is not None and memo.facts(session, lambda s: ("other", None)) is facts
    start = datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc)
    for moment in (start, start + timedelta(seconds=offset), start + timedelta(seconds=offset + 0.5)):
        keys, normalized = facts.context_at(moment)
        assert keys == session.context(moment)
        assert normalized == normalize_context(session.context(moment))
        keys["issuer:amr"].append("changed")  # each request gets its own lists
        assert facts.context_at(moment)[0] == session.context(moment)


def test_only_iamguard_sessions_are_remembered() -> None:
    memo = SessionMemo()
    assert memo.facts(object(), lambda s: ("p", None)) is None
    assert memo.facts(dataclasses.replace(_session(), jti="jti-2"), lambda s: (s.principal_arn, s.jti)) is not None


class OneSession:
    """An authority returning one fixed iamguard Session (its policies from a callable)."""

    def __init__(self, session: Session, policies: Any) -> None:
        self.session = session
        self.policies = policies

    def authenticate(self, token: str) -> Session:
        return self.session

    def policy_set_for(self, session: Session, resource_policy: Any = None) -> Any:
        return self.policies()


def test_mfa_age_moves_with_the_clock_on_the_warm_path() -> None:
    from iamguard import PolicySet, parse_policy

    fresh_only = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
         "Condition": {"NumericLessThanEquals": {"aws:MultiFactorAuthAge": "300"}}}]})
    mfa = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = FrozenClock(mfa + timedelta(seconds=299.5))
    guard = Guard(OneSession(_session(mfa_authenticated_at=mfa), lambda: PolicySet([fresh_only])),
                  routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")],
                  tenant=TENANT, step_up_endpoint="/auth/step-up", audit=MemorySink(), clock=clock)
    answers = []
    for step in (0.0, 0.4, 0.6, 0.4, 0.2):  # ages 299, 299, 300, 300, 301
        clock.advance(step)
        verdict = guard.check_sync(get_order("any"))
        answers.append(verdict.allowed)
        assert verdict.decision is not None
        assert verdict.decision.request.context["aws:MultiFactorAuthAge"] == int(clock.time() - mfa.timestamp())
    assert answers == [True, True, True, True, False]


# ---- the warm path against a real store: every change counts on the very next request ----------

@pytest.fixture
def tenant() -> tuple[Directory, Credentials, Guard, MemorySink, str, FrozenClock]:
    clock = FrozenClock()
    store = MemoryStore()
    Directory.create_tenant(store, TENANT, "Shop")
    directory = Directory(store, TENANT, clock=clock)
    credentials = Credentials(directory, clock=clock)
    policy = directory.create_policy("Read", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]})
    directory.create_user("alice")
    directory.tag_user("alice", {"team": "blue"})
    directory.attach_user_policy("alice", policy.arn)
    key = credentials.create_access_key("alice")
    token = credentials.get_session_token(AccessKeyCredentials(key.access_key_id, key.secret_access_key)).token
    sink = MemorySink()
    guard = Guard(credentials, tenant=TENANT, audit=sink, clock=clock,
                  routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
    return directory, credentials, guard, sink, token, clock


def _warm(guard: Guard, token: str) -> None:
    for order_id in ("1", "2", "1", "3"):
        verdict = guard.check_sync(get_order(token, order_id))
        assert verdict.allowed and verdict.iam is not None
        assert verdict.iam.resource == f"arn:app:orders::{TENANT}:order/{order_id}"


def test_a_detached_policy_denies_the_next_request(tenant: Any) -> None:
    directory, _, guard, sink, token, _ = tenant
    _warm(guard, token)
    attached = directory.list_attached_user_policies("alice").items
    directory.detach_user_policy("alice", attached[0].policy_arn)
    verdict = guard.check_sync(get_order(token))
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 403, "implicit_deny")
    assert sink.records[-1].effect == "Deny"


def test_a_changed_tag_counts_on_the_next_request(tenant: Any) -> None:
    directory, _, guard, _, token, _ = tenant
    _warm(guard, token)
    directory.tag_user("alice", {"team": "red"})
    assert guard.check_sync(get_order(token)).reason == "implicit_deny"
    directory.tag_user("alice", {"team": "blue"})
    assert guard.check_sync(get_order(token)).allowed


def test_revoked_sessions_are_refused_on_the_next_request(tenant: Any) -> None:
    _, credentials, guard, sink, token, clock = tenant
    _warm(guard, token)
    clock.advance(1)  # sessions issued before the revocation's moment die
    assert guard.check_sync(get_order(token)).allowed
    credentials.revoke_sessions(f"arn:aws:iam::{TENANT}:user/alice")
    verdict = guard.check_sync(get_order(token))
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, 401, "invalid_token")
    assert sink.records[-1].reason == "invalid_token"


# ---- the auditor follows its sinks --------------------------------------------------------------

class Picky(MemorySink):
    def __init__(self, effects: set[str]) -> None:
        super().__init__()
        self.effects = effects

    def wants(self, effect: str) -> bool:
        return effect in self.effects


def test_the_auditor_asks_the_sinks_it_has_now() -> None:
    auditor = Auditor([Picky({"Deny"})])
    assert (auditor.wants("Allow"), auditor.wants("Deny")) == (False, True)
    auditor.sinks = (Picky({"Allow"}),)
    assert (auditor.wants("Allow"), auditor.wants("Deny")) == (True, False)
    auditor.sinks = (MemorySink(),)  # no `wants`: keeps everything
    assert auditor.wants("Allow")


def test_a_method_check_is_never_taken_from_another_rule_that_had_the_same_id() -> None:
    """The guard remembers each rule's safe-method check by the rule's id; an id a collected rule
    left behind may be given to a rule made later. The remembered answer holds only for the very
    rule it was worked out for, so a mutating action on GET is still reported."""
    guard = Guard(standard_authority(), tenant=TENANT)
    fine = rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}")
    mutating = rule("orders:DeleteOrder", "arn:app:orders::{tenant}:order/{order_id}")
    assert guard._method_problem(fine, "GET") is None
    # What the memo holds when `mutating` was given the id of a `fine` rule since collected.
    guard._method_checked[(id(mutating), "GET")] = (fine, None)
    problem = guard._method_problem(mutating, "GET")
    assert problem is not None and "orders:DeleteOrder" in problem
