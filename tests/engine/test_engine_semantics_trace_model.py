"""Traceability tests for the decision model, the document grammar and same-tenant resource
policies (IAM semantics checklist, rules 1-27): one test per part of a rule that no earlier test
proved in full. Each test is named after its rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import pytest

import iamguard
from iamguard import Effect, PolicyError
from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.store.memory import MemoryStore
from tests.engine.support import (
    ACCOUNT,
    ALICE,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    ROLE,
    SERVICE,
    SESSION,
    V2008,
    V2012,
    allow,
    decide,
    deny,
    policy,
)

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
FEDERATED_USER = f"arn:aws:sts::{ACCOUNT}:federated-user/carol"
EVERYTHING = policy(allow())
ONLY_BILLING = policy(allow("billing:*"))


# --- rule 2: default deny, and no root-user bypass --------------------------------------------


@pytest.mark.parametrize(
    ("identity", "resource_policy", "expected"),
    [
        ([], None, IMPLICIT),  # nothing applies: implicit deny, even for the tenant's root ARN
        ([ONLY_BILLING], None, IMPLICIT),
        # Naming the account in a resource policy only delegates to identity policies.
        ([], policy(allow(GET, ORDER, principal={"AWS": ACCOUNT})), IMPLICIT),
        ([], policy(allow(GET, ORDER, principal={"AWS": ROOT})), IMPLICIT),
        ([EVERYTHING], None, ALLOW),  # the root ARN gets what its policies say, no more
        ([EVERYTHING, policy(deny(GET))], None, EXPLICIT),  # and a Deny still binds it
    ],
)
def test_rule_02_the_tenant_root_arn_has_no_bypass(identity: list[Any], resource_policy: Any,
                                                   expected: Effect) -> None:
    assert decide(identity, resource_policy=resource_policy, principal=ROOT).effect is expected


def test_rule_02_the_directory_does_not_authorize_the_tenant_root() -> None:
    directory = _directory()
    decision = directory.authorize(ROOT, GET, ORDER)
    assert decision.effect is EXPLICIT
    assert decision.error is not None and "not an IAM user or role" in decision.error


# --- rule 5: the identity pool of a user ------------------------------------------------------


def _directory() -> Directory:
    store, clock = MemoryStore(), FrozenClock()
    Directory.create_tenant(store, ACCOUNT, name="acme", clock=clock)
    return Directory(store, ACCOUNT, clock=clock)


def _one(effect: str, action: str) -> dict[str, Any]:
    return policy({"Effect": effect, "Action": action, "Resource": "*"})


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("orders:GetOrder", ALLOW),  # from the user's inline policy
        ("orders:ListOrders", ALLOW),  # from a managed policy attached to the user
        ("orders:CreateOrder", ALLOW),  # from a group's inline policy
        ("orders:UpdateOrder", ALLOW),  # from a managed policy attached to a group
        ("orders:CancelOrder", EXPLICIT),  # allowed by the user, denied by a group: the Deny wins
        ("orders:DeleteOrder", IMPLICIT),  # in no policy of the pool
    ],
)
def test_rule_05_user_inline_user_managed_and_group_policies_form_one_pool(action: str, expected: Effect) -> None:
    directory = _directory()
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "Own", policy(
        allow("orders:GetOrder"), allow("orders:CancelOrder")))
    directory.attach_user_policy("alice", directory.create_policy("List", _one("Allow", "orders:ListOrders")).arn)
    directory.create_group("devs")
    directory.add_user_to_group("devs", "alice")
    directory.put_group_policy("devs", "Create", _one("Allow", "orders:CreateOrder"))
    directory.attach_group_policy("devs", directory.create_policy("Update", _one("Allow", "orders:UpdateOrder")).arn)
    directory.create_group("auditors")
    directory.add_user_to_group("auditors", "alice")
    directory.attach_group_policy("auditors", directory.create_policy("NoCancel",
                                                                      _one("Deny", "orders:CancelOrder")).arn)
    assert directory.authorize(user.arn, action, ORDER).effect is expected


# --- rule 11: an error while evaluating fails closed, and says why ---------------------------


class _BrokenZone(tzinfo):
    """A caller's time zone whose offset cannot be computed: reading the value fails with an
    error iamguard does not anticipate (not a ValueError)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("zone data unavailable")

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


BEFORE_2030 = {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}


