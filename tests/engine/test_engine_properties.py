"""Properties of IAM's decision logic checked on generated policies (Hypothesis), and a
differential test against the naive reference evaluator in tests/engine/reference.py."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamguard
from iamguard import Effect, Request
from iamguard.engine.wildcard import compile_tokens
from iamguard.policy.template import tokenize
from tests.engine import reference
from tests.engine.support import (
    ABSENT,
    ACCOUNT,
    ALICE,
    BOB,
    OTHER_ACCOUNT,
    OTHER_ROLE_SESSION,
    OTHER_SESSION,
    ROLE,
    SERVICE,
    SESSION,
    STRANGER,
    contexts_from,
)

DIFFERENTIAL = settings(max_examples=150, deadline=None, database=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAST = settings(max_examples=75, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
QUICK = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ACTION_PATTERNS = [
    "orders:GetOrder", "orders:Get*", "orders:*", "*", "orders:?etOrder", "billing:*", "orders:ListOrders",
    "ORDERS:getorder", "*:GetOrder", "orders:*Order", "orders:Delete?rder",
]
REQUEST_ACTIONS = ["orders:GetOrder", "orders:ListOrders", "orders:DeleteOrder", "billing:Pay", "billing:GetOrder"]

ORDERS = f"arn:app:orders:us-east-1:{ACCOUNT}"
RESOURCE_PATTERNS = [
    "*",
    f"{ORDERS}:order/42",
    f"{ORDERS}:order/*",
    f"arn:app:orders:*:{ACCOUNT}:order/4?",
    f"{ORDERS}:invoice/*",
    "arn:app:billing:*:*:*",
    f"{ORDERS}:order/${{aws:username}}",
    "arn:app:orders:*:*:team/${aws:PrincipalTag/team, 'blue'}/*",
    f"arn:app:orders:*:{OTHER_ACCOUNT}:*",
]
REQUEST_RESOURCES = [
    f"{ORDERS}:order/42",
    f"{ORDERS}:order/7",
    f"{ORDERS}:order/alice",
    f"{ORDERS}:invoice/1",
    f"{ORDERS}:team/blue/1",
    f"{ORDERS}:team/red/1",
    f"arn:app:billing:eu-west-1:{ACCOUNT}:account/1",
    f"arn:app:orders:us-east-1:{OTHER_ACCOUNT}:order/42",
]
CONDITIONS: list[dict[str, Any] | None] = [
    None,
    {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": ["red", "green"]}},
    {"StringEqualsIgnoreCase": {"AWS:PRINCIPALTAG/TEAM": "BLUE"}},
    {"StringLike": {"app:path": "docs/*"}},
    {"StringNotLike": {"app:path": ["img/*", "tmp/?"]}},
    {"StringEqualsIfExists": {"app:path": "docs/1"}},
    {"NumericLessThan": {"app:size": "10"}},
    {"NumericGreaterThanEqualsIfExists": {"app:size": "5"}},
    {"NumericNotEquals": {"app:size": ["3", "12"]}},
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"Null": {"app:groups": "false"}},
    {"ForAnyValue:StringLike": {"app:groups": "adm*"}},
    {"ForAllValues:StringEquals": {"app:groups": ["dev", "ops"]}},
    {"ForAllValues:StringNotEquals": {"app:groups": "admins"}},
    {"ForAnyValue:StringNotEquals": {"app:groups": ["dev", "ops"]}},
    {"StringEquals": {"app:owner": "${aws:username}"}},
    {"StringNotEquals": {"app:owner": "${aws:username}"}},
    {"StringLike": {"app:path": "${aws:username}/*"}},
    {"StringEquals": {"aws:PrincipalTag/team": "blue"}, "NumericLessThan": {"app:size": "10"}},
    {"StringEquals": {"aws:PrincipalTag/team": "blue", "app:owner": ["alice", "bob"]}},
]
PRINCIPALS = [
    "*", {"AWS": "*"}, {"AWS": ALICE}, {"AWS": [BOB, ALICE]}, {"AWS": ROLE}, {"AWS": SESSION}, {"AWS": ACCOUNT},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"Service": SERVICE}, {"AWS": STRANGER}, {"AWS": OTHER_ACCOUNT},
]
# One of each row of the same-tenant grant table, plus another tenant's principal.
CANNED_PRINCIPALS = ["*", {"AWS": ALICE}, {"AWS": ROLE}, {"AWS": SESSION}, {"AWS": ACCOUNT}, {"AWS": STRANGER}]
# Complete chains (principal, role, account) exempt; partial ones do not.
NOT_PRINCIPALS = [
    {"AWS": [ALICE, ACCOUNT]}, {"AWS": [ROLE, SESSION, f"arn:aws:iam::{ACCOUNT}:root"]},
    {"AWS": ALICE}, {"AWS": [ROLE, SESSION]}, {"AWS": ACCOUNT},
]
REQUEST_PRINCIPALS = [ALICE, BOB, SESSION, OTHER_SESSION, OTHER_ROLE_SESSION, STRANGER]

CONTEXT_CHOICES: dict[str, list[Any]] = {
    "aws:PrincipalTag/team": [ABSENT, "blue", "red", "BLUE"],
    "aws:username": [ABSENT, "alice", "*", "bob"],
    "app:path": [ABSENT, "docs/1", "img/2", "alice/x", "*/x"],
    "app:size": [ABSENT, 3, "7", 12, "abc"],
    "aws:MultiFactorAuthPresent": [ABSENT, True, "false"],
    "aws:SourceIp": [ABSENT, "10.1.2.3", "8.8.8.8", "2001:db8::5", "bogus"],
    "app:groups": [ABSENT, [], ["admins"], ["dev", "ops"], ["dev", "x"], "dev", ["admins", "dev"]],
    "app:owner": [ABSENT, "alice", "bob", ["alice", "bob"]],
}


def _one_or_list(options: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(options), st.lists(st.sampled_from(options), min_size=1, max_size=3))


@st.composite
def statements(draw: st.DrawFn, *, resource_policy: bool = False) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    out: dict[str, Any] = {"Effect": effect}
    if resource_policy:
        if effect == "Deny" and draw(st.booleans()):
            out["NotPrincipal"] = draw(st.sampled_from(NOT_PRINCIPALS))
        else:
            out["Principal"] = draw(st.sampled_from(PRINCIPALS))
    out["NotAction" if draw(st.integers(0, 9)) == 0 else "Action"] = draw(_one_or_list(ACTION_PATTERNS))
    out["NotResource" if draw(st.integers(0, 9)) == 0 else "Resource"] = draw(_one_or_list(RESOURCE_PATTERNS))
    condition = draw(st.sampled_from(CONDITIONS)) if draw(st.booleans()) else None
    if condition is not None:
        out["Condition"] = copy.deepcopy(condition)
    return out


# Simple documents drawn half of the time, so that clear-cut grants and caps (the situations where
# the decision table matters) are common rather than rare among random statements.
CANNED_STATEMENTS = [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Action": "billing:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "orders:Get*", "Resource": f"{ORDERS}:order/*"},
    {"Effect": "Allow", "NotAction": "orders:Delete*", "Resource": "*"},
]


@st.composite
def canned_documents(draw: st.DrawFn, *, resource_policy: bool) -> dict[str, Any]:
    statement = dict(draw(st.sampled_from(CANNED_STATEMENTS)))
    items = [statement]
    if resource_policy:
        statement["Principal"] = draw(st.sampled_from(CANNED_PRINCIPALS))
        if draw(st.booleans()):
            items.append({"Effect": "Deny", "NotPrincipal": draw(st.sampled_from(NOT_PRINCIPALS)),
                          "Action": "orders:*", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": items}


@st.composite
def documents(draw: st.DrawFn, *, resource_policy: bool = False, max_statements: int = 4) -> dict[str, Any]:
    if draw(st.booleans()):
        return draw(canned_documents(resource_policy=resource_policy))
    items = draw(st.lists(statements(resource_policy=resource_policy), min_size=1, max_size=max_statements))
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None]))
    document: dict[str, Any] = {"Statement": items}
    if version is not None:
        document["Version"] = version
    return document


def contexts() -> st.SearchStrategy[dict[str, Any]]:
    return contexts_from(CONTEXT_CHOICES)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "identity": draw(st.lists(documents(), min_size=0, max_size=3)),
        "resource": draw(st.one_of(st.none(), documents(resource_policy=True))),
        "boundary": draw(st.one_of(st.none(), documents())),
        "session": draw(st.one_of(st.none(), st.lists(documents(), min_size=1, max_size=2))),
        "principal": draw(st.sampled_from(REQUEST_PRINCIPALS)),
        "action": draw(st.sampled_from(REQUEST_ACTIONS)),
        "resource_arn": draw(st.sampled_from(REQUEST_RESOURCES)),
        "context": draw(contexts()),
    }


def run(scenario: dict[str, Any]) -> Effect:
    request = Request(scenario["principal"], scenario["action"], scenario["resource_arn"], scenario["context"])
    return iamguard.evaluate(
        request,
        identity_policies=scenario["identity"],
        resource_policy=scenario["resource"],
        permissions_boundary=scenario["boundary"],
        session_policies=scenario["session"],
    ).effect


# --- differential: the engine agrees with the naive reference ------------------------------------


@DIFFERENTIAL
@given(scenarios())
def test_engine_agrees_with_the_naive_reference(scenario: dict[str, Any]) -> None:
    # One compiled set answers every principal, action and resource for the drawn policies and
    # context: 200 requests per generated example reach rare combinations far more often than
    # drawing one request each.
    policy_set = iamguard.PolicySet(scenario["identity"], scenario["resource"], scenario["boundary"],
                                    scenario["session"])
    for principal, action, resource in itertools.product(REQUEST_PRINCIPALS, REQUEST_ACTIONS, REQUEST_RESOURCES):
        expected = reference.reference_decision(
            principal, action, resource, scenario["context"],
            identity_policies=scenario["identity"], resource_policy=scenario["resource"],
            permissions_boundary=scenario["boundary"], session_policies=scenario["session"],
        )
        actual = policy_set.evaluate(Request(principal, action, resource, scenario["context"])).effect
        assert actual.value == expected, (principal, action, resource)


@FAST
@given(scenarios())
def test_policy_set_agrees_with_evaluate(scenario: dict[str, Any]) -> None:
    policy_set = iamguard.PolicySet(
        identity_policies=[iamguard.parse_policy(doc) for doc in scenario["identity"]],
        resource_policy=iamguard.parse_policy(scenario["resource"], "resource") if scenario["resource"] else None,
        permissions_boundary=iamguard.parse_policy(scenario["boundary"], "boundary") if scenario["boundary"] else None,
        session_policies=[iamguard.parse_policy(doc, "session") for doc in scenario["session"] or ()],
    )
    request = Request(scenario["principal"], scenario["action"], scenario["resource_arn"], scenario["context"])
    assert policy_set.evaluate(request).effect is run(scenario)
    assert policy_set.evaluate(request).effect is run(scenario)  # and again, from warm caches


# --- monotonicity and order independence ---------------------------------------------------------


def _with_statement(scenario: dict[str, Any], where: str, statement: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(scenario)
    if where == "identity":
        if changed["identity"]:
            changed["identity"][0]["Statement"].append(statement)
        else:
            changed["identity"].append({"Version": "2012-10-17", "Statement": [statement]})
    elif where == "resource":
        if changed["resource"] is None:  # a new resource policy can only add grants or denies
            changed["resource"] = {"Version": "2012-10-17", "Statement": []}
        changed["resource"]["Statement"].append(statement)
    elif where == "boundary" and changed["boundary"] is not None:
        changed["boundary"]["Statement"].append(statement)
    elif where == "session" and changed["session"]:
        changed["session"][-1]["Statement"].append(statement)
    else:  # no such cap to extend: adding one would change more than one statement
        changed["identity"].append({"Version": "2012-10-17", "Statement": [statement]})
    return changed


LAYERS = st.sampled_from(["identity", "resource", "boundary", "session"])


@st.composite
def added_statement(draw: st.DrawFn, effect: str) -> tuple[str, dict[str, Any]]:
    where = draw(LAYERS)
    statement = draw(statements(resource_policy=where == "resource"))
    statement["Effect"] = effect
    if effect == "Allow" and "NotPrincipal" in statement:
        statement["Principal"] = statement.pop("NotPrincipal")
    return where, statement


@FAST
@given(scenarios(), added_statement("Deny"))
def test_adding_a_deny_never_produces_an_allow(scenario: dict[str, Any], addition: tuple[str, dict]) -> None:
    before = run(scenario)
    after = run(_with_statement(scenario, *addition))
    if after is Effect.ALLOW:
        assert before is Effect.ALLOW
    if before is Effect.EXPLICIT_DENY:
        assert after is Effect.EXPLICIT_DENY


@FAST
@given(scenarios(), added_statement("Allow"))
def test_adding_an_allow_never_removes_an_allow(scenario: dict[str, Any], addition: tuple[str, dict]) -> None:
    before = run(scenario)
    after = run(_with_statement(scenario, *addition))
    if before is Effect.ALLOW:
        assert after is Effect.ALLOW
    if before is Effect.EXPLICIT_DENY:
        assert after is Effect.EXPLICIT_DENY  # an Allow never lifts an explicit deny


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_statement_and_policy_order_never_matter(scenario: dict[str, Any], rnd: Any) -> None:
    shuffled = copy.deepcopy(scenario)
    for document in [*shuffled["identity"], shuffled["resource"], shuffled["boundary"], *(shuffled["session"] or ())]:
        if document is not None:
            rnd.shuffle(document["Statement"])
    rnd.shuffle(shuffled["identity"])
    if shuffled["session"]:
        rnd.shuffle(shuffled["session"])
    assert run(shuffled) is run(scenario)


@FAST
@given(scenarios(), documents(), st.lists(documents(), min_size=1, max_size=2))
def test_adding_a_boundary_or_session_policy_never_grants(
    scenario: dict[str, Any], boundary: dict[str, Any], session: list[dict[str, Any]]
) -> None:
    before = run(scenario)
    capped = []
    if scenario["boundary"] is None:
        capped.append(run({**scenario, "boundary": boundary}))
    if not scenario["session"]:
        capped.append(run({**scenario, "session": session}))
    for after in capped:
        if before is not Effect.ALLOW:
            assert after is not Effect.ALLOW
        if before is Effect.EXPLICIT_DENY:
            assert after is Effect.EXPLICIT_DENY


# --- the linear-time wildcard matcher against a regular expression --------------------------------


def _reference_glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


PATTERN_TEXT = st.text(alphabet="ab*?.", max_size=9)
VALUE_TEXT = st.text(alphabet="ab.\n", max_size=12)


@settings(max_examples=400, deadline=None, database=None)
@given(PATTERN_TEXT, VALUE_TEXT)
def test_wildcard_matcher_agrees_with_a_regex(pattern: str, value: str) -> None:
    matcher = compile_tokens(tokenize(pattern, variables=False, wildcards=True))
    assert matcher(value) is _reference_glob(pattern, value)


@QUICK
@given(st.text(alphabet="aB*?", max_size=8), st.text(alphabet="AbaB", max_size=10))
def test_lowercasing_wildcard_matcher_agrees_with_a_case_insensitive_regex(pattern: str, value: str) -> None:
    matcher = compile_tokens(tokenize(pattern, variables=False, wildcards=True), lowercase=True)
    assert matcher(value.lower()) is _reference_glob(pattern, value, ignore_case=True)


@QUICK
@given(st.lists(st.sampled_from(["a", "b", "ab", "*", "?", "??"]), max_size=8), VALUE_TEXT)
def test_wildcard_matcher_on_token_lists(pieces: list[str], value: str) -> None:
    pattern = "".join(pieces)
    assert compile_tokens(tokenize(pattern, variables=False, wildcards=True))(value) is _reference_glob(pattern, value)
