"""Explanations: why a request was allowed or denied, down to the condition and request value.

Explanations are computed from a full trace of every statement, outside the fast path, and only
when someone asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamguard.engine.conditions import ConditionOutcome
from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.decision import Decision, Effect, StatementRef
from iamguard.errors import EvaluationError, printable
from iamguard.policy.model import PolicyKind, Statement

if TYPE_CHECKING:
    from iamguard.engine.evaluator import PolicySet

_KIND_NAMES = {
    PolicyKind.IDENTITY: "identity policy",
    PolicyKind.RESOURCE: "resource policy",
    PolicyKind.BOUNDARY: "permissions boundary",
    PolicyKind.SESSION: "session policy",
    PolicyKind.TRUST: "trust policy",
}


@dataclass(frozen=True)
class StatementTrace:
    ref: StatementRef
    statement: Statement
    action_matched: bool
    resource_matched: bool
    principal_matched: bool | None  # None: the statement names no principal
    conditions: tuple[ConditionOutcome, ...]
    error: str | None = None

    @property
    def applies(self) -> bool:
        # Conditions are traced even for statements whose action, resource or principal does not
        # match; their errors make a Deny apply only when the rest matches, as in the evaluator.
        matched = self.action_matched and self.resource_matched and self.principal_matched is not False
        if self.error is not None:
            return matched and self.ref.effect.value == "Deny"
        return matched and all(outcome.holds for outcome in self.conditions)

    @property
    def progress(self) -> int:
        """How far the statement got: used to show the closest misses first."""
        score = 0
        for passed in (self.action_matched, self.resource_matched, self.principal_matched is not False):
            if not passed:
                break
            score += 1
        if score == 3:
            score += sum(outcome.holds for outcome in self.conditions)
        return score


@dataclass(frozen=True)
class Trace:
    statements: tuple[StatementTrace, ...]
    missing_keys: frozenset[str]


def trace(policy_set: PolicySet, request: Request) -> Trace:
    missing: set[str] = set()
    traces: list[StatementTrace] = []
    for layer in policy_set.layers:
        for entry in layer.entries:
            statement = entry.statement
            # A state per statement, so keys looked up by statements that cannot apply to this
            # action are not reported as missing.
            state = EvaluationState(request, policy_set.boundary.present)
            action_ok = statement.matches_action(request.action_lower)
            error = None
            try:
                resource_ok = statement.matches_resource(request, state)
                principal_ok = None if statement.principal is None else statement.grant_for(state) is not None
            except EvaluationError as exc:  # pragma: no cover - matching resources does not coerce values
                # Counted as matching, so that the error applies a Deny (fail closed) and not an Allow.
                resource_ok, principal_ok, error = True, None, str(exc)
            outcomes = tuple(condition.outcome(state) for condition in statement.conditions)
            error = error or next((outcome.error for outcome in outcomes if outcome.error), None)
            if action_ok:
                missing |= state.missing
            traces.append(
                StatementTrace(entry.ref, statement.statement, action_ok, resource_ok, principal_ok, outcomes, error)
            )
    return Trace(tuple(traces), frozenset(missing))


def _show(values: Any) -> str:
    if values is None:
        return "(absent)"
    shown = [repr(value) for value in values]
    return shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"


def _condition_line(outcome: ConditionOutcome) -> str:
    entry = outcome.entry
    policy_values = ", ".join(repr(value) for value in entry.values)
    verdict = "holds" if outcome.holds else "fails"
    shown = _show(outcome.request_values)
    text = f"{entry.operator.name} {entry.key} [{policy_values}] {verdict}: request value {shown}"
    if outcome.error:
        text += f" (error: {outcome.error})"
    elif outcome.request_values is None and not outcome.holds:
        text += " (the request lacks this key)"
    return text


def _why_not(item: StatementTrace, request: Request) -> list[str]:
    source = item.statement
    if not item.action_matched:
        element = "NotAction excludes" if source.not_action else "Action covers only"
        return [f"action {request.action!r} does not match: {element} {list(source.actions)}"]
    if not item.resource_matched:
        element = "NotResource excludes" if source.not_resource else "Resource covers only"
        return [f"resource {request.resource!r} does not match: {element} {list(source.resources)}"]
    if item.principal_matched is False:
        return [f"principal {request.principal!r} is not named by this statement"]
    return [_condition_line(outcome) for outcome in item.conditions if not outcome.holds]


def _describe(ref: StatementRef) -> str:
    return f"{_KIND_NAMES.get(ref.kind, ref.kind.value)} {ref}"


def render(decision: Decision) -> str:
    request = decision.request
    lines = [
        f"{decision.effect.value}: {request.principal} -> {request.action} on {request.resource}",
    ]
    if decision.error:
        lines.append(f"  evaluation failed, so the request is denied: {decision.error}")
    current = decision.trace()
    by_ref = {item.ref: item for item in current.statements} if current else {}
    if decision.effect is Effect.ALLOW:
        lines.append("  allowed by:")
        for ref in decision.statements:
            lines.append(f"    - {_describe(ref)}")
    elif decision.effect is Effect.EXPLICIT_DENY and decision.statements:
        lines.append("  explicitly denied by:")
        for ref in decision.statements:
            lines.append(f"    - {_describe(ref)}")
            item = by_ref.get(ref)
            for outcome in item.conditions if item else ():
                lines.append(f"        {_condition_line(outcome)}")
            if item and item.error:
                lines.append(f"        a condition could not be evaluated, and a Deny fails closed: {item.error}")
    elif decision.effect is Effect.IMPLICIT_DENY:
        lines.extend(_implicit_reasons(decision, current))
    for error in decision.errors:
        lines.append(f"  note: {error} (treated as not matching for Allow, matching for Deny)")
    if current and current.missing_keys:
        lines.append("  context keys the policies looked for but the request lacks: "
                     + ", ".join(sorted(current.missing_keys)))
    # The principal, action, resource and policy names are shown as given: a newline in one of
    # them must not forge a line of the explanation (or of a log).
    return "\n".join(printable(line) for line in lines)


def _implicit_reasons(decision: Decision, current: Trace | None) -> list[str]:
    request = decision.request
    if current is None or not current.statements:
        return ["  no policy applies to this request: nothing allows it (implicit deny)"]
    allows = [item for item in current.statements if item.ref.effect.value == "Allow"]
    applying = {kind: [item for item in allows if item.ref.kind is kind and item.applies] for kind in PolicyKind}
    present = {item.ref.kind for item in current.statements}
    lines = ["  no statement allows this request (implicit deny)."]
    if applying[PolicyKind.IDENTITY]:
        first = applying[PolicyKind.IDENTITY][0].ref
        if PolicyKind.BOUNDARY in present and not applying[PolicyKind.BOUNDARY]:
            lines.append(f"  {_describe(first)} allows it, but the permissions boundary does not.")
        if PolicyKind.SESSION in present and not applying[PolicyKind.SESSION]:
            lines.append(f"  {_describe(first)} allows it, but no session policy does.")
        principal, resource_account = request.principal_name.account, request.resource_account
        if principal and resource_account and principal != resource_account:
            lines.append(f"  the principal is in tenant {principal!r} and the resource in {resource_account!r}: "
                         "a resource policy must also allow the request.")
    if applying[PolicyKind.RESOURCE] and not applying[PolicyKind.IDENTITY]:
        lines.append("  the resource policy names the principal only in a way that still needs an identity "
                     "policy (or the boundary/session policy does not allow it).")
    misses = sorted((item for item in allows if not item.applies), key=lambda item: -item.progress)[:5]
    if misses:
        lines.append("  closest Allow statements and why they did not apply:")
    for item in misses:
        lines.append(f"    - {_describe(item.ref)}")
        for reason in _why_not(item, request):
            lines.append(f"        {reason}")
    return lines
