"""iamguard in its two setups.

Per principal (realistic): each user's role policies form that user's own PolicySet, built once
per principal, as the directory layer serves them.

One set (worst case): every role policy of the workload in ONE PolicySet used for every request,
so only the action (and tenant) index keeps a decision from visiting all statements. For the
decisions to stay those of the workload, each statement is scoped to its role's members with
`ForAnyValue:StringEquals {"app:roles": "<role id>"}`, and the request context carries the
principal's roles under `app:roles`. This is how one shared policy set expresses role membership
in IAM's language, and it is the setup closest to the peers', which keep every rule in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import iamguard
from bench.engines import Call, Outcome
from bench.workload import AMOUNT, IP, TEAM, AccessRequest, Role, Statement, Workload, resource_team

ROLES_KEY = "app:roles"
AMOUNT_KEY = "app:amount"


def statement_document(statement: Statement, role_id: str, *, scoped: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Effect": statement.effect,
        "Action": list(statement.actions),
        "Resource": list(statement.resources),
    }
    condition: dict[str, dict[str, str]] = {}
    for entry in statement.conditions:
        if entry.kind == TEAM:
            condition["StringEquals"] = {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}
        elif entry.kind == IP:
            condition["IpAddress"] = {"aws:SourceIp": entry.value}
        elif entry.kind == AMOUNT:
            condition["NumericLessThanEquals"] = {AMOUNT_KEY: entry.value}
    if scoped:
        condition["ForAnyValue:StringEquals"] = {ROLES_KEY: role_id}
    if condition:
        document["Condition"] = condition
    return document


def role_document(role: Role, *, scoped: bool) -> str:
    """The role's policy as JSON text, the form a policy store hands to the engine."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [statement_document(statement, role.id, scoped=scoped) for statement in role.statements],
    })


@dataclass(frozen=True)
class IamSources:
    workload: Workload
    documents: tuple[tuple[str, str], ...]  # (role id, JSON text)


def _request(workload: Workload, request: AccessRequest) -> iamguard.Request:
    user = workload.user_by_id[request.user]
    context: dict[str, Any] = {ROLES_KEY: list(user.roles)}
    if workload.abac:
        context.update({
            "aws:PrincipalTag/team": user.team,
            "aws:ResourceTag/team": resource_team(request.resource),
            "aws:SourceIp": request.source_ip,
            AMOUNT_KEY: request.amount,
        })
    return iamguard.Request(user.arn, request.action, request.resource, context)


def _outcome(output: Any) -> Outcome:
    decision: iamguard.Decision = output
    problem = decision.error or ("; ".join(decision.errors) if decision.errors else None)
    return Outcome(decision.allowed, decision.effect.value, problem)


class _IamguardEngine:
    scoped = False

    def sources(self, workload: Workload) -> IamSources:
        return IamSources(workload, tuple((role.id, role_document(role, scoped=self.scoped))
                                          for role in workload.roles))

    def cold(self) -> None:
        iamguard.DEFAULT_CACHE.clear()  # so that compile time measures real parsing and compiling

    def describe(self, sources: IamSources) -> str:
        return f"{len(sources.documents):,} role policies"


class PerPrincipalBuilt:
    def __init__(self, workload: Workload, sets: dict[str, iamguard.PolicySet]) -> None:
        self.workload = workload
        self.sets = sets

    def prepare(self, request: AccessRequest) -> Call:
        return self.sets[request.user].evaluate, (_request(self.workload, request),)

    def outcome(self, output: Any) -> Outcome:
        return _outcome(output)


class PerPrincipalEngine(_IamguardEngine):
    key = "iamguard-principal"
    label = "iamguard, per principal"

    def build(self, sources: IamSources) -> PerPrincipalBuilt:
        texts = dict(sources.documents)
        sets = {
            user.id: iamguard.PolicySet(identity_policies=[
                iamguard.parse_policy(texts[role_id], name=role_id) for role_id in user.roles])
            for user in sources.workload.users
        }
        return PerPrincipalBuilt(sources.workload, sets)


class OneSetBuilt:
    def __init__(self, workload: Workload, policy_set: iamguard.PolicySet) -> None:
        self.workload = workload
        self.policy_set = policy_set

    def prepare(self, request: AccessRequest) -> Call:
        return self.policy_set.evaluate, (_request(self.workload, request),)

    def outcome(self, output: Any) -> Outcome:
        return _outcome(output)


class OneSetEngine(_IamguardEngine):
    key = "iamguard-oneset"
    label = "iamguard, one set"
    scoped = True

    def build(self, sources: IamSources) -> OneSetBuilt:
        policies: Sequence[iamguard.Policy] = [
            iamguard.parse_policy(text, name=role_id) for role_id, text in sources.documents
        ]
        return OneSetBuilt(sources.workload, iamguard.PolicySet(identity_policies=policies))
