"""The resource-head index, the shared compiled pieces and their caches decide exactly as a plain
scan of every statement does, and every cache stays bounded."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

import iamguard
from iamguard import Effect, PolicySet, Request
from iamguard.engine import conditions, wildcard
from iamguard.engine.context import EvaluationState
from iamguard.engine.evaluator import Entry
from iamguard.policy import jsondoc
from tests.engine import reference
from tests.engine.support import ALLOW, EXPLICIT, IMPLICIT, allow, deny, policy

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")
SERVICES = ("orders", "billing")
ACTIONS = ("GetOrder", "GetInvoice", "ListOrders", "DeleteOrder", "UpdateOrder", "Pay")
TEAMS = ("red", "blue", "green")


def _resource_pattern(rng: random.Random) -> str | list[str]:
    service, account = rng.choice(SERVICES), rng.choice(ACCOUNTS)
    region = rng.choice(REGIONS)
    shapes = [
        f"arn:app:{service}:{region}:{account}:item/{rng.randint(1, 4)}",
        f"arn:app:{service}:{region}:{account}:item/*",
        f"arn:app:{service}:{region}:{account}:*",
        f"arn:app:{service}:{region}:{account}:item/?",
        f"arn:app:{service}:*:{account}:item/*",  # wildcard head: indexed by tenant
        f"arn:app:{service}:{region}:*:item/1",  # no literal tenant: visited for every tenant
        f"arn:app:{service}:{region}:{account}:item/${{aws:username}}",  # variable in the tail
        "*",
    ]
    picked = rng.choice(shapes)
    if rng.random() < 0.25:  # several patterns, sometimes under one head with different tails
        return [picked, f"arn:app:{service}:{rng.choice(REGIONS)}:{account}:item/{rng.randint(1, 4)}"]
    return picked


def _condition(rng: random.Random, role: str) -> dict[str, Any] | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.5:
        return {"ForAnyValue:StringEquals": {"app:roles": role}}
    if roll < 0.6:
        return {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    if roll < 0.7:
        return {"StringEquals": {"aws:PrincipalTag/team": rng.choice(TEAMS)},
                "NumericLessThanEquals": {"app:amount": rng.choice((10, 100))}}
    if roll < 0.8:
        return {"IpAddress": {"aws:SourceIp": f"10.{rng.randrange(3)}.0.0/16"}}
    if roll < 0.9:
        return {"StringNotEquals": {"aws:PrincipalTag/team": rng.choice(TEAMS)}}
    # A plain operator on a key that some requests give several values: an error there, which
    # applies a Deny and never an Allow.
    return {"StringEquals": {"app:roles": role}}


def _workload(seed: int) -> tuple[list[dict[str, Any]], list[Request]]:
    rng = random.Random(seed)
    documents = []
    for index in range(12):
        role = f"role{index % 4}"
        statements = []
        for _ in range(rng.randint(2, 8)):
            actions: str | list[str] = rng.choice(
                [f"{rng.choice(SERVICES)}:{rng.choice(ACTIONS)}", f"{rng.choice(SERVICES)}:Get*", "*",
                 [f"{rng.choice(SERVICES)}:Update*", f"{rng.choice(SERVICES)}:Delete*"]])
            condition = _condition(rng, role)
            maker = deny if rng.random() < 0.3 else allow
            if maker is deny and not condition:  # keep denies narrow, so that every outcome occurs
                actions = f"{rng.choice(SERVICES)}:{rng.choice(ACTIONS)}"
                statements.append(deny(actions, _resource_pattern(rng)))
            elif rng.random() < 0.1:
                statements.append(maker(None, _resource_pattern(rng), not_action="billing:*",
                                        **({"condition": condition} if condition else {})))
            elif rng.random() < 0.1:
                statements.append(maker(actions, None, not_resource=_resource_pattern(rng),
                                        **({"condition": condition} if condition else {})))
            else:
                statements.append(maker(actions, _resource_pattern(rng),
                                        **({"condition": condition} if condition else {})))
        documents.append(policy(*statements))
    requests = []
    for _ in range(600):
        account = rng.choice(ACCOUNTS)
        principal_account = account if rng.random() < 0.85 else rng.choice(ACCOUNTS)
        head = f"arn:app:{rng.choice(SERVICES)}:{rng.choice(REGIONS)}:{account}:"
        resource = head + f"item/{rng.choice(['1', '2', '3', 'alice'])}"
        if rng.random() < 0.1:  # resources no pattern names, and one that is not an ARN
            resource = rng.choice([head + "item/x9", head + "other/1", "not-an-arn"])
        roles = rng.sample([f"role{index}" for index in range(4)], k=rng.randint(0, 2))
        context: dict[str, Any] = {"app:roles": roles, "aws:PrincipalTag/team": rng.choice(TEAMS),
                                   "aws:ResourceTag/team": rng.choice(TEAMS),
                                   "aws:SourceIp": f"10.{rng.randrange(4)}.1.2", "app:amount": rng.choice((5, 50, 500))}
        if rng.random() < 0.5:
            context["aws:username"] = "alice"
        if rng.random() < 0.1:
            context.pop("aws:PrincipalTag/team")
        requests.append(Request(f"arn:aws:iam::{principal_account}:user/alice",
                                f"{rng.choice(SERVICES)}:{rng.choice(ACTIONS)}", resource, context))
    return documents, requests


def _scan(policy_set: PolicySet, request: Request) -> tuple[Effect, tuple[Any, ...], tuple[str, ...]]:
    """The decision of an identity-only set without any index: every statement whose action
    matches, denies first, in statement order, each through `CompiledStatement.applies`."""
    state = EvaluationState(request, False)
    candidates = [entry for entry in policy_set.identity.entries
                  if entry.statement.matches_action(request.action_lower)]

    def first(is_deny: bool) -> Entry | None:
        for entry in candidates:
            if entry.statement.is_deny is is_deny and entry.statement.applies(request, state):
                return entry
        return None

    denied = first(True)
    if denied is not None:
        return EXPLICIT, (denied.ref,), tuple(state.errors)
    allowed = first(False)
    account, principal_account = request.resource_account, request.principal_account
    if allowed is not None and (not account or not principal_account or account == principal_account):
        return ALLOW, (allowed.ref,), tuple(state.errors)
    return IMPLICIT, (), tuple(state.errors)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_indexed_decisions_equal_a_scan_of_every_statement(seed: int) -> None:
    documents, requests = _workload(seed)
    policy_set = PolicySet(identity_policies=documents)
    outcomes = set()
    for request in requests:
        decision = policy_set.evaluate(request)
        assert decision.error is None
        expected = _scan(policy_set, request)
        assert (decision.effect, decision.statements, decision.errors) == expected, request
        outcomes.add(decision.effect)
        naive = reference.reference_decision(request.principal, request.action, request.resource,
                                             dict(request.context), identity_policies=documents)
        assert decision.effect.value == naive, request
    assert outcomes == {ALLOW, EXPLICIT, IMPLICIT}  # the workload exercises every outcome


@pytest.mark.parametrize("seed", [5, 6])
def test_indexed_layers_with_caps_and_a_resource_policy_equal_the_reference(seed: int) -> None:
    documents, requests = _workload(seed)
    boundary = policy(allow("orders:*"), allow("billing:Get*", f"arn:app:billing:us-east-1:{ACCOUNTS[0]}:item/*"))
    resource_policy = policy(
        allow("orders:GetOrder", f"arn:app:orders:eu-west-1:{ACCOUNTS[1]}:item/*", principal={"AWS": ACCOUNTS[1]}),
        deny("billing:Pay", f"arn:app:billing:us-east-1:{ACCOUNTS[0]}:item/2", principal="*"),
    )
    policy_set = PolicySet(identity_policies=documents, resource_policy=resource_policy,
                           permissions_boundary=boundary)
    for request in requests:
        decision = policy_set.evaluate(request)
        naive = reference.reference_decision(request.principal, request.action, request.resource,
                                             dict(request.context), identity_policies=documents,
                                             resource_policy=resource_policy, permissions_boundary=boundary)
        assert decision.effect.value == naive, request


def test_an_error_under_the_head_index_applies_a_deny_and_never_an_allow() -> None:
    order = f"arn:app:orders:us-east-1:{ACCOUNTS[0]}:item/1"
    multivalued = {"app:roles": ["a", "b"]}
    plain = {"StringEquals": {"app:roles": "a"}}
    denying = PolicySet(identity_policies=[policy(allow("orders:*", order), deny("orders:*", order, condition=plain))])
    decision = denying.evaluate(Request(f"arn:aws:iam::{ACCOUNTS[0]}:user/a", "orders:GetOrder", order, multivalued))
    assert decision.effect is EXPLICIT
    assert decision.statements[0].index == 1
    assert len(decision.errors) == 1 and "2 values" in decision.errors[0]
    allowing = PolicySet(identity_policies=[policy(allow("orders:*", order, condition=plain))])
    decision = allowing.evaluate(Request(f"arn:aws:iam::{ACCOUNTS[0]}:user/a", "orders:GetOrder", order, multivalued))
    assert decision.effect is IMPLICIT
    assert len(decision.errors) == 1


SHARED_CASES = [
    # (operator, policy value, request value, holds)
    ("StringEquals", "1", "1", True),
    ("StringEquals", 1, "1", True),
    ("StringEquals", True, "true", True),
    ("StringEquals", True, "1", False),
    ("StringEquals", 1, "true", False),
    ("NumericEquals", 1, "1.0", True),
    ("NumericEquals", 1.5, "1.5", True),
    ("NumericEquals", 1.5, "1", False),
    ("Bool", True, "true", True),
    ("Bool", "false", "true", False),
]


def test_equal_conditions_are_shared_and_different_typed_values_are_not() -> None:
    """1, 1.0 and True compare equal in Python but are different policy values."""
    for operator, value, request_value, holds in SHARED_CASES:
        compiled = iamguard.parse_policy(policy(allow(condition={operator: {"app:k": value}})))
        decision = PolicySet(identity_policies=[compiled]).evaluate(
            Request(f"arn:aws:iam::{ACCOUNTS[0]}:user/a", "orders:GetOrder", "*", {"app:k": request_value}))
        assert decision.allowed is holds, (operator, value, request_value)
    first = iamguard.parse_policy(policy(allow("orders:Get*", condition={"StringEquals": {"app:k": "x"}})))
    second = iamguard.parse_policy(policy(allow("billing:*", condition={"StringEquals": {"app:k": "x"}})))
    assert first.statements[0].conditions[0] is second.statements[0].conditions[0]
    spelled = iamguard.parse_policy(policy(allow("billing:*", condition={"StringEquals": {"APP:K": "x"}})))
    assert spelled.statements[0].conditions[0] is not first.statements[0].conditions[0]
    assert spelled.statements[0].conditions[0].entry.key == "APP:K"  # explanations show the policy's own spelling


@pytest.mark.parametrize(("operator", "values", "context", "holds"), [
    ("StringEquals", "a", {"app:k": "a"}, True),
    ("StringEquals", "a", {"app:k": "b"}, False),
    ("StringEquals", "a", {}, False),
    ("StringNotEquals", "a", {"app:k": "b"}, True),
    ("StringNotEquals", "a", {}, True),
    ("StringEqualsIfExists", "a", {}, True),
    ("ForAnyValue:StringEquals", "a", {"app:k": ["b", "a"]}, True),
    ("ForAnyValue:StringEquals", "a", {"app:k": ["b", "c"]}, False),
    ("ForAnyValue:StringEquals", "a", {}, False),
    ("ForAllValues:StringEquals", "a", {"app:k": ["a", "a"]}, True),
    ("ForAllValues:StringEquals", "a", {"app:k": ["a", "b"]}, False),
    ("ForAllValues:StringEquals", "a", {}, True),
    ("ForAnyValue:StringNotEquals", "a", {"app:k": ["a", "b"]}, True),
    ("ForAllValues:StringNotEquals", "a", {"app:k": ["b", "c"]}, True),
    ("StringEquals", "${aws:username}", {"app:k": "alice", "aws:username": "alice"}, True),
    ("StringEquals", "${aws:username}", {"app:k": "alice", "aws:username": "bob"}, False),
    ("StringEquals", "${aws:username}", {"app:k": "alice"}, False),  # no value: matches nothing
    ("StringNotEquals", "${aws:username}", {"app:k": "alice"}, True),
    ("StringEquals", "${aws:username, 'alice'}", {"app:k": "alice"}, True),  # the default
    ("StringEquals", "${aws:username}", {"app:k": "alice", "aws:username": ["alice", "bob"]}, False),
    ("ForAnyValue:StringEquals", "${aws:username}", {"app:k": ["x", "bob"], "aws:username": "bob"}, True),
    ("StringEquals", ["a", "b"], {"app:k": "b"}, True),
    ("StringEquals", "1", {"app:k": 1}, True),  # request values are read as text
])
def test_one_string_comparisons_agree_with_the_reference(operator: str, values: Any, context: Mapping[str, Any],
                                                          holds: bool) -> None:
    principal = f"arn:aws:iam::{ACCOUNTS[0]}:user/alice"
    item = f"arn:app:orders:us-east-1:{ACCOUNTS[0]}:item/1"
    # On "*" the statement is tested in full; under its resource head only the rest is tested,
    # through the inlined comparison.
    for resource_pattern, resource in (("*", "*"), (item, item), (f"arn:app:orders:us-east-1:{ACCOUNTS[0]}:*", item)):
        for extra in ({}, {"StringLike": {"app:other": "x*"}}):
            condition = {operator: {"app:k": values}, **extra}
            document = policy(allow("orders:GetOrder", resource_pattern, condition=condition))
            full_context = {**context, "app:other": "x"}
            decision = PolicySet(identity_policies=[document]).evaluate(
                Request(principal, "orders:GetOrder", resource, full_context))
            naive = reference.reference_decision(principal, "orders:GetOrder", resource, full_context,
                                                 identity_policies=[document])
            assert decision.allowed is holds, (resource_pattern, extra)
            assert decision.effect.value == naive


def test_shared_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    iamguard.DEFAULT_CACHE.clear()
    monkeypatch.setattr(wildcard, "MATCHER_CACHE_SIZE", 16)
    monkeypatch.setattr(conditions, "CONDITION_CACHE_SIZE", 16)
    for index in range(200):
        wildcard.compile_tokens((f"item/{index}", "x"))
        wildcard.share_tuple((f"tuple{index}",))
        conditions.compile_condition(
            iamguard.parse_policy(policy(allow(condition={"StringEquals": {"app:k": f"v{index}"}})))
            .document.statements[0].conditions[0], variables=True)
    assert all(len(cache) <= 16 for cache in wildcard._MATCHERS)
    assert len(wildcard._SHARED) <= 16
    assert len(conditions._COMPILED) <= 16
    # Evaluation-time values (a variable in a *Like pattern) go through the same bounded caches.
    like = PolicySet(identity_policies=[policy(allow(condition={"StringLike": {"app:k": "${aws:username}*"}}))])
    for index in range(200):
        name = f"user{index}"
        request = Request(f"arn:aws:iam::{ACCOUNTS[0]}:user/{name}", "orders:GetOrder", "*",
                          {"aws:username": name, "app:k": f"{name}-suffix"})
        assert like.evaluate(request).allowed
    assert all(len(cache) <= 16 for cache in wildcard._MATCHERS)
    iamguard.DEFAULT_CACHE.clear()


def test_clearing_the_default_cache_makes_the_next_compile_cold() -> None:
    iamguard.parse_policy(policy(allow("orders:Get*", condition={"StringEquals": {"app:k": "cold"}})))
    assert conditions._COMPILED and any(wildcard._MATCHERS)
    iamguard.DEFAULT_CACHE.clear()
    assert not conditions._COMPILED
    assert not any(wildcard._MATCHERS) and not wildcard._SHARED
    assert len(iamguard.DEFAULT_CACHE) == 0


def _nested_objects(depth: int, leaf: str) -> str:
    return '{"Statement": [' + '{"k": ' * depth + leaf + "}" * depth + "]}"


@pytest.mark.parametrize("text", [
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}',
    '{"Statement": [{"Effect": "Allow", "Action": ["a:b"], "Resource": "*", "Condition": '
    '{"NumericLessThan": {"app:n": [1, 2.5, 1e999]}}}]}',
    '{"Statement": [{"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}]}',
    '{"Statement": ' + "[" * 18 + '"deep"' + "]" * 18 + "}",
    _nested_objects(14, '"text"'),  # a string under the limit's depth in an object is not measured
    _nested_objects(14, "1"),
    _nested_objects(13, "1"),
    '{"Statement": [true, null, 1, "x", {"k": [false]}]}',
])
def test_the_quick_document_walk_agrees_with_the_full_one(text: str) -> None:
    import json

    data = json.loads(text, object_pairs_hook=jsondoc._record_duplicates)
    findings: list[Any] = []
    jsondoc._measure(data, jsondoc.DEFAULT_LIMITS, findings, check_text=False)
    assert jsondoc._plainly_valid(data, jsondoc.DEFAULT_LIMITS.max_depth) is (not findings)


def test_a_bucket_with_many_statements_for_every_tenant_and_many_heads_stays_linear() -> None:
    """Statements on `*` would be joined under every head: past a bound the bucket indexes by
    tenant only, and decides the same."""
    everywhere = [allow("orders:GetOrder", condition={"StringEquals": {"app:k": f"v{index}"}})
                  for index in range(400)]
    heads = [allow("orders:GetOrder", f"arn:app:orders:r{index}:{ACCOUNTS[0]}:item/1",
                   condition={"StringEquals": {"app:k": "head"}}) for index in range(400)]
    narrow = deny("orders:GetOrder", f"arn:app:orders:r7:{ACCOUNTS[0]}:item/1")
    policy_set = PolicySet(identity_policies=[policy(*everywhere), policy(*heads), policy(narrow)])
    principal = f"arn:aws:iam::{ACCOUNTS[0]}:user/a"
    cases = [("r3", "head", ALLOW, 400 + 3), ("r3", "v5", ALLOW, 5), ("r3", "zzz", IMPLICIT, None),
             ("r7", "head", EXPLICIT, 0), ("r999", "head", IMPLICIT, None)]
    for region, value, effect, index in cases:
        resource = f"arn:app:orders:{region}:{ACCOUNTS[0]}:item/1"
        decision = policy_set.evaluate(Request(principal, "orders:GetOrder", resource, {"app:k": value}))
        assert decision.effect is effect
        if index is not None:
            position = index % 400 if effect is not EXPLICIT else 0
            assert decision.statements[0].index == position
    bucket = policy_set.identity.bucket("orders:getorder")
    assert bucket.size <= 8 * 801 + 10_000