@pytest.mark.parametrize(
    ("layers", "effect"),
    [
        pytest.param({"identity": [policy(allow(condition=BEFORE_2030))]}, IMPLICIT, id="identity-allow"),
        pytest.param({"identity": [policy(allow(), deny(condition=BEFORE_2030))]}, EXPLICIT, id="identity-deny"),
        pytest.param({"identity": [EVERYTHING], "boundary": policy(allow(condition=BEFORE_2030))}, IMPLICIT,
                     id="boundary"),
        pytest.param({"identity": [EVERYTHING], "session": [policy(allow(condition=BEFORE_2030))]}, IMPLICIT,
                     id="session"),
        pytest.param({"resource_policy": policy(allow(principal="*", condition=BEFORE_2030))}, IMPLICIT,
                     id="resource"),
    ],
)
def test_rule_11_a_value_that_cannot_be_read_fails_its_statement_closed_and_says_why(
        layers: dict[str, Any], effect: str) -> None:
    # iamguard reads a failed condition as failing its own statement (a Deny applies, an Allow does
    # not), whatever the error, so the answer never depends on statement order (rule 4).
    context = {"aws:CurrentTime": datetime(2024, 1, 1, tzinfo=_BrokenZone())}
    decision = decide(layers.get("identity", ()), resource_policy=layers.get("resource_policy"),
                      boundary=layers.get("boundary"), session=layers.get("session"), principal=SESSION,
                      context=context)
    assert decision.effect is effect
    assert not decision.allowed
    assert any("unreadable (RuntimeError)" in error for error in decision.errors)


# --- rule 13: Version, for every kind of policy -----------------------------------------------

KINDS_WITH_RESOURCE = ("identity", "boundary", "session", "resource")
ALL_KINDS = (*KINDS_WITH_RESOURCE, "trust")


def _statement_for(kind: str, **changes: Any) -> dict[str, Any]:
    """A valid statement for `kind`, with some elements replaced (None removes one)."""
    out: dict[str, Any] = {"Effect": "Allow", "Action": GET}
    if kind in ("resource", "trust"):
        out["Principal"] = {"AWS": ALICE}
    if kind != "trust":
        out["Resource"] = "*"
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _codes(source: Any, kind: str) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(source, kind)
    return sorted((finding.pointer, finding.code) for finding in error.value.findings)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("version", [V2012, V2008, None])
def test_rule_13_both_language_versions_and_no_version_are_accepted_in_every_kind(kind: str,
                                                                                   version: str | None) -> None:
    source: dict[str, Any] = {"Statement": [_statement_for(kind)]}
    if version is not None:
        source["Version"] = version
    parsed = iamguard.parse_policy(source, kind)
    assert parsed.document.version == version
    assert parsed.document.variables_enabled is (version == V2012)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("version", ["2012-10-18", "2012-10-17 ", "2012/10/17", "", "latest", None, 20121017])
def test_rule_13_any_other_version_is_refused_in_every_kind(kind: str, version: Any) -> None:
    source = {"Version": version, "Statement": [_statement_for(kind)]}
    assert _codes(source, kind) == [("/Version", "InvalidVersion")]


# --- rule 14: one of Action/NotAction and one of Resource/NotResource, in every kind ----------

ELEMENT_CASES = [
    ({"Action": None}, [("/Statement/0", "MissingElement")]),
    ({"NotAction": "orders:Delete*"}, [("/Statement/0", "ConflictingElements")]),
    ({"Action": None, "NotAction": []}, [("/Statement/0/NotAction", "EmptyList")]),
    ({"Action": []}, [("/Statement/0/Action", "EmptyList")]),
    ({"Resource": None}, [("/Statement/0", "MissingElement")]),
    ({"NotResource": ORDER}, [("/Statement/0", "ConflictingElements")]),
    ({"Resource": None, "NotResource": []}, [("/Statement/0/NotResource", "EmptyList")]),
    ({"Resource": []}, [("/Statement/0/Resource", "EmptyList")]),
]


