"""SECURITY_WARNING rules for MFA conditions that fail open (IAM semantics 64-67, security spec POL-02).

`aws:MultiFactorAuthPresent` is absent for long-term access keys and `aws:MultiFactorAuthAge`
is absent whenever MFA was not used, so a plain operator on either key quietly skips exactly the
requests the condition was written to stop.
"""

from __future__ import annotations

from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.model import ConditionEntry
from iamguard.policy.operators import Comparison, Family

_S = Severity.SECURITY_WARNING
MFA_PRESENT = "aws:multifactorauthpresent"
MFA_AGE = "aws:multifactorauthage"


def _has_value(entry: ConditionEntry, wanted: bool) -> bool:
    return any(str(value).lower() == str(wanted).lower() for value in entry.values)


def check_mfa(ctx: LintContext) -> Iterator[LintFinding]:
    no_mfa_denied = any(_denies_missing_mfa(view) for view in ctx.statements)
    for view in ctx.statements:
        for entry in view.statement.conditions:
            if entry.key_lower == MFA_PRESENT:
                yield from _presence(view, entry)
            elif entry.key_lower == MFA_AGE:
                yield from _age(view, entry, no_mfa_denied)


def _presence(view: StatementView, entry: ConditionEntry) -> Iterator[LintFinding]:
    operator = entry.operator
    family = operator.base.family
    if view.is_deny and family is Family.BOOL and not operator.if_exists and _has_value(entry, False):
        yield LintFinding(
            _S, "MFA_DENY_USES_BOOL", entry.pointer,
            f"{view.label}: aws:MultiFactorAuthPresent is absent for long-term access keys, so this Deny "
            "never applies to them; use BoolIfExists instead of Bool",
        )
    elif view.is_allow and family is Family.BOOL and operator.if_exists and _has_value(entry, True):
        yield LintFinding(
            _S, "MFA_ALLOW_USES_IF_EXISTS", entry.pointer,
            f"{view.label}: BoolIfExists is true when aws:MultiFactorAuthPresent is absent, so this Allow "
            "admits long-term access keys without MFA; use Bool",
        )
    elif view.is_allow and family is Family.NULL and _has_value(entry, False) and not any(
        other.operator.base.family is Family.BOOL and not other.operator.if_exists and _has_value(other, True)
        for other in view.conditions_on(MFA_PRESENT)
    ):
        yield LintFinding(
            _S, "MFA_PRESENCE_CHECKED_WITH_NULL", entry.pointer,
            f"{view.label}: `Null aws:MultiFactorAuthPresent false` only says the key exists, which is true "
            "for every temporary session, with or without MFA; test `Bool aws:MultiFactorAuthPresent true`",
        )


def _denies_missing_mfa(view: StatementView) -> bool:
    """A Deny that fires when MFA was not used: `Null age true` or `BoolIfExists present false`."""
    if not view.is_deny:
        return False
    for entry in view.statement.conditions:
        family = entry.operator.base.family
        if entry.key_lower == MFA_AGE and family is Family.NULL and _has_value(entry, True):
            return True
        if (entry.key_lower == MFA_PRESENT and family is Family.BOOL and entry.operator.if_exists
                and _has_value(entry, False)):
            return True
    return False


def _age(view: StatementView, entry: ConditionEntry, no_mfa_denied: bool) -> Iterator[LintFinding]:
    operator = entry.operator
    if operator.base.family is not Family.NUMERIC:
        return
    comparison = operator.base.comparison
    too_old = comparison in (Comparison.GREATER, Comparison.GREATER_EQUAL)
    fresh_enough = comparison in (Comparison.LESS, Comparison.LESS_EQUAL)
    if view.is_deny and too_old and not operator.if_exists and not no_mfa_denied:
        yield LintFinding(
            _S, "MFA_AGE_ALLOWS_NO_MFA", entry.pointer,
            f"{view.label}: aws:MultiFactorAuthAge is absent when MFA was not used at all, so this Deny lets "
            f"those requests through; use {operator.base.name}IfExists, or add a Deny with "
            "`Null: {\"aws:MultiFactorAuthAge\": \"true\"}`",
        )
    elif view.is_allow and fresh_enough and operator.if_exists:
        yield LintFinding(
            _S, "MFA_AGE_ALLOWS_NO_MFA", entry.pointer,
            f"{view.label}: {operator.name} is true when aws:MultiFactorAuthAge is absent, so this Allow "
            f"admits requests made without MFA; use {operator.base.name} without IfExists",
        )
