"""WARNING rule for Deny statements that a missing context key switches off (security spec POL-02 c).

A positive operator (`StringEquals`, `Bool`, `IpAddress`, `ForAnyValue:...`) is false when its key
is not in the request context, so a Deny guarded by it does nothing for exactly the requests that
lack the key. That is harmless for keys iamguard fills on every authenticated request, and a
silent fail-open for the rest: `aws:username` is absent for role sessions, `aws:TokenIssueTime`
for long-term keys, `aws:PrincipalTag/x` for principals without the tag, and so on.
"""

from __future__ import annotations

from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.findings import LintFinding, Severity
from iamguard.lint.keys import is_always_present
from iamguard.lint.mfa import MFA_AGE, MFA_PRESENT
from iamguard.policy.model import ConditionEntry
from iamguard.policy.operators import Family, Operator

_CODE = "DENY_SKIPPED_WHEN_KEY_ABSENT"
# The MFA rules give a sharper, SECURITY_WARNING message for these keys, but only for the operator
# family each one judges (Bool on the presence key, Numeric on the age): a Deny that tests either key
# another way (`StringEquals aws:MultiFactorAuthPresent "false"`) is skipped just the same when it is absent.
_OWNED_ELSEWHERE = {MFA_PRESENT: Family.BOOL, MFA_AGE: Family.NUMERIC}


def false_when_absent(operator: Operator) -> bool:
    """False merely because the key is absent, by the engine's own rule
    (`Operator.holds_when_key_missing`); Null tests presence itself, so it never is."""
    return operator.holds_when_key_missing is False


def check_absent_keys(ctx: LintContext) -> Iterator[LintFinding]:
    guarded = _keys_denied_when_absent(ctx)
    for view in ctx.statements:
        if not view.is_deny:
            continue
        for entry in view.statement.conditions:
            key = entry.key_lower
            if _OWNED_ELSEWHERE.get(key) is entry.operator.base.family or key in guarded or is_always_present(key):
                continue
            if false_when_absent(entry.operator):
                yield _finding(view, entry)


def _keys_denied_when_absent(ctx: LintContext) -> frozenset[str]:
    """Keys some Deny in the policy covers with `Null: {key: "true"}`: the author has handled absence."""
    keys: set[str] = set()
    for view in ctx.statements:
        if not view.is_deny:
            continue
        for entry in view.statement.conditions:
            if entry.operator.base.family is Family.NULL and any(str(value).lower() == "true"
                                                                 for value in entry.values):
                keys.add(entry.key_lower)
    return frozenset(keys)


def _finding(view: StatementView, entry: ConditionEntry) -> LintFinding:
    operator = entry.operator
    return LintFinding(
        Severity.WARNING, _CODE, entry.pointer,
        f"{view.label}: {operator.name} is false when {entry.key} is absent, and iamguard does not put that "
        "key in every request context, so this Deny never applies to requests without it; use "
        f"{operator.name}IfExists (deny when the key is absent too), or add a Deny with "
        f"`\"Null\": {{\"{entry.key}\": \"true\"}}`",
    )
