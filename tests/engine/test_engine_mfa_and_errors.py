"""The MFA pitfalls (spec section 11) and fail-closed evaluation (spec point 11).

aws:MultiFactorAuthPresent is absent for long-term keys and false for a session without MFA;
aws:MultiFactorAuthAge exists only when MFA was used. A condition that cannot be evaluated makes
a Deny apply and an Allow not apply, and the decision names the problem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.engine.support import (
    ALLOW,
    EXPLICIT,
    IMPLICIT,
    ORDER,
    allow,
    decide,
    deny,
    effect_of,
    policy,
)

LONG_TERM_KEY: dict[str, Any] = {}  # no MFA keys at all
SESSION_WITHOUT_MFA = {"aws:MultiFactorAuthPresent": "false"}
SESSION_WITH_FRESH_MFA = {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "120"}
SESSION_WITH_STALE_MFA = {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "7200"}


@pytest.mark.parametrize(
    ("statements", "context", "expected"),
    [
        # Deny + Bool false lets long-term keys through: the key is absent, Bool is false.
        ((allow(), deny(condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})), LONG_TERM_KEY, ALLOW),
        ((allow(), deny(condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})), SESSION_WITHOUT_MFA, EXPLICIT),
        ((allow(), deny(condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})), SESSION_WITH_FRESH_MFA, ALLOW),
        # The recommended Deny + BoolIfExists false blocks both.
        ((allow(), deny(condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})), LONG_TERM_KEY,
         EXPLICIT),
        ((allow(), deny(condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})), SESSION_WITHOUT_MFA,
         EXPLICIT),
        ((allow(), deny(condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})),
         SESSION_WITH_FRESH_MFA, ALLOW),
        # Allow + BoolIfExists true lets long-term keys in; Allow + Bool true does not.
        ((allow(condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}),), LONG_TERM_KEY, ALLOW),
        ((allow(condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}),), SESSION_WITHOUT_MFA, IMPLICIT),
        ((allow(condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),), LONG_TERM_KEY, IMPLICIT),
        ((allow(condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),), SESSION_WITHOUT_MFA, IMPLICIT),
        ((allow(condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),), SESSION_WITH_FRESH_MFA, ALLOW),
        # Allow + Null false admits any temporary credentials, MFA or not.
        ((allow(condition={"Null": {"aws:MultiFactorAuthPresent": "false"}}),), SESSION_WITHOUT_MFA, ALLOW),
        ((allow(condition={"Null": {"aws:MultiFactorAuthPresent": "false"}}),), LONG_TERM_KEY, IMPLICIT),
        # Freshness with an Allow: NumericLessThan fails when MFA was never used.
        ((allow(condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),), LONG_TERM_KEY, IMPLICIT),
        ((allow(condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),), SESSION_WITHOUT_MFA, IMPLICIT),
        ((allow(condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),), SESSION_WITH_FRESH_MFA, ALLOW),
        ((allow(condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),), SESSION_WITH_STALE_MFA,
         IMPLICIT),
        # Freshness with a Deny: plain NumericGreaterThan lets "never did MFA" slip through...
        ((allow(), deny(condition={"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}})), LONG_TERM_KEY,
         ALLOW),
        ((allow(), deny(condition={"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}})),
         SESSION_WITH_STALE_MFA, EXPLICIT),
        # ...the IfExists form does not.
        ((allow(), deny(condition={"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "3600"}})),
         LONG_TERM_KEY, EXPLICIT),
        ((allow(), deny(condition={"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "3600"}})),
         SESSION_WITH_STALE_MFA, EXPLICIT),
        ((allow(), deny(condition={"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "3600"}})),
         SESSION_WITH_FRESH_MFA, ALLOW),
        # The S3 example pairs the plain deny with a Null: true deny.
        ((allow(), deny(condition={"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}),
          deny(condition={"Null": {"aws:MultiFactorAuthAge": "true"}})), LONG_TERM_KEY, EXPLICIT),
        ((allow(), deny(condition={"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}),
          deny(condition={"Null": {"aws:MultiFactorAuthAge": "true"}})), SESSION_WITH_FRESH_MFA, ALLOW),
    ],
)
def test_mfa_pitfalls(statements: tuple[dict[str, Any], ...], context: dict[str, Any], expected: Any) -> None:
    assert effect_of(*statements, context=context) is expected


def test_mfa_key_names_ignore_case() -> None:
    statements = (allow(), deny(condition={"BoolIfExists": {"aws:multifactorauthpresent": "false"}}))
    assert effect_of(*statements, context={"AWS:MultiFactorAuthPresent": True}) is ALLOW
    assert effect_of(*statements, context={"AWS:MultiFactorAuthPresent": False}) is EXPLICIT


# --- fail closed -------------------------------------------------------------------------------

# (condition, context) pairs that cannot be evaluated
UNEVALUABLE = [
    pytest.param({"NumericLessThan": {"app:size": "10"}}, {"app:size": "abc"}, "app:size", id="numeric-text"),
    pytest.param({"NumericEquals": {"app:size": "10"}}, {"app:size": float("nan")}, "app:size", id="numeric-nan"),
    pytest.param({"NumericEquals": {"app:size": "10"}}, {"app:size": True}, "app:size", id="numeric-bool"),
    pytest.param({"StringEquals": {"app:team": "blue"}}, {"app:team": ["blue", "red"]}, "app:team",
                 id="plain-operator-on-multivalued-key"),
    pytest.param({"StringNotEquals": {"app:team": "blue"}}, {"app:team": ["green", "red"]}, "app:team",
                 id="plain-negated-operator-on-multivalued-key"),
    pytest.param({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                 {"aws:CurrentTime": datetime(2024, 1, 1, 12, 0)}, "aws:currenttime", id="naive-datetime"),
    pytest.param({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                 {"aws:CurrentTime": "2024-01-01T12:00:00"}, "aws:currenttime", id="date-without-zone"),
    pytest.param({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                 {"aws:CurrentTime": "yesterday"}, "aws:currenttime", id="date-text"),
    pytest.param({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "yes"},
                 "aws:securetransport", id="bool-text"),
    pytest.param({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.0.0.300"},
                 "aws:sourceip", id="ip-malformed"),
    pytest.param({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "localhost"},
                 "aws:sourceip", id="not-ip-malformed"),
    pytest.param({"BinaryEquals": {"app:blob": "QQ=="}}, {"app:blob": "not base64!"}, "app:blob",
                 id="binary-malformed"),
    pytest.param({"StringEquals": {"app:team": "blue"}}, {"app:team": object()}, "app:team",
                 id="string-from-an-object"),
]


@pytest.mark.parametrize(("condition", "context", "key"), UNEVALUABLE)
def test_deny_that_cannot_be_evaluated_denies(condition: dict[str, Any], context: dict[str, Any], key: str) -> None:
    decision = decide([policy(allow(), deny(condition=condition, sid="Guard"))], context=context)
    assert decision.effect is EXPLICIT
    assert [ref.sid for ref in decision.statements] == ["Guard"]
    assert len(decision.errors) == 1
    assert key in decision.errors[0].lower()
    assert "statement 1" in decision.errors[0]


@pytest.mark.parametrize(("condition", "context", "key"), UNEVALUABLE)
def test_allow_that_cannot_be_evaluated_does_not_grant(condition: dict[str, Any], context: dict[str, Any],
                                                        key: str) -> None:
    decision = decide([policy(allow(condition=condition))], context=context)
    assert decision.effect is IMPLICIT
    assert len(decision.errors) == 1
    assert key in decision.errors[0].lower()


# A set qualifier makes a multivalued key legal, so only the single-valued rows carry over.
SINGLE_VALUED_UNEVALUABLE = [row for row in UNEVALUABLE if not isinstance(next(iter(row.values[1].values())), list)]


@pytest.mark.parametrize(("condition", "context", "key"), SINGLE_VALUED_UNEVALUABLE)
def test_qualified_or_if_exists_forms_fail_closed_too(condition: dict[str, Any], context: dict[str, Any],
                                                      key: str) -> None:
    ((operator, block),) = condition.items()
    for variant in (f"{operator}IfExists", f"ForAnyValue:{operator}"):
        decision = decide([policy(allow(), deny(condition={variant: block}))], context=context)
        assert decision.effect is EXPLICIT, variant
        assert decision.errors


def test_error_in_a_resource_policy_allow_grants_nothing() -> None:
    document = policy(allow(principal="*", condition={"NumericLessThan": {"app:size": "10"}}))
    decision = decide(resource_policy=document, context={"app:size": "ten"})
    assert decision.effect is IMPLICIT
    assert decision.errors


def test_error_in_a_resource_policy_deny_denies() -> None:
    document = policy(deny(principal="*", condition={"NumericLessThan": {"app:size": "10"}}))
    decision = decide([policy(allow())], resource_policy=document, context={"app:size": "ten"})
    assert decision.effect is EXPLICIT
    assert decision.errors


def test_error_in_a_boundary_allow_means_the_cap_is_not_met() -> None:
    boundary = policy(allow(condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    decision = decide([policy(allow())], boundary=boundary, context={"aws:SourceIp": "somewhere"})
    assert decision.effect is IMPLICIT
    assert decision.errors


def test_error_in_one_allow_does_not_hide_another_allow() -> None:
    statements = (allow(condition={"NumericLessThan": {"app:size": "10"}}), allow("orders:Get*", ORDER))
    assert effect_of(*statements, context={"app:size": "abc"}) is ALLOW


def test_well_formed_values_do_not_report_errors() -> None:
    decision = decide([policy(allow(), deny(condition={"NumericLessThan": {"app:size": "10"}}))],
                      context={"app:size": "12"})
    assert decision.effect is ALLOW
    assert decision.errors == ()
    assert decision.error is None


def test_explain_reports_the_error_of_a_failing_deny() -> None:
    decision = decide([policy(allow(), deny(condition={"NumericLessThan": {"app:size": "10"}}))],
                      context={"app:size": "abc"})
    text = decision.explain()
    assert "fails closed" in text
    assert "'abc' is not a number" in text
