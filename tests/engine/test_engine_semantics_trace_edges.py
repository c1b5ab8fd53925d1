"""Traceability audit of the IAM semantics checklist, sections 10-14: the rules that had no direct
test, or only part of one (policy variables 57-63, MFA keys and step-up 64-68, case sensitivity
12.8, literal regex metacharacters 13.7).

Each test is named after the checklist rule it proves. The rest of those sections is proved by
the tests the traceability document cites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard import PolicySet, Request
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials
from iamguard.web import Guard, WebRequest, rule
from iamguard.web.stepup import fresh_mfa_would_allow
from tests.credentials.conftest import TENANT, Env, build_env
from tests.engine.support import (
    ACCOUNT,
    ALICE,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    V2008,
    V2012,
    allow,
    condition_holds,
    deny,
    effect_of,
    policy,
)
from tests.web import stubs

FILES = f"arn:app:files:us-east-1:{ACCOUNT}:"


def findings(document: dict[str, Any], kind: str = "identity") -> list[tuple[str, str]]:
    """(pointer, code) of every problem the parser reports; [] when the document parses."""
    try:
        iamguard.parse_policy(document, kind=kind)
    except iamguard.PolicyError as exc:
        return [(finding.pointer, finding.code) for finding in exc.findings]
    return []


# --- Rule 57: variables exist only in 2012-10-17; elsewhere `${...}` is plain text --------------------


_SOURCE_TEXT = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"


@pytest.mark.parametrize("version", [V2008, None], ids=["2008-10-17", "no-version"])
@pytest.mark.parametrize(
    ("statement", "substituted", "literal"),
    [
        # A variable in the region would be refused in 2012 (rule 37); here it is text in its segment.
        (allow(GET, f"arn:app:orders:${{region}}:{ACCOUNT}:order/1"),
         {"resource": f"arn:app:orders:us-east-1:{ACCOUNT}:order/1", "context": {"region": "us-east-1"}},
         {"resource": f"arn:app:orders:${{region}}:{ACCOUNT}:order/1"}),
        # The default syntax is text too.
        (allow(GET, FILES + "team/${aws:PrincipalTag/team, 'all'}"), {"resource": FILES + "team/all"},
         {"resource": FILES + "team/${aws:PrincipalTag/team, 'all'}"}),
        # In an ARN operator value.
        (allow(condition={"ArnLike": {"app:source": _SOURCE_TEXT}}),
         {"context": {"aws:username": "alice", "app:source": ALICE}},
         {"context": {"aws:username": "alice", "app:source": _SOURCE_TEXT}}),
        # An unclosed `${` is no syntax error outside 2012: it is text.
        (allow(condition={"StringEquals": {"app:owner": "${aws:username"}}),
         {"context": {"aws:username": "alice", "app:owner": "alice"}},
         {"context": {"app:owner": "${aws:username"}}),
    ],
    ids=["resource-region-segment", "resource-default-syntax", "arn-operator", "unclosed-variable"],
)
def test_rule_57_variables_are_literal_text_without_version_2012(
        version: str | None, statement: dict[str, Any], substituted: dict[str, Any], literal: dict[str, Any]) -> None:
    assert findings(policy(statement, version=version)) == []
    # The value of the key is never substituted...
    assert effect_of(statement, version=version, **substituted) is IMPLICIT
    # ...and the text itself is what matches.
    assert effect_of(statement, version=version, **literal) is ALLOW


def test_rule_57_the_same_region_variable_is_refused_in_2012() -> None:
    statement = allow(GET, f"arn:app:orders:${{region}}:{ACCOUNT}:order/1")
    assert findings(policy(statement, version=V2012)) == [("/Statement/0/Resource", "InvalidResource")]


# --- Rule 58: where variables are allowed --------------------------------------------------------------


def _condition(operator: str, value: Any) -> dict[str, Any]:
    return policy(allow(condition={operator: {"app:key": value}}))


@pytest.mark.parametrize(
    ("document", "kind", "expected"),
    [
        (_condition("NumericEquals", "${app:limit}"), "identity",
         [("/Statement/0/Condition/NumericEquals/app:key", "InvalidConditionValue")]),
        (_condition("DateLessThan", "${aws:CurrentTime}"), "identity",
         [("/Statement/0/Condition/DateLessThan/app:key", "InvalidConditionValue")]),
        (_condition("BinaryEquals", "${app:blob}"), "identity",
         [("/Statement/0/Condition/BinaryEquals/app:key", "InvalidConditionValue")]),
        (_condition("IpAddress", "${aws:SourceIp}"), "identity",
         [("/Statement/0/Condition/IpAddress/app:key", "InvalidConditionValue")]),
        (_condition("NotIpAddressIfExists", "${aws:SourceIp}"), "identity",
         [("/Statement/0/Condition/NotIpAddressIfExists/app:key", "InvalidConditionValue")]),
        (_condition("Null", "${app:flag}"), "identity",
         [("/Statement/0/Condition/Null/app:key", "InvalidConditionValue")]),
        # Not in a condition key name either.
        (policy(allow(condition={"StringEquals": {"app:${aws:username}": "x"}})), "identity",
         [("/Statement/0/Condition/StringEquals/app:${aws:username}", "InvalidConditionKey")]),
        # Not in the AWS or Service principal of a resource policy.
        (policy(allow(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"})), "resource",
         [("/Statement/0/Principal/AWS", "InvalidPrincipal")]),
        (policy(allow(principal={"Service": "${aws:username}"})), "resource",
         [("/Statement/0/Principal/Service", "InvalidPrincipal")]),
        # An action holding a `service:key` variable has two colons.
        (policy(allow("orders:${aws:username}")), "identity", [("/Statement/0/Action", "InvalidAction")]),
    ],
    ids=["numeric", "date", "binary", "ip", "not-ip-if-exists", "null", "condition-key", "aws-principal",
         "service-principal", "action"],
)
def test_rule_58_a_variable_where_iam_does_not_expand_it_is_refused(
        document: dict[str, Any], kind: str, expected: list[tuple[str, str]]) -> None:
    assert findings(document, kind) == expected


def test_rule_58_the_same_places_accept_variables_in_string_arn_and_bool_values() -> None:
    for operator, value in [("StringEquals", "${aws:username}"), ("StringNotLikeIfExists", "${aws:username}/*"),
                            ("ArnLike", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
                            ("Bool", "${app:expected}"), ("ForAnyValue:StringEquals", "${aws:username}")]:
        assert findings(_condition(operator, value)) == [], operator


def test_rule_58_an_action_is_never_expanded() -> None:
    # A variable whose key has no colon is accepted in Action, as plain text.
    statement = allow("orders:Get${name}")
    assert effect_of(statement, action="orders:GetOrder", context={"name": "Order"}) is IMPLICIT
    assert effect_of(statement, action="orders:Get${name}", context={"name": "Order"}) is ALLOW


def test_rule_58_a_federated_principal_is_never_expanded() -> None:
    # Accepted as a provider name (the linter reports VARIABLE_NOT_EXPANDED), compared as text.
    document = policy(allow(GET, "*", principal={"Federated": "${aws:username}"}))
    provider = "idp.example.com"
    granted = iamguard.evaluate(Request(provider, GET, "*", {"aws:username": provider}), resource_policy=document)
    assert granted.effect is IMPLICIT
    literal = iamguard.evaluate(Request("${aws:username}", GET, "*", {}), resource_policy=document)
    assert literal.effect is ALLOW


# --- Rule 59: only single-valued keys; variable names ignore case ------------------------------------


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"app:owner": "${aws:username}"}}, {"app:owner": "alice", "aws:username": ["alice", "bob"]},
         False),
        ({"StringLike": {"app:owner": "${aws:username}*"}}, {"app:owner": "alice", "aws:username": ["alice", "bob"]},
         False),
        ({"ArnEquals": {"app:source": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"}},
         {"app:source": ALICE, "aws:username": ["alice", "bob"]}, False),
        # A multivalued key is present, so its default is not used either.
        ({"StringEquals": {"app:owner": "${aws:username, 'alice'}"}},
         {"app:owner": "alice", "aws:username": ["alice", "bob"]}, False),
        # No value to compare with: a negated operator holds.
        ({"StringNotEquals": {"app:owner": "${aws:username}"}},
         {"app:owner": "alice", "aws:username": ["alice", "bob"]}, True),
        # One value in a list is one value.
        ({"StringEquals": {"app:owner": "${aws:username}"}}, {"app:owner": "alice", "aws:username": ["alice"]},
         True),
    ],
    ids=["string-equals", "string-like", "arn-equals", "default-not-used", "negated", "one-element-list"],
)
def test_rule_59_a_multivalued_key_is_no_variable_value(condition: dict[str, Any], context: dict[str, Any],
                                                        holds: bool) -> None:
    assert condition_holds(condition, context) is holds


@pytest.mark.parametrize(
    ("condition", "context", "other"),
    [
        ({"StringEquals": {"app:owner": "${AWS:UserName}"}}, {"app:owner": "alice", "aws:username": "alice"},
         {"app:owner": "alice", "aws:username": "bob"}),
        ({"StringLike": {"app:path": "home/${aws:USERNAME}/*"}}, {"app:path": "home/alice/x", "Aws:UserName": "alice"},
         {"app:path": "home/alice/x", "Aws:UserName": "bob"}),
        ({"ArnEquals": {"app:source": f"arn:aws:iam::{ACCOUNT}:user/${{Aws:Username}}"}},
         {"app:source": ALICE, "AWS:USERNAME": "alice"}, {"app:source": ALICE, "AWS:USERNAME": "bob"}),
        ({"Bool": {"app:flag": "${APP:Expected}"}}, {"app:flag": "true", "app:expected": "true"},
         {"app:flag": "true", "app:expected": "false"}),
        ({"StringEquals": {"aws:ResourceTag/team": "${aws:principaltag/TEAM}"}},
         {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/Team": "blue"},
         {"aws:ResourceTag/team": "blue", "aws:PrincipalTag/Team": "red"}),
    ],
    ids=["string-equals", "string-like", "arn-equals", "bool", "tag-key"],
)
def test_rule_59_variable_names_ignore_case_in_condition_values(condition: dict[str, Any], context: dict[str, Any],
                                                                 other: dict[str, Any]) -> None:
    assert condition_holds(condition, context)
    # The lookup really read the variable's value: another value does not match.
    assert not condition_holds(condition, other)


# --- Rule 60: a variable whose key is absent is null --------------------------------------------------

_TEAM_ARN = f"arn:aws:iam::{ACCOUNT}:user/${{aws:PrincipalTag/team}}"
_EMPTY_NAME_ARN = f"arn:aws:iam::{ACCOUNT}:user/"


# The request values are what the policy value would become if null were read as "": a null must
# not match even those.
@pytest.mark.parametrize(
    ("operator", "value", "request_value", "deny_applies"),
    [
        ("StringNotEqualsIgnoreCase", "${aws:PrincipalTag/team}", "", True),
        ("StringNotLike", "${aws:PrincipalTag/team}*", "blue", True),
        ("ArnNotEquals", _TEAM_ARN, _EMPTY_NAME_ARN, True),
        ("ForAllValues:StringNotEquals", "${aws:PrincipalTag/team}", [""], True),
        ("ForAnyValue:StringNotEquals", "${aws:PrincipalTag/team}", ["", ""], True),
        # The positive forms cannot match a null value: the Deny does not apply.
        ("StringEqualsIgnoreCase", "${aws:PrincipalTag/team}", "", False),
        ("StringLike", "${aws:PrincipalTag/team}*", "blue", False),
        ("ArnEquals", _TEAM_ARN, _EMPTY_NAME_ARN, False),
        ("ForAnyValue:StringEquals", "${aws:PrincipalTag/team}", ["", "red"], False),
        ("StringEqualsIfExists", "${aws:PrincipalTag/team}", "", False),  # the key itself is present
    ],
)
def test_rule_60_a_null_variable_makes_negated_operators_hold(operator: str, value: str, request_value: Any,
                                                              deny_applies: bool) -> None:
    statements = (allow(), deny(condition={operator: {"app:team": value}}))
    expected = EXPLICIT if deny_applies else ALLOW
    assert effect_of(*statements, context={"app:team": request_value}) is expected
    # With the tag present the same Deny turns around (so the rows above test the null, not the key).
    tagged = {"app:team": request_value, "aws:PrincipalTag/team": ""}
    assert effect_of(*statements, context=tagged) is (ALLOW if deny_applies else EXPLICIT)


# --- Rule 61: default values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "context", "resource", "expected"),
    [
        ("team/${aws:PrincipalTag/team, 'company-wide'}/*", {}, "team/company-wide/1", ALLOW),
        ("team/${aws:PrincipalTag/team, 'company-wide'}/*", {"aws:PrincipalTag/team": "blue"},
         "team/company-wide/1", IMPLICIT),
        # Present but empty is present: the empty value is used, not the default.
        ("team/${aws:PrincipalTag/team, 'company-wide'}/*", {"aws:PrincipalTag/team": ""}, "team//1", ALLOW),
        ("team/${aws:PrincipalTag/team, 'company-wide'}/*", {"aws:PrincipalTag/team": ""},
         "team/company-wide/1", IMPLICIT),
        # The default is literal text, like a substituted value.
        ("team/${aws:PrincipalTag/team, '*'}", {}, "team/anything", IMPLICIT),
        ("team/${aws:PrincipalTag/team, '*'}", {}, "team/*", ALLOW),
        ("team/${aws:PrincipalTag/team, 'a?c'}", {}, "team/abc", IMPLICIT),
    ],
)
def test_rule_61_a_default_is_literal_text_used_only_for_a_missing_key(
        pattern: str, context: dict[str, Any], resource: str, expected: Any) -> None:
    assert effect_of(allow(GET, FILES + pattern), context=context, resource=FILES + resource) is expected


def test_rule_61_a_default_in_a_like_condition_is_literal_text() -> None:
    condition = {"StringLike": {"app:path": "${aws:PrincipalTag/team, 'a*'}/*"}}
    assert condition_holds(condition, {"app:path": "a*/1"})
    assert not condition_holds(condition, {"app:path": "abc/1"})


# --- Rule 62: `${*}`, `${?}`, `${$}` in the ARN operators ---------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "request_value", "holds"),
    [
        ("ArnLike", FILES + "file${*}", FILES + "file*", True),
        ("ArnLike", FILES + "file${*}", FILES + "fileX", False),
        ("ArnEquals", FILES + "file${?}", FILES + "file?", True),
        ("ArnEquals", FILES + "file${?}", FILES + "fileX", False),
        ("ArnLike", FILES + "cost${$}*", FILES + "cost$12", True),
        ("ArnNotLike", FILES + "file${*}", FILES + "fileX", True),
        ("ArnNotLike", FILES + "file${*}", FILES + "file*", False),
    ],
)
def test_rule_62_escapes_are_literal_in_arn_operators(operator: str, value: str, request_value: str,
                                                      holds: bool) -> None:
    assert condition_holds({operator: {"app:source": value}}, {"app:source": request_value}) is holds


# --- Rule 63: a substituted value is literal and stays in its ARN segment ----------------------------


@pytest.mark.parametrize(
    ("account", "source", "holds"),
    [
        (ACCOUNT, ALICE, True),
        ("*", ALICE, False),  # not a wildcard
        ("1234567890??", ALICE, False),
        # A colon in the value does not re-align the segments of the request ARN.
        (f"{ACCOUNT}:x", f"arn:aws:iam::{ACCOUNT}:x:user/alice", False),
    ],
)
def test_rule_63_a_value_substituted_into_an_arn_operator_is_literal(account: str, source: str,
                                                                     holds: bool) -> None:
    condition = {"ArnLike": {"app:source": "arn:aws:iam::${app:account}:user/alice"}}
    assert condition_holds(condition, {"app:source": source, "app:account": account}) is holds


# --- Rules 64 and 65: which credentials carry the MFA keys ---------------------------------------------


@pytest.fixture
def mfa_env(tmp_path: Path) -> tuple[Env, AccessKeyCredentials]:
    env = build_env("memory", tmp_path)
    key = env.user_with_key()  # the trust policy names alice, so she exists first
    env.directory.create_role("deploy", {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TENANT}:user/alice"}, "Action": "sts:AssumeRole"}]})
    return env, key


def test_rule_64_65_mfa_keys_follow_the_kind_of_credential(mfa_env: tuple[Env, AccessKeyCredentials]) -> None:
    env, key = mfa_env
    role = f"arn:aws:iam::{TENANT}:role/deploy"
    long_term = env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    plain_session = env.creds.authenticate(env.creds.get_session_token(key).token)
    plain_role = env.creds.authenticate(env.creds.assume_role(role, "plain", long_term).token)
    device = env.enabled_device()
    mfa_session = env.creds.authenticate(env.creds.get_session_token(key, mfa_code=env.code(device)).token)
    mfa_role = env.creds.authenticate(env.creds.assume_role(role, "strong", mfa_session).token)
    env.clock.advance(42)
    # (session, aws:MultiFactorAuthPresent or None when absent, aws:MultiFactorAuthAge or None)
    table = [
        (long_term, None, None),  # long-term keys: neither key
        (plain_session, False, None),  # temporary credentials without MFA: false, no age
        (plain_role, False, None),
        (mfa_session, True, 42),  # with MFA: true, and the age since the code
        (mfa_role, True, 42),  # a role session keeps the MFA time of the session it came from
    ]
    for session, present, age in table:
        context = env.creds.request_context(session)
        assert context.get("aws:MultiFactorAuthPresent") is present, session.credential_type
        assert context.get("aws:MultiFactorAuthAge") == age, session.credential_type
        assert ("aws:MultiFactorAuthPresent" in context) is (present is not None)
        assert ("aws:MultiFactorAuthAge" in context) is (age is not None)


# --- Rule 68: a step-up never changes the decision -----------------------------------------------------

_ROUTES = [rule("orders:DeleteOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="DELETE",
                path="/orders/{order_id}")]


def _delete(token: str) -> WebRequest:
    return WebRequest("DELETE", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                      headers=(("authorization", f"Bearer {token}"),), client="192.0.2.10")


_PRESENCE_ONLY = {"Version": V2012, "Statement": [
    {"Effect": "Allow", "Action": "orders:DeleteOrder", "Resource": "*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}


@pytest.mark.parametrize(
    ("token", "policy_document", "effect"),
    [
        ("writer", stubs.WRITER, EXPLICIT),  # a Deny on missing MFA
        ("writer-old-mfa", stubs.WRITER, EXPLICIT),  # a Deny on stale MFA
        ("presence", _PRESENCE_ONLY, IMPLICIT),  # an Allow that needs MFA: no Deny applied
    ],
)
def test_rule_68_a_step_up_answer_carries_the_decision_computed_as_usual(
        token: str, policy_document: dict[str, Any], effect: Any) -> None:
    authority = stubs.standard_authority()
    authority.add("presence", stubs.StubSession(stubs.ALICE, "alice"), _PRESENCE_ONLY)
    guard = Guard(authority, routes=_ROUTES, audit=MemorySink(), clock=FrozenClock(), tenant=stubs.TENANT,
                  step_up_endpoint="/auth/step-up")
    verdict = guard.check_sync(_delete(token))
    assert (verdict.status, verdict.reason) == (401, "mfa_required")
    decision = verdict.decision
    assert decision is not None and decision.effect is effect
    # Decided on the request as it came, not on the copy with a fresh MFA that the probe used...
    assert decision.request.context["aws:MultiFactorAuthPresent"] is (token == "writer-old-mfa")
    # ...with the same answer and the same deciding statements as evaluating it directly.
    direct = PolicySet([policy_document]).evaluate(decision.request)
    assert (direct.effect, direct.statements) == (decision.effect, decision.statements)


def test_rule_68_the_fresh_mfa_probe_leaves_the_request_and_its_decision_alone() -> None:
    mfa_deny = deny("orders:DeleteOrder", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
    policy_set = PolicySet([policy(allow(), mfa_deny)])
    request = Request(ALICE, "orders:DeleteOrder", f"arn:app:orders::{ACCOUNT}:order/7", {"aws:SourceIp": "10.0.0.1"})
    before = policy_set.evaluate(request)
    probe = fresh_mfa_would_allow(policy_set, request)
    assert probe is not None and probe.allowed
    assert dict(request.context) == {"aws:SourceIp": "10.0.0.1"}
    after = policy_set.evaluate(request)
    assert before.effect is after.effect is EXPLICIT
    # A deny that MFA cannot lift gets no step-up.
    unconditional = PolicySet([policy(allow(), mfa_deny, deny("orders:DeleteOrder"))])
    assert fresh_mfa_would_allow(unconditional, request) is None


# --- 12.8: aws:TagKeys values are compared case-sensitively ---------------------------------------------


@pytest.mark.parametrize(
    ("operator", "request_keys", "holds"),
    [
        ("ForAllValues:StringEquals", ["env"], True),
        ("ForAllValues:StringEquals", ["Env"], False),
        ("ForAnyValue:StringEquals", ["ENV", "team"], False),
        ("ForAnyValue:StringEquals", ["ENV", "env"], True),
        ("ForAllValues:StringEqualsIgnoreCase", ["Env"], True),  # only IgnoreCase folds
    ],
)
def test_rule_12_8_tag_key_values_are_case_sensitive(operator: str, request_keys: list[str], holds: bool) -> None:
    assert condition_holds({operator: {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": request_keys}) is holds


# --- 13.7: characters special to regular expressions are literal --------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("a{2}", "a{2}", True), ("a{2}", "aa", False),
        ("^start", "^start", True), ("^start", "start", False),
        ("end$", "end$", True), ("end$", "end", False),
        ("x|y", "x|y", True), ("x|y", "x", False),
        ("\\d*", "\\dz", True), ("\\d*", "7", False),
        ("a.*", "a.b", True), ("a.*", "ab", False),
    ],
)
def test_rule_13_7_regex_metacharacters_are_literal(pattern: str, value: str, matches: bool) -> None:
    expected = ALLOW if matches else IMPLICIT
    assert effect_of(allow("files:" + pattern), action="files:" + value) is expected
    assert effect_of(allow("files:Read", FILES + pattern), action="files:Read", resource=FILES + value) is expected
    assert condition_holds({"StringLike": {"app:path": pattern}}, {"app:path": value}) is matches