@pytest.mark.parametrize("kind", KINDS_WITH_RESOURCE)
@pytest.mark.parametrize(("changes", "expected"), ELEMENT_CASES)
def test_rule_14_each_statement_needs_exactly_one_action_and_one_resource_element(
        kind: str, changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    source = {"Version": V2012, "Statement": [_statement_for(kind, **changes)]}
    assert _codes(source, kind) == expected


@pytest.mark.parametrize("kind", KINDS_WITH_RESOURCE)
@pytest.mark.parametrize("pair", [("NotAction", "Resource"), ("Action", "NotResource"), ("NotAction", "NotResource")])
def test_rule_14_the_negated_forms_stand_in_for_the_plain_ones(kind: str, pair: tuple[str, str]) -> None:
    action_element, resource_element = pair
    changes = {"Action": None, "Resource": None, action_element: "orders:Delete*", resource_element: ORDER}
    (parsed,) = iamguard.parse_policy({"Version": V2012, "Statement": [_statement_for(kind, **changes)]},
                                      kind).document.statements
    assert (parsed.not_action, parsed.not_resource) == (action_element == "NotAction",
                                                        resource_element == "NotResource")


# --- rule 21: the rows of the same-tenant grant table no earlier test covered -----------------

STAR_WITH_ARN_CONDITION = policy(allow(GET, ORDER, principal="*",
                                       condition={"ArnEquals": {"aws:PrincipalArn": ROLE}}))


@pytest.mark.parametrize(
    ("identity", "resource_policy", "boundary", "session", "expected"),
    [
        # The account row: delegation, so an identity Allow is needed and the session policy caps it.
        ([policy(allow(GET))], policy(allow(GET, ORDER, principal={"AWS": ACCOUNT})), None, [ONLY_BILLING],
         IMPLICIT),
        ([policy(allow(GET))], policy(allow(GET, ORDER, principal={"AWS": ACCOUNT})), None, [EVERYTHING], ALLOW),
        ([policy(allow(GET))], policy(allow(GET, ORDER, principal={"AWS": ROOT})), EVERYTHING, [ONLY_BILLING],
         IMPLICIT),
        # `*` with an aws:PrincipalArn condition: neither identity, boundary nor session policy caps it.
        ([], STAR_WITH_ARN_CONDITION, ONLY_BILLING, [ONLY_BILLING], ALLOW),
        # The role row: a grant to the role is capped by a session policy even with no boundary.
        ([], policy(allow(GET, ORDER, principal={"AWS": ROLE})), None, [policy(allow(GET))], ALLOW),
        # The session row: no identity policy, no boundary Allow, no session policy Allow needed.
        ([ONLY_BILLING], policy(allow(GET, ORDER, principal={"AWS": SESSION})), ONLY_BILLING, [ONLY_BILLING],
         ALLOW),
        # Explicit denies still win over every row.
        ([], STAR_WITH_ARN_CONDITION, policy(allow(), deny(GET)), None, EXPLICIT),
        ([], policy(allow(GET, ORDER, principal={"AWS": SESSION})), None, [policy(allow(), deny(GET))], EXPLICIT),
    ],
)
def test_rule_21_which_policies_cap_a_same_tenant_resource_grant(
        identity: list[Any], resource_policy: Any, boundary: Any, session: Any, expected: Effect) -> None:
    decision = decide(identity, resource_policy=resource_policy, boundary=boundary, session=session,
                      principal=SESSION, context={"aws:PrincipalArn": ROLE})
    assert decision.effect is expected


# --- rule 27: a service principal never names a user, role or session -------------------------


@pytest.mark.parametrize("principal", [ALICE, ROLE, SESSION, ROOT, FEDERATED_USER])
@pytest.mark.parametrize("service", [SERVICE, ACCOUNT])  # a Service spelled as the account id is still no account
def test_rule_27_a_service_principal_never_matches_an_iam_principal(principal: str, service: str) -> None:
    named = {"Service": service}
    granted = decide(resource_policy=policy(allow(GET, ORDER, principal=named)), principal=principal)
    assert granted.effect is IMPLICIT
    denied = decide([EVERYTHING], resource_policy=policy(deny(GET, ORDER, principal=named)), principal=principal)
    assert denied.effect is ALLOW


def test_rule_27_a_service_principal_does_match_that_service() -> None:
    named = {"Service": SERVICE}
    assert decide(resource_policy=policy(allow(GET, ORDER, principal=named)), principal=SERVICE).effect is ALLOW
    assert decide(resource_policy=policy(allow(GET, ORDER, principal="*"), deny(GET, ORDER, principal=named)),
                  principal=SERVICE).effect is EXPLICIT
