"""The engines must agree: a benchmark of engines that decide differently measures nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.engines import Outcome
from bench.workload import AccessRequest, Workload

_SHOWN = 20


class CrossCheckError(RuntimeError):
    """Raised when engines disagree or report evaluation errors; the message lists them."""


@dataclass(frozen=True)
class Agreement:
    by_all: int  # requests that every engine decided (slow engines may stop early on their budget)
    by_two_or_more: int  # requests compared between at least two engines
    allowed: int  # of the requests every engine decided, how many were allowed


def _describe(workload: Workload, request: AccessRequest) -> str:
    user = workload.user_by_id[request.user]
    text = f"{user.arn} {request.action} {request.resource} (roles {', '.join(user.roles)}"
    if workload.abac:
        text += f"; team {user.team}, ip {request.source_ip}, amount {request.amount}"
    return text + f"; generator aimed at {request.intent})"


def cross_check(workload: Workload, outcomes: Mapping[str, Sequence[Outcome]]) -> Agreement:
    """Compare the engines' allow/deny on every request that two or more of them decided.
    Raises CrossCheckError listing each mismatch and each evaluation error."""
    label = f"{workload.variant} workload of {workload.scale:,} statements"
    problems = [
        f"  {engine} on request #{index}: {outcome.problem}\n"
        f"    {_describe(workload, workload.requests[index])}"
        for engine, decided in outcomes.items()
        for index, outcome in enumerate(decided) if outcome.problem
    ]
    if problems:
        raise CrossCheckError(f"evaluation errors in the {label} ({len(problems)}):\n"
                              + "\n".join(problems[:_SHOWN]))
    longest = max(len(decided) for decided in outcomes.values())
    mismatches = []
    for index in range(longest):
        deciders = {engine: decided[index] for engine, decided in outcomes.items() if index < len(decided)}
        if len({outcome.allowed for outcome in deciders.values()}) > 1:
            said = ", ".join(f"{engine}={outcome.detail}" for engine, outcome in deciders.items())
            request = _describe(workload, workload.requests[index])
            mismatches.append(f"  request #{index}: {said}\n    {request}")
    if mismatches:
        more = f"\n  ... and {len(mismatches) - _SHOWN} more" if len(mismatches) > _SHOWN else ""
        raise CrossCheckError(
            f"engines disagree on {len(mismatches)} requests in the {label}; the models are not "
            f"equivalent, so no timing is reported:\n" + "\n".join(mismatches[:_SHOWN]) + more)
    lengths = sorted(len(decided) for decided in outcomes.values())
    by_all = lengths[0]
    first = next(iter(outcomes.values()))
    return Agreement(by_all, lengths[-2] if len(lengths) > 1 else 0,
                     sum(outcome.allowed for outcome in first[:by_all]))
