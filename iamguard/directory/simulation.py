"""Policy-simulator results: one explained decision per (action, resource) pair."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from iamguard.directory.errors import InvalidInputError
from iamguard.engine.decision import Decision, Effect, StatementRef

# Decisions one simulation may ask for (actions x resources): IAM pages its results 1,000 at most;
# a caller allowed iam:SimulatePrincipalPolicy must not be able to ask for millions (DOS-02).
MAX_SIMULATED_PAIRS = 1000

_EVAL_DECISIONS = {Effect.ALLOW: "allowed", Effect.EXPLICIT_DENY: "explicitDeny",
                   Effect.IMPLICIT_DENY: "implicitDeny"}


@dataclass(frozen=True)
class SimulationResult:
    """Like one EvaluationResult of IAM's SimulatePrincipalPolicy, with the full decision."""

    action: str
    resource: str
    decision: Decision

    @property
    def eval_decision(self) -> str:
        """"allowed", "explicitDeny" or "implicitDeny", as the AWS policy simulator reports."""
        return _EVAL_DECISIONS[self.decision.effect]

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def matched_statements(self) -> tuple[StatementRef, ...]:
        return self.decision.statements

    @property
    def missing_context_values(self) -> tuple[str, ...]:
        return tuple(sorted(self.decision.missing_context_keys))

    def explain(self) -> str:
        return self.decision.explain()


def read_targets(action_names: object, resource_arns: object) -> tuple[list[str], list[str]]:
    """The actions and resources of a simulation, checked: non-empty lists of strings, at most
    `MAX_SIMULATED_PAIRS` pairs between them."""
    if isinstance(action_names, str) or isinstance(resource_arns, str) \
            or not isinstance(action_names, Iterable) or not isinstance(resource_arns, Iterable):
        raise InvalidInputError("ActionNames and ResourceArns must be lists of strings")
    actions, resources = list(action_names), list(resource_arns)
    if not actions or not resources or not all(isinstance(item, str) for item in actions + resources):
        raise InvalidInputError("ActionNames and ResourceArns must be non-empty lists of strings")
    if len(actions) * len(resources) > MAX_SIMULATED_PAIRS:
        raise InvalidInputError(f"a simulation evaluates at most {MAX_SIMULATED_PAIRS} action and resource pairs "
                                f"(asked: {len(actions)} x {len(resources)}); split it into several calls")
    return actions, resources


def read_context_entries(entries: object) -> dict[str, Any]:
    """A context given as a mapping, or as IAM's ContextEntries list
    (`[{"ContextKeyName": ..., "ContextKeyValues": [...], "ContextKeyType": "string"}]`)."""
    if entries is None:
        return {}
    if isinstance(entries, Mapping):
        return dict(entries)
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
        raise InvalidInputError("ContextEntries must be a mapping or a list of context entries")
    context: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("ContextKeyName"), str) or \
                not isinstance(entry.get("ContextKeyValues"), list):
            raise InvalidInputError("each context entry needs ContextKeyName (a string) and ContextKeyValues "
                                    "(a list)")
        values = entry["ContextKeyValues"]
        key_type = str(entry.get("ContextKeyType", "string"))
        context[entry["ContextKeyName"]] = list(values) if key_type.lower().endswith("list") or len(values) != 1 \
            else values[0]
    return context
