"""MFA step-up (RFC 9470): is a deny only about MFA, and how fresh must the MFA be?

A denied request is offered a step-up when evaluating the same request again, with
`aws:MultiFactorAuthPresent = true` and `aws:MultiFactorAuthAge = 0`, would allow it (spec
MFA-06). Otherwise a step-up could not help and the answer stays 403.

`max_age` is read from the policies: the oldest whole-second MFA age that every
`aws:MultiFactorAuthAge` condition admits, among the statements that match the request's action
and resource (an Allow's `NumericLessThan 300` admits 299, a Deny's `NumericGreaterThan 300`
admits 300). When no statement bounds the age (presence only), the configured default is used.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.decision import Decision
from iamguard.engine.evaluator import PolicySet
from iamguard.policy.operators import Comparison

MFA_PRESENT = "aws:MultiFactorAuthPresent"
MFA_AGE = "aws:MultiFactorAuthAge"
_AGE_LOWER = MFA_AGE.lower()


def with_fresh_mfa(request: Request) -> Request:
    replaced = {MFA_PRESENT.lower(), MFA_AGE.lower()}
    context = {key: value for key, value in request.context.items() if key.lower() not in replaced}
    context[MFA_PRESENT] = True
    context[MFA_AGE] = 0
    return Request(request.principal, request.action, request.resource, context)


def fresh_mfa_would_allow(policy_set: PolicySet, request: Request) -> Decision | None:
    """The decision with a fresh MFA, when it is an Allow; None otherwise."""
    decision = policy_set.evaluate(with_fresh_mfa(request))
    return decision if decision.allowed and decision.error is None else None


def required_max_age(policy_set: PolicySet, request: Request) -> int | None:
    """The tightest MultiFactorAuthAge bound among statements matching action and resource."""
    state = EvaluationState(request, has_boundary=policy_set.boundary.present)
    bound: int | None = None
    for layer in policy_set.layers:
        for entry in layer.entries:
            statement = entry.statement
            ages = [condition for condition in statement.conditions if condition.key == _AGE_LOWER]
            if not ages or not statement.matches_action(request.action_lower):
                continue
            try:
                if not statement.matches_resource(request, state):
                    continue
            except Exception:  # a statement we cannot match tells us nothing about age
                continue
            for condition in ages:
                comparison = condition.entry.operator.base.comparison
                for value in condition.entry.values:
                    try:
                        number = Decimal(str(value))
                    except (InvalidOperation, ValueError):
                        continue
                    if not number.is_finite() or number < 0:
                        continue
                    oldest = _oldest_admitted(number, comparison, statement.is_deny)
                    if bound is None or oldest < bound:
                        bound = oldest
    if bound is None:
        return None
    return max(0, bound)


def _oldest_admitted(number: Decimal, comparison: Comparison, deny: bool) -> int:
    """The oldest whole-second MFA age a condition comparing against `number` lets through: an
    Allow needs the condition to hold, a Deny needs it not to."""
    if comparison is (Comparison.GREATER_EQUAL if deny else Comparison.LESS):
        return math.ceil(number) - 1  # strictly below the number
    return math.floor(number)  # up to the number (LessThanEquals; a Deny's GreaterThan; the rest)
