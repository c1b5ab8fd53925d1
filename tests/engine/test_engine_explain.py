"""Explanations: which statements decided, and for an implicit deny why the closest ones failed."""

from __future__ import annotations

import iamguard
from iamguard import PolicyKind, Request, StatementEffect
from tests.engine.support import (
    ACCOUNT,
    ALICE,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    SESSION,
    allow,
    decide,
    deny,
    policy,
)

OTHER_ORDER = f"arn:app:orders:us-east-1:{ACCOUNT}:order/7"


def test_allow_names_policy_statement_and_sid() -> None:
    document = iamguard.parse_policy(policy(allow("orders:List*"), allow(GET, ORDER, sid="ReadOrders")),
                                     name="orders-read")
    decision = decide([document])
    assert decision.effect is ALLOW
    (ref,) = decision.statements
    assert (ref.policy, ref.kind, ref.index, ref.sid, ref.effect, ref.pointer) == (
        "orders-read", PolicyKind.IDENTITY, 1, "ReadOrders", StatementEffect.ALLOW, "/Statement/1")
    text = decision.explain()
    assert "allowed by" in text
    assert "orders-read" in text and "ReadOrders" in text


def test_unnamed_policies_are_labelled_by_kind_and_position() -> None:
    decision = decide([policy(allow("billing:*")), policy(allow(GET))])
    assert decision.statements[0].policy == "identity[1]"
    assert decision.statements[0].index == 0
    assert decision.statements[0].sid is None


def test_explicit_deny_names_the_deny_and_its_condition() -> None:
    document = policy(allow(sid="Everything"),
                      deny(GET, condition={"Bool": {"aws:SecureTransport": "false"}}, sid="RequireTls"))
    decision = decide([document], context={"aws:SecureTransport": "false"})
    assert decision.effect is EXPLICIT
    assert [ref.sid for ref in decision.statements] == ["RequireTls"]
    assert decision.statements[0].effect is StatementEffect.DENY
    text = decision.explain()
    assert "explicitly denied by" in text
    assert "RequireTls" in text
    assert "Everything" not in text
    assert "aws:SecureTransport" in text


def test_implicit_deny_with_no_policy_says_nothing_applies() -> None:
    decision = decide()
    assert decision.statements == ()
    assert "no policy applies" in decision.explain()


def test_implicit_deny_explains_action_resource_and_condition_misses() -> None:
    document = policy(
        allow("orders:List*", sid="List"),
        allow(GET, OTHER_ORDER, sid="OtherOrder"),
        allow(GET, ORDER, sid="TeamOnly", condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
    )
    decision = decide([document], context={"aws:PrincipalTag/team": "red"})
    assert decision.effect is IMPLICIT
    assert decision.statements == ()
    text = decision.explain()
    assert "implicit deny" in text
    # Action mismatch, with the request action and the statement's patterns.
    assert "action 'orders:GetOrder' does not match" in text
    assert "orders:List*" in text
    # Resource mismatch, with the request resource and the statement's patterns.
    assert f"resource '{ORDER}' does not match" in text
    assert OTHER_ORDER in text
    # Condition miss: the operator, the key, the policy value and the request value.
    assert "StringEquals aws:PrincipalTag/team ['blue'] fails: request value 'red'" in text
    # The closest statement (it got furthest) comes first.
    assert text.index("TeamOnly") < text.index("OtherOrder") < text.index("'List'")


def test_implicit_deny_names_missing_context_keys() -> None:
    document = policy(allow(GET, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"},
                                            "StringEquals": {"aws:PrincipalTag/Team": "blue"}}))
    decision = decide([document], context={"aws:PrincipalTag/team": "blue"})
    assert decision.effect is IMPLICIT
    assert decision.missing_context_keys == frozenset({"aws:multifactorauthpresent"})
    text = decision.explain()
    assert "the request lacks this key" in text
    assert "aws:multifactorauthpresent" in text


def test_missing_keys_include_unresolved_variables() -> None:
    document = policy(allow(GET, f"arn:app:orders:us-east-1:{ACCOUNT}:order/${{aws:username}}"))
    decision = decide([document])
    assert decision.effect is IMPLICIT
    assert "aws:username" in decision.missing_context_keys


def test_missing_keys_are_empty_when_the_context_is_complete() -> None:
    decision = decide([policy(allow(condition={"StringEquals": {"aws:username": "alice"}}))],
                      context={"aws:username": "alice"})
    assert decision.effect is ALLOW
    assert decision.missing_context_keys == frozenset()


def test_implicit_deny_explains_a_boundary_that_does_not_allow() -> None:
    decision = decide([policy(allow())], boundary=policy(allow("billing:*")))
    assert decision.effect is IMPLICIT
    assert "permissions boundary does not" in decision.explain()


def test_implicit_deny_explains_a_session_policy_that_does_not_allow() -> None:
    decision = decide([policy(allow())], session=[policy(allow("billing:*"))], principal=SESSION)
    assert decision.effect is IMPLICIT
    assert "no session policy does" in decision.explain()


def test_implicit_deny_explains_a_missing_cross_tenant_resource_grant() -> None:
    stranger = "arn:aws:iam::999988887777:user/mallory"
    decision = decide([policy(allow())], principal=stranger)
    assert decision.effect is IMPLICIT
    assert "a resource policy must also allow" in decision.explain()


def test_explain_of_not_action_and_not_resource_misses() -> None:
    document = policy(allow(not_action="orders:Get*", sid="NotGet"),
                      allow(GET, not_resource=ORDER, sid="NotThis"))
    text = decide([document]).explain()
    assert "NotAction excludes" in text
    assert "NotResource excludes" in text


def test_explain_of_a_principal_mismatch() -> None:
    resource_policy = policy(allow(GET, ORDER, principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}))
    text = decide(resource_policy=resource_policy).explain()
    assert f"principal '{ALICE}' is not named" in text


def test_explanation_header_names_the_request() -> None:
    decision = iamguard.evaluate(Request(ALICE, GET, ORDER), identity_policies=[policy(allow())])
    first_line = decision.explain().splitlines()[0]
    assert first_line == f"Allow: {ALICE} -> {GET} on {ORDER}"
    assert repr(decision) == f"<Decision Allow {GET} on {ORDER}>"
