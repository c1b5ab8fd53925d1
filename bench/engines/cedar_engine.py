"""cedarpy with one Cedar policy per IAM statement and one entity store.

Role membership is the entity hierarchy (`principal in Role::"..."`). Cedar has no action
wildcards, so each wildcard the workload uses becomes an action group whose members are the
catalog actions it covers (`action in [Action::"orders:Get*"]`). Resources are entities whose
`arn` attribute the policy matches with `like`; ABAC conditions read `principal.team`,
`resource.team`, `context.sourceIp` (an `ip` extension value) and `context.amount`.

The policy set and the entity store are parsed once into cedarpy handles and reused, which is
cedarpy's documented fast path; each request's context is serialized before timing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

from bench.catalog import ALL_ACTIONS, matches
from bench.engines import Call, Outcome
from bench.workload import AMOUNT, DENY, IP, TEAM, AccessRequest, Statement, Workload, resource_team


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": kind, "id": ident}


def policy_text(statement: Statement, role_id: str) -> str:
    effect = "forbid" if statement.effect == DENY else "permit"
    if "*" in statement.actions:
        action = "action"
    else:
        action = "action in [" + ", ".join(f"Action::{_quote(name)}" for name in statement.actions) + "]"
    resources = [
        f"resource.arn {'like' if pattern.endswith('*') else '=='} {_quote(pattern)}"
        for pattern in statement.resources
    ]
    clauses = ["(" + " || ".join(resources) + ")"]
    for condition in statement.conditions:
        if condition.kind == TEAM:
            clauses.append("principal.team == resource.team")
        elif condition.kind == IP:
            clauses.append(f"context.sourceIp.isInRange(ip({_quote(condition.value)}))")
        elif condition.kind == AMOUNT:
            clauses.append(f"context.amount <= {int(condition.value)}")
    return (f"{effect} (principal in Role::{_quote(role_id)}, {action}, resource)\n"
            f"when {{ {' && '.join(clauses)} }};")


def entities(workload: Workload) -> list[dict[str, Any]]:
    groups = sorted({pattern for role in workload.roles for statement in role.statements
                     for pattern in statement.actions if pattern.endswith("*") and pattern != "*"})
    store: list[dict[str, Any]] = [
        {"uid": _uid("Role", role.id), "attrs": {}, "parents": []} for role in workload.roles
    ]
    store += [{"uid": _uid("Action", group), "attrs": {}, "parents": []} for group in groups]
    store += [
        {"uid": _uid("Action", action), "attrs": {},
         "parents": [_uid("Action", group) for group in groups if matches(group, action)]}
        for action in ALL_ACTIONS
    ]
    store += [
        {"uid": _uid("User", user.id), "attrs": {"team": user.team} if workload.abac else {},
         "parents": [_uid("Role", role_id) for role_id in user.roles]}
        for user in workload.users
    ]
    for arn in sorted({request.resource for request in workload.requests}):
        attrs = {"arn": arn, "team": resource_team(arn)} if workload.abac else {"arn": arn}
        store.append({"uid": _uid("Resource", arn), "attrs": attrs, "parents": []})
    return store


@dataclass(frozen=True)
class CedarSources:
    workload: Workload
    policies: str
    policy_count: int
    entities: str
    entity_count: int


class CedarBuilt:
    def __init__(self, workload: Workload, policies: cedarpy.PolicySet, store: cedarpy.Entities) -> None:
        self.workload = workload
        self.policies = policies
        self.store = store

    def _request(self, request: AccessRequest) -> dict[str, Any]:
        context: dict[str, Any] = {}
        if self.workload.abac:
            context = {"sourceIp": {"__extn": {"fn": "ip", "arg": request.source_ip}},
                       "amount": request.amount}
        return {
            "principal": _uid("User", request.user),
            "action": _uid("Action", request.action),
            "resource": _uid("Resource", request.resource),
            "context": json.dumps(context),
        }

    def prepare(self, request: AccessRequest) -> Call:
        return cedarpy.is_authorized, (self._request(request), self.policies, self.store)

    def prepare_batch(self, requests: Sequence[AccessRequest]) -> Call:
        return cedarpy.is_authorized_batch, ([self._request(request) for request in requests], self.policies,
                                             self.store)

    def outcome(self, output: Any) -> Outcome:
        result: cedarpy.AuthzResult = output
        errors = list(result.diagnostics.errors)
        return Outcome(bool(result.allowed), "Allow" if result.allowed else "Deny",
                       "; ".join(errors) if errors else None)


class CedarEngine:
    key = "cedarpy"
    label = "cedarpy"

    def sources(self, workload: Workload) -> CedarSources:
        texts = [policy_text(statement, role.id) for role in workload.roles for statement in role.statements]
        store = entities(workload)
        return CedarSources(workload, "\n".join(texts), len(texts), json.dumps(store), len(store))

    def cold(self) -> None:
        return None

    def build(self, sources: CedarSources) -> CedarBuilt:
        return CedarBuilt(sources.workload, cedarpy.PolicySet.from_str(sources.policies),
                          cedarpy.Entities.from_json_str(sources.entities))

    def describe(self, sources: CedarSources) -> str:
        return f"{sources.policy_count:,} policies, {sources.entity_count:,} entities"
