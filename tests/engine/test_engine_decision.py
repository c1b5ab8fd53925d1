"""IAM's decision logic within one tenant and across tenants (spec points 1-27).

Identity policies are one pool; a same-tenant resource policy may grant on its own depending on
whom it names; boundaries and session policies only cap; an explicit deny anywhere wins.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.support import (
    ACCOUNT,
    ALICE,
    ALLOW,
    BOB,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    OTHER_ACCOUNT,
    OTHER_ROLE_SESSION,
    OTHER_SESSION,
    ROLE,
    SERVICE,
    SESSION,
    STRANGER,
    allow,
    decide,
    deny,
    policy,
)

EVERYTHING = policy(allow())
ONLY_BILLING = policy(allow("billing:*"))


def resource_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return policy(*statements)


def grant(principal: Any) -> dict[str, Any]:
    return resource_policy(allow(GET, ORDER, principal=principal))


# --- outcomes, default deny, unions ---------------------------------------------------------


def test_no_policy_at_all_is_an_implicit_deny() -> None:
    decision = decide()
    assert decision.effect is IMPLICIT
    assert not decision.allowed
    assert not decision


def test_a_deny_that_does_not_match_grants_nothing() -> None:
    assert decide([policy(deny("orders:DeleteOrder"))]).effect is IMPLICIT


def test_explicit_deny_wins_over_an_allow_in_the_same_policy_whatever_the_order() -> None:
    assert decide([policy(allow(), deny(GET))]).effect is EXPLICIT
    assert decide([policy(deny(GET), allow())]).effect is EXPLICIT


def test_identity_policies_are_one_pool() -> None:
    assert decide([ONLY_BILLING, policy(allow(GET))]).effect is ALLOW
    assert decide([ONLY_BILLING, policy(allow("orders:List*"))]).effect is IMPLICIT
    assert decide([policy(allow(GET)), policy(deny(GET))]).effect is EXPLICIT


def test_statement_as_a_single_object_and_strings_instead_of_lists() -> None:
    document = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": GET, "Resource": ORDER}}
    assert decide([document]).effect is ALLOW
    assert decide([document], action="orders:DeleteOrder").effect is IMPLICIT


@pytest.mark.parametrize(
    "where",
    ["identity", "resource", "boundary", "session"],
)
def test_a_matching_deny_in_any_policy_type_is_an_explicit_deny(where: str) -> None:
    documents: dict[str, Any] = {
        "identity": policy(allow()), "resource": resource_policy(allow(GET, ORDER, principal="*")),
        "boundary": policy(allow()), "session": policy(allow()),
    }
    documents[where]["Statement"].append(deny(GET, ORDER, **({"principal": "*"} if where == "resource" else {})))
    decision = decide([documents["identity"]], resource_policy=documents["resource"],
                      boundary=documents["boundary"], session=[documents["session"]], principal=SESSION)
    assert decision.effect is EXPLICIT
    assert [ref.kind.value for ref in decision.statements] == [where]


# --- boundaries and session policies only cap ---------------------------------------------


@pytest.mark.parametrize(
    ("identity", "boundary", "session", "expected"),
    [
        ([EVERYTHING], None, None, ALLOW),
        ([], EVERYTHING, None, IMPLICIT),  # a boundary never grants by itself
        ([], None, [EVERYTHING], IMPLICIT),  # nor does a session policy
        ([], EVERYTHING, [EVERYTHING], IMPLICIT),
        ([EVERYTHING], EVERYTHING, None, ALLOW),
        ([EVERYTHING], ONLY_BILLING, None, IMPLICIT),
        ([EVERYTHING], None, [EVERYTHING], ALLOW),
        ([EVERYTHING], None, [ONLY_BILLING], IMPLICIT),
        ([EVERYTHING], None, [], ALLOW),  # an empty list means no session policy
        ([EVERYTHING], EVERYTHING, [EVERYTHING], ALLOW),  # all three intersect
        ([EVERYTHING], ONLY_BILLING, [EVERYTHING], IMPLICIT),
        ([EVERYTHING], EVERYTHING, [ONLY_BILLING], IMPLICIT),
        ([ONLY_BILLING], EVERYTHING, [EVERYTHING], IMPLICIT),
        ([EVERYTHING], None, [ONLY_BILLING, policy(allow(GET))], ALLOW),  # session policies are one pool
        ([EVERYTHING], policy(allow(GET, "arn:app:orders:*:*:order/*")), None, ALLOW),
        ([EVERYTHING], policy(allow(GET, "arn:app:orders:*:*:invoice/*")), None, IMPLICIT),
    ],
)
def test_boundary_and_session_policies_only_cap(
    identity: list[Any], boundary: Any, session: Any, expected: Any
) -> None:
    assert decide(identity, boundary=boundary, session=session, principal=SESSION).effect is expected


def test_allow_decision_names_the_identity_statement_and_every_cap() -> None:
    decision = decide([policy(allow(sid="Id"))], boundary=policy(allow(sid="Cap")),
                      session=[policy(allow(sid="Sess"))], principal=SESSION)
    assert decision.effect is ALLOW
    assert [(ref.kind.value, ref.sid) for ref in decision.statements] == [
        ("identity", "Id"), ("boundary", "Cap"), ("session", "Sess"),
    ]


# --- Principal matching in resource policies ----------------------------------------------


@pytest.mark.parametrize(
    ("named", "principal", "expected"),
    [
        ({"AWS": ALICE}, ALICE, ALLOW),
        ({"AWS": ALICE}, BOB, IMPLICIT),  # not named: the statement does not apply (no deny)
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/Alice"}, ALICE, IMPLICIT),  # user names are case-sensitive
        ({"AWS": [BOB, ALICE]}, ALICE, ALLOW),
        ({"AWS": ROLE}, SESSION, ALLOW),  # a role ARN covers all of its sessions
        ({"AWS": ROLE}, OTHER_SESSION, ALLOW),
        ({"AWS": ROLE}, OTHER_ROLE_SESSION, IMPLICIT),
        ({"AWS": ROLE}, ALICE, IMPLICIT),
        ({"AWS": SESSION}, SESSION, ALLOW),  # a session ARN covers just that session
        ({"AWS": SESSION}, OTHER_SESSION, IMPLICIT),
        ("*", ALICE, ALLOW),
        ({"AWS": "*"}, ALICE, ALLOW),
        ("*", SESSION, ALLOW),
        ({"AWS": ACCOUNT}, ALICE, IMPLICIT),  # the account only delegates: identity Allow needed
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, IMPLICIT),
        ({"Service": SERVICE}, ALICE, IMPLICIT),  # a service principal never matches a user
        ({"Service": SERVICE}, SESSION, IMPLICIT),
        ({"Service": SERVICE}, SERVICE, ALLOW),
        ({"AWS": ALICE}, SERVICE, IMPLICIT),
    ],
)
def test_resource_policy_alone(named: Any, principal: str, expected: Any) -> None:
    assert decide(resource_policy=grant(named), principal=principal).effect is expected


@pytest.mark.parametrize("named", [{"AWS": ACCOUNT}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}])
def test_account_principal_delegates_to_identity_policies(named: Any) -> None:
    assert decide([policy(allow(GET))], resource_policy=grant(named)).effect is ALLOW
    assert decide([ONLY_BILLING], resource_policy=grant(named)).effect is IMPLICIT
    # Delegation still goes through the boundary.
    assert decide([policy(allow(GET))], resource_policy=grant(named), boundary=ONLY_BILLING).effect is IMPLICIT


def test_principal_mismatch_on_an_allow_is_not_a_deny() -> None:
    # Bob is not named by the resource policy, but his identity policy suffices in his own tenant.
    assert decide([policy(allow(GET))], resource_policy=grant({"AWS": ALICE}), principal=BOB).effect is ALLOW


def test_resource_policy_deny_naming_the_account_applies_to_its_members() -> None:
    document = resource_policy(allow(principal="*"), deny(GET, principal={"AWS": ACCOUNT}))
    assert decide([EVERYTHING], resource_policy=document).effect is EXPLICIT
    assert decide([EVERYTHING], resource_policy=document, principal=SESSION).effect is EXPLICIT
    assert decide([EVERYTHING], resource_policy=document, principal=STRANGER).effect is ALLOW


def test_resource_policy_deny_naming_a_role_applies_to_its_sessions() -> None:
    document = resource_policy(deny(GET, principal={"AWS": ROLE}))
    assert decide([EVERYTHING], resource_policy=document, principal=SESSION).effect is EXPLICIT
    assert decide([EVERYTHING], resource_policy=document, principal=ALICE).effect is ALLOW


def test_resource_policy_statement_still_needs_action_and_resource() -> None:
    document = resource_policy(allow(GET, f"arn:app:orders:us-east-1:{ACCOUNT}:order/7", principal="*"))
    assert decide(resource_policy=document).effect is IMPLICIT
    assert decide(resource_policy=document, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/7").effect is ALLOW
    assert decide(resource_policy=document, action="orders:DeleteOrder",
                  resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/7").effect is IMPLICIT


# --- NotPrincipal ---------------------------------------------------------------------------


def test_not_principal_with_deny_denies_everyone_not_listed() -> None:
    # AWS may check the account before the user, so the exemption needs the whole chain: the
    # user's ARN and its account (reference_policies_elements_notprincipal). Lead's decision.
    document = resource_policy(allow(principal="*"), deny(GET, not_principal={"AWS": [ALICE, ACCOUNT]}))
    assert decide(resource_policy=document, principal=ALICE).effect is ALLOW
    only_user = resource_policy(allow(principal="*"), deny(GET, not_principal={"AWS": ALICE}))
    assert decide(resource_policy=only_user, principal=ALICE).effect is EXPLICIT
    assert decide(resource_policy=document, principal=BOB).effect is EXPLICIT
    assert decide([EVERYTHING], resource_policy=document, principal=BOB).effect is EXPLICIT
    # The Deny covers only its own action.
    assert decide(resource_policy=document, principal=BOB, action="orders:ListOrders").effect is ALLOW


def test_not_principal_listing_role_and_session_exempts_that_session() -> None:
    document = resource_policy(allow(principal="*"), deny(GET, not_principal={"AWS": [ROLE, SESSION, ACCOUNT]}))
    assert decide(resource_policy=document, principal=SESSION).effect is ALLOW
    without_role = resource_policy(allow(principal="*"), deny(GET, not_principal={"AWS": [SESSION, ACCOUNT]}))
    assert decide(resource_policy=without_role, principal=SESSION).effect is EXPLICIT
    assert decide(resource_policy=document, principal=OTHER_ROLE_SESSION).effect is EXPLICIT


def test_not_principal_deny_always_denies_a_principal_with_a_boundary() -> None:
    document = resource_policy(allow(principal="*"), deny(GET, not_principal={"AWS": [ALICE, ACCOUNT]}))
    assert decide([EVERYTHING], resource_policy=document, boundary=EVERYTHING).effect is EXPLICIT
    assert decide([EVERYTHING], resource_policy=document).effect is ALLOW


# --- the same-tenant grant table (spec point 21) ----------------------------------------------


@pytest.mark.parametrize(
    ("named", "principal", "boundary", "session", "expected"),
    [
        # A user ARN grant is limited by neither the identity policies nor the boundary.
        ({"AWS": ALICE}, ALICE, None, None, ALLOW),
        ({"AWS": ALICE}, ALICE, ONLY_BILLING, None, ALLOW),
        # A role ARN grant reaches the role's sessions but is capped by boundary and session policy.
        ({"AWS": ROLE}, SESSION, None, None, ALLOW),
        ({"AWS": ROLE}, SESSION, ONLY_BILLING, None, IMPLICIT),
        ({"AWS": ROLE}, SESSION, EVERYTHING, None, ALLOW),
        ({"AWS": ROLE}, SESSION, None, [ONLY_BILLING], IMPLICIT),
        ({"AWS": ROLE}, SESSION, None, [EVERYTHING], ALLOW),
        ({"AWS": ROLE}, SESSION, EVERYTHING, [ONLY_BILLING], IMPLICIT),
        # A session ARN grant is capped by neither (AWS docs; IAMSIM disagrees on the session policy).
        ({"AWS": SESSION}, SESSION, ONLY_BILLING, None, ALLOW),
        ({"AWS": SESSION}, SESSION, None, [ONLY_BILLING], ALLOW),
        # `*` is not capped either.
        ("*", SESSION, ONLY_BILLING, [ONLY_BILLING], ALLOW),
        ({"AWS": "*"}, ALICE, ONLY_BILLING, None, ALLOW),
        # The account is delegation only: without an identity Allow there is nothing to delegate to.
        ({"AWS": ACCOUNT}, SESSION, EVERYTHING, [EVERYTHING], IMPLICIT),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, EVERYTHING, None, IMPLICIT),
    ],
)
def test_same_tenant_resource_grant_without_identity_allow(
    named: Any, principal: str, boundary: Any, session: Any, expected: Any
) -> None:
    decision = decide(resource_policy=grant(named), boundary=boundary, session=session, principal=principal)
    assert decision.effect is expected


def test_resource_grant_with_star_and_a_principal_arn_condition() -> None:
    document = resource_policy(
        allow(GET, ORDER, principal="*", condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/a*"}})
    )
    assert decide(resource_policy=document, boundary=ONLY_BILLING,
                  context={"aws:PrincipalArn": ALICE}).effect is ALLOW
    assert decide(resource_policy=document, principal=BOB, context={"aws:PrincipalArn": BOB}).effect is IMPLICIT


def test_explicit_deny_in_identity_policy_beats_a_resource_grant() -> None:
    assert decide([policy(deny(GET))], resource_policy=grant({"AWS": ALICE})).effect is EXPLICIT
    assert decide(session=[policy(deny(GET))], resource_policy=grant("*"), principal=SESSION).effect is EXPLICIT
    assert decide(boundary=policy(deny(GET)), resource_policy=grant({"AWS": ALICE})).effect is EXPLICIT


def test_resource_grant_decision_names_the_resource_statement() -> None:
    document = resource_policy(allow(GET, ORDER, principal={"AWS": ALICE}, sid="ReadOrder"))
    decision = decide(resource_policy=document)
    assert [(ref.kind.value, ref.sid) for ref in decision.statements] == [("resource", "ReadOrder")]


# --- another tenant's principal needs both sides ----------------------------------------------


@pytest.mark.parametrize(
    ("identity", "resource_grant", "expected"),
    [
        ([EVERYTHING], None, IMPLICIT),
        ([], {"AWS": STRANGER}, IMPLICIT),
        ([], "*", IMPLICIT),
        ([EVERYTHING], {"AWS": STRANGER}, ALLOW),
        ([EVERYTHING], {"AWS": OTHER_ACCOUNT}, ALLOW),
        ([EVERYTHING], "*", ALLOW),
        ([EVERYTHING], {"AWS": ALICE}, IMPLICIT),  # names someone else
        ([ONLY_BILLING], {"AWS": STRANGER}, IMPLICIT),
    ],
)
def test_cross_tenant_needs_identity_and_resource_policy(identity: list[Any], resource_grant: Any,
                                                         expected: Any) -> None:
    document = grant(resource_grant) if resource_grant is not None else None
    assert decide(identity, resource_policy=document, principal=STRANGER).effect is expected


def test_cross_tenant_identity_allow_is_still_capped_by_the_boundary() -> None:
    document = grant({"AWS": STRANGER})
    assert decide([EVERYTHING], resource_policy=document, boundary=ONLY_BILLING, principal=STRANGER).effect \
        is IMPLICIT


def test_resource_without_an_account_belongs_to_the_caller_tenant() -> None:
    bucket = "arn:aws:s3:::reports/2024.csv"
    assert decide([policy(allow("s3:GetObject", "arn:aws:s3:::reports/*"))], action="s3:GetObject",
                  resource=bucket).effect is ALLOW
