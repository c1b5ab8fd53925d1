"""Red-team round 6, differential fuzzing: the compiled evaluator against the naive reference
(tests/engine/reference.py) over every operator family, and the laws of IAM's decision logic.

The generators here reach what test_engine_properties.py does not: Date, Binary, Arn and
IgnoreCase operators, IfExists under a set qualifier, several operators and keys per block,
variables in Bool and Arn values (in any ARN segment), empty and multi-valued variables, role
ARNs with a path, key names in any case, context values of every JSON type (numbers, booleans,
lists, bytes) and values an operator cannot read.

Defect found (regression cases below):
- A policy variable that resolves to an empty string between two `*` wildcards
  (`order/*${aws:username}*` for a user whose name is "", or `*${aws:PrincipalTag/team, ''}*` without
  the tag) left an empty middle segment in the wildcard matcher, which crashed it (IndexError). The
  whole decision became "evaluation failed", an explicit deny, although the pattern is `order/**`
  and allows the request.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamguard
from iamguard import Effect, Request
from iamguard.engine.wildcard import compile_tokens
from iamguard.policy.template import STAR
from tests.engine import reference
from tests.engine.support import (
    ABSENT,
    ACCOUNT,
    ALICE,
    OTHER_ACCOUNT,
    OTHER_SESSION,
    ROLE,
    SESSION,
    STRANGER,
    contexts_from,
)

# Deterministic (derandomize) and small enough for the file to run in well under 20 s.
DIFFERENTIAL = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LAWS = settings(max_examples=80, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ORDERS = f"arn:app:orders:us-east-1:{ACCOUNT}"

ACTION_PATTERNS = ["orders:GetOrder", "orders:*", "*", "orders:G?tOrder", "orders:*Order*", "ORDERS:LIST*",
                   "billing:*", "*:Delete*"]
REQUEST_ACTIONS = ["orders:GetOrder", "orders:ListOrders", "orders:DeleteOrder", "billing:Pay"]

RESOURCE_PATTERNS = [
    "*", f"{ORDERS}:order/42", f"{ORDERS}:order/*", "arn:app:orders:*:*:order/${aws:username}",
    f"{ORDERS}:team/${{aws:PrincipalTag/team, 'blue'}}/*", "arn:app:billing:*:*:*",
    f"arn:app:orders:*:{OTHER_ACCOUNT}:*", f"{ORDERS}:order/4?", f"{ORDERS}:order/*${{aws:username}}*",
    f"{ORDERS}:*${{aws:PrincipalTag/team, ''}}*/1",
]
REQUEST_RESOURCES = [
    f"{ORDERS}:order/42", f"{ORDERS}:order/alice", f"{ORDERS}:team/blue/1", f"{ORDERS}:team/red/1",
    f"arn:app:billing:eu-west-1:{ACCOUNT}:account/1", f"arn:app:orders:us-east-1:{OTHER_ACCOUNT}:order/42",
    f"{ORDERS}:order/a:b", "orders/42",
]
REQUEST_PRINCIPALS = [ALICE, SESSION, OTHER_SESSION, STRANGER]

ROLE_WITH_PATH = f"arn:aws:iam::{ACCOUNT}:role/team/app"
PRINCIPALS = ["*", {"AWS": ALICE}, {"AWS": ROLE}, {"AWS": SESSION}, {"AWS": ACCOUNT}, {"AWS": STRANGER},
              {"AWS": ROLE_WITH_PATH}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}]
NOT_PRINCIPALS = [{"AWS": [ALICE, ACCOUNT]}, {"AWS": [ROLE, SESSION, ACCOUNT]}, {"AWS": ALICE},
                  {"AWS": [ROLE_WITH_PATH, SESSION, f"arn:aws:iam::{ACCOUNT}:root"]}]

# Policy values per operator family; some carry variables, some are in another type's JSON form.
STRING_VALUES = ["docs/*", "docs/1", "alice", "Alice", "${aws:username}", "${aws:username}/*", "a?c", "",
                 "${aws:PrincipalTag/team, 'blue'}", "${*}", True, 7, "*${aws:username}*",
                 "d*${aws:PrincipalTag/team, ''}*1"]
VALUES: dict[str, list[Any]] = {
    "String": STRING_VALUES,
    "Numeric": ["10", 5, "7.5", -1, "0", 12.5],
    "Date": ["2024-03-01T00:00:00Z", "2024-06-01", 1717243200, "2024-06-01T12:00:00+02:00", "1709251200"],
    "Bool": ["true", "false", True, False, "${aws:PrincipalTag/flag, 'true'}"],
    "Binary": ["aGVsbG8=", "d29ybGQ="],
    "Ip": ["10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "::ffff:10.0.0.0/104", "0.0.0.0/0"],
    "Arn": [f"arn:aws:iam::{ACCOUNT}:user/*", "arn:aws:iam::${aws:PrincipalAccount}:role/app",
            "arn:aws:*:*:*:*", f"arn:aws:sts::{ACCOUNT}:assumed-role/app/*", "*",
            "arn:app:orders:*:${aws:PrincipalAccount}:order/${aws:username}", "arn:aws:iam::*:user/al?ce",
            "arn:aws:*:*:*${aws:PrincipalAccount}*:*"],
    "Null": ["true", "false", True, False],
}
OPERATORS: dict[str, list[str]] = {
    "String": ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike"],
    "Numeric": ["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                "NumericGreaterThan", "NumericGreaterThanEquals"],
    "Date": ["DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
             "DateGreaterThanEquals"],
    "Bool": ["Bool"],
    "Binary": ["BinaryEquals"],
    "Ip": ["IpAddress", "NotIpAddress"],
    "Arn": ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
    "Null": ["Null"],
}
# Keys each family usually tests, plus the others now and then (a numeric test of a text key).
KEYS: dict[str, list[str]] = {
    "String": ["app:s", "app:tags", "APP:S", "aws:username"],
    "Numeric": ["app:n", "app:tags"],
    "Date": ["app:when", "aws:CurrentTime"],
    "Bool": ["app:flag", "aws:MultiFactorAuthPresent"],
    "Binary": ["app:blob"],
    "Ip": ["aws:SourceIp"],
    "Arn": ["app:arn", "aws:PrincipalArn"],
    "Null": ["app:s", "app:tags", "app:flag"],
}
ALL_KEYS = sorted({key for keys in KEYS.values() for key in keys})

CONTEXT_CHOICES: dict[str, list[Any]] = {
    "app:s": [ABSENT, "docs/1", "DOCS/1", "alice", "abc", "", "*", 7, True],
    "app:tags": [ABSENT, [], ["docs/1"], ["alice", "bob"], "alice", ["10", "3"], [5]],
    "app:n": [ABSENT, 3, "7.5", 10, "abc", 12.5, "-1"],
    "app:when": [ABSENT, "2024-04-01T00:00:00Z", "2024-06-01T10:00:00Z", 1717243200, "2024-06-01", "soon",
                 "1717243201"],
    "aws:CurrentTime": [ABSENT, "2024-06-01T10:00:00+00:00"],
    "app:flag": [ABSENT, True, "false", "TRUE", "yes"],
    "aws:MultiFactorAuthPresent": [ABSENT, "true", False],
    "app:blob": [ABSENT, "aGVsbG8=", b"world", "!!"],
    "aws:SourceIp": [ABSENT, "10.1.2.3", "8.8.8.8", "2001:db8::5", "::ffff:10.9.9.9", "bogus"],
    "app:arn": [ABSENT, ALICE, ROLE, SESSION, "not-an-arn", f"{ORDERS}:order/alice", [ALICE, ROLE]],
    "aws:PrincipalArn": [ABSENT, ALICE, SESSION],
    "aws:username": [ABSENT, "alice", "*", "al?ce", "a:b", "", ["alice", "bob"]],
    "aws:PrincipalTag/team": [ABSENT, "blue", "red", ["blue", "red"]],
    "aws:PrincipalTag/flag": [ABSENT, "false", "maybe"],
    "aws:PrincipalAccount": [ABSENT, ACCOUNT, OTHER_ACCOUNT, f"{ACCOUNT}:role", "*"],
}


def _one_or_list(options: list[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(options), st.lists(st.sampled_from(options), min_size=1, max_size=max_size))


@st.composite
def conditions(draw: st.DrawFn, *, variables: bool) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(1, 3))):
        family = draw(st.sampled_from(sorted(OPERATORS)))
        name = draw(st.sampled_from(OPERATORS[family]))
        if family != "Null":
            if draw(st.integers(0, 3)) == 0:
                name += "IfExists"
            qualifier = draw(st.sampled_from([None, None, "ForAllValues", "ForAnyValue"]))
            if qualifier:
                name = f"{qualifier}:{name}"
        keys = KEYS[family] if draw(st.integers(0, 4)) else ALL_KEYS
        entries = block.setdefault(name, {})
        for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True)):
            # Outside 2012-10-17 `${...}` is plain text, which is no boolean.
            values = [value for value in VALUES[family]
                      if variables or family != "Bool" or "${" not in str(value)]
            entries[key] = draw(_one_or_list(values))
    return block


@st.composite
def statements(draw: st.DrawFn, *, variables: bool, resource_policy: bool = False) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    out: dict[str, Any] = {"Effect": effect}
    if resource_policy:
        if effect == "Deny" and draw(st.integers(0, 3)) == 0:
            out["NotPrincipal"] = draw(st.sampled_from(NOT_PRINCIPALS))
        else:
            out["Principal"] = draw(st.sampled_from(PRINCIPALS))
    out["NotAction" if draw(st.integers(0, 7)) == 0 else "Action"] = draw(_one_or_list(ACTION_PATTERNS))
    out["NotResource" if draw(st.integers(0, 7)) == 0 else "Resource"] = draw(_one_or_list(RESOURCE_PATTERNS))
    if draw(st.integers(0, 3)):
        out["Condition"] = draw(conditions(variables=variables))
    return out


@st.composite
def documents(draw: st.DrawFn, *, resource_policy: bool = False) -> dict[str, Any]:
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None]))
    items = draw(st.lists(statements(variables=version == "2012-10-17", resource_policy=resource_policy),
                          min_size=1, max_size=3))
    if not resource_policy and draw(st.integers(0, 2)) == 0:
        items.append({"Effect": "Allow", "Action": "*", "Resource": "*"})  # a plain grant to cap or deny
    document: dict[str, Any] = {"Statement": items}
    if version is not None:
        document["Version"] = version
    return document


def contexts() -> st.SearchStrategy[dict[str, Any]]:
    return contexts_from(CONTEXT_CHOICES)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "identity": draw(st.lists(documents(), min_size=0, max_size=2)),
        "resource": draw(st.one_of(st.none(), documents(resource_policy=True))),
        "boundary": draw(st.one_of(st.none(), documents())),
        "session": draw(st.one_of(st.none(), st.lists(documents(), min_size=1, max_size=2))),
        "context": draw(contexts()),
    }


def _policy_set(scenario: dict[str, Any]) -> iamguard.PolicySet:
    return iamguard.PolicySet(scenario["identity"], scenario["resource"], scenario["boundary"], scenario["session"])


def _expected(scenario: dict[str, Any], principal: str, action: str, resource: str) -> str:
    return reference.reference_decision(
        principal, action, resource, scenario["context"],
        identity_policies=scenario["identity"], resource_policy=scenario["resource"],
        permissions_boundary=scenario["boundary"], session_policies=scenario["session"],
    )


def _requests(context: dict[str, Any]) -> list[Request]:
    return [Request(principal, action, resource, context)
            for principal, action, resource in itertools.product(REQUEST_PRINCIPALS, REQUEST_ACTIONS,
                                                                 REQUEST_RESOURCES)]


@DIFFERENTIAL
@given(scenarios())
def test_engine_agrees_with_the_reference_on_every_operator_family(scenario: dict[str, Any]) -> None:
    policy_set = _policy_set(scenario)
    for request in _requests(scenario["context"]):
        expected = _expected(scenario, request.principal, request.action, request.resource)
        actual = policy_set.evaluate(request)
        assert actual.error is None, actual.error
        assert actual.effect.value == expected, (request, actual.errors)


# --- the laws, on the same generated policy sets ------------------------------------------------


def _effects(scenario: dict[str, Any]) -> list[Effect]:
    policy_set = _policy_set(scenario)
    return [policy_set.evaluate(request).effect for request in _requests(scenario["context"])]


def _added(scenario: dict[str, Any], where: str, statement: dict[str, Any]) -> dict[str, Any]:
    """The scenario with one more statement, in a policy of its own where one can be added."""
    changed = copy.deepcopy(scenario)
    document = {"Version": "2012-10-17", "Statement": [statement]}
    if where == "resource":
        if changed["resource"] is None:
            changed["resource"] = {"Version": "2012-10-17", "Statement": []}
        changed["resource"]["Statement"].append(statement)
    elif where == "boundary" and changed["boundary"] is not None:
        changed["boundary"]["Statement"].append(statement)
    elif where == "session" and changed["session"]:
        changed["session"].append(document)
    else:  # an identity policy (a new boundary or session policy would cap, not add)
        changed["identity"].append(document)
    return changed


@st.composite
def additions(draw: st.DrawFn, effect: str) -> tuple[str, dict[str, Any]]:
    where = draw(st.sampled_from(["identity", "resource", "boundary", "session"]))
    statement = draw(statements(variables=True, resource_policy=where == "resource"))
    statement["Effect"] = effect
    if "NotPrincipal" in statement:
        statement["Principal"] = statement.pop("NotPrincipal")
    return where, statement


@LAWS
@given(scenarios(), additions("Deny"))
def test_an_added_deny_never_widens_access(scenario: dict[str, Any], addition: tuple[str, dict[str, Any]]) -> None:
    for before, after in zip(_effects(scenario), _effects(_added(scenario, *addition)), strict=True):
        assert after is not Effect.ALLOW or before is Effect.ALLOW
        assert before is not Effect.EXPLICIT_DENY or after is Effect.EXPLICIT_DENY


@LAWS
@given(scenarios(), additions("Allow"))
def test_an_added_allow_never_narrows_access(scenario: dict[str, Any], addition: tuple[str, dict[str, Any]]) -> None:
    for before, after in zip(_effects(scenario), _effects(_added(scenario, *addition)), strict=True):
        assert before is not Effect.ALLOW or after is Effect.ALLOW
        assert (before is Effect.EXPLICIT_DENY) is (after is Effect.EXPLICIT_DENY)


@LAWS
@given(scenarios(), documents(), st.lists(documents(), min_size=1, max_size=2))
def test_an_added_boundary_or_session_policy_never_widens_access(
    scenario: dict[str, Any], boundary: dict[str, Any], session: list[dict[str, Any]]
) -> None:
    before = _effects(scenario)
    capped = []
    if scenario["boundary"] is None:
        capped.append(_effects({**scenario, "boundary": boundary}))
    if scenario["session"] is None:  # more session policies join the pool, which may widen it
        capped.append(_effects({**scenario, "session": session}))
    for after in capped:
        for was, now in zip(before, after, strict=True):
            assert now is not Effect.ALLOW or was is Effect.ALLOW
            assert was is not Effect.EXPLICIT_DENY or now is Effect.EXPLICIT_DENY


@LAWS
@given(scenarios())
def test_the_explanation_names_the_statements_that_decided(scenario: dict[str, Any]) -> None:
    policy_set = _policy_set(scenario)
    for request in _requests(scenario["context"])[::7]:  # tracing is slow: a spread of requests
        decision = policy_set.evaluate(request)
        trace = decision.trace()
        assert trace is not None
        applying = {item.ref: item for item in trace.statements if item.applies}
        denies = [ref for ref in applying if ref.effect.value == "Deny"]
        # An explicit deny exactly when some Deny applies; it names one of them.
        assert (decision.effect is Effect.EXPLICIT_DENY) is bool(denies), request
        if decision.effect is Effect.EXPLICIT_DENY:
            assert len(decision.statements) == 1 and decision.statements[0] in denies
        elif decision.effect is Effect.ALLOW:
            assert decision.statements
            assert all(ref in applying and ref.effect.value == "Allow" for ref in decision.statements)
        else:
            assert decision.statements == ()
        text = decision.explain()
        assert all(str(ref) in text for ref in decision.statements), text


# --- regression: a variable resolved to "" between two stars ---------------------------------------

EMPTY_BETWEEN_STARS = [
    # (identity statements, context, expected effect)
    ([{"Effect": "Allow", "Action": "*", "Resource": f"{ORDERS}:order/*${{aws:username}}*"}],
     {"aws:username": ""}, Effect.ALLOW),
    ([{"Effect": "Allow", "Action": "*", "Resource": f"{ORDERS}:order/*${{aws:PrincipalTag/team, ''}}*2"}],
     {}, Effect.ALLOW),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*",
       "Condition": {"StringLike": {"app:path": "o*${aws:username}*2"}}}],
     {"aws:username": "", "app:path": "order/42"}, Effect.ALLOW),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*"},
      {"Effect": "Deny", "Action": "*", "Resource": "*",
       "Condition": {"StringLike": {"app:path": "x*${aws:username}*y"}}}],
     {"aws:username": "", "app:path": "x-y"}, Effect.EXPLICIT_DENY),
    ([{"Effect": "Allow", "Action": "*", "Resource": "*",
       "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:*:*:*${aws:PrincipalAccount}*:user/*"}}}],
     {"aws:PrincipalAccount": "", "aws:PrincipalArn": ALICE}, Effect.ALLOW),
]


@pytest.mark.parametrize(("statements", "context", "expected"), EMPTY_BETWEEN_STARS)
def test_a_variable_resolved_to_nothing_between_stars_matches_like_one_star(
    statements: list[dict[str, Any]], context: dict[str, Any], expected: Effect
) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    decision = iamguard.evaluate(Request(ALICE, "orders:GetOrder", f"{ORDERS}:order/42", context),
                                 identity_policies=[document])
    assert decision.error is None
    assert decision.effect is expected
    assert decision.effect.value == _expected(
        {"identity": [document], "resource": None, "boundary": None, "session": None, "context": context},
        ALICE, "orders:GetOrder", f"{ORDERS}:order/42")


@pytest.mark.parametrize(("tokens", "value", "matches"), [
    ((STAR, "", STAR), "", True),
    ((STAR, "", STAR), "abc", True),
    (("a", STAR, "", STAR, "c"), "abc", True),
    (("a", STAR, "", STAR, "c"), "ab", False),
    (("a", STAR, "", STAR, 1, STAR, "", STAR), "a", False),
    (("a", STAR, "", STAR, 1, STAR, "", STAR), "ab", True),
])
def test_the_matcher_reads_stars_around_an_empty_token_as_one_star(
    tokens: tuple[Any, ...], value: str, matches: bool
) -> None:
    assert compile_tokens(tokens)(value) is matches
