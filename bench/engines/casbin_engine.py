"""pycasbin with an RBAC-with-domains model, explicit deny, and matcher-level ABAC.

One enforcer holds every rule. A casbin rule names one subject, object and action, so an IAM
statement with several actions and resources becomes one rule per (resource, action) pair.
`keyMatch` implements the workload's literal-or-trailing-`*` patterns exactly. The matcher tests
the domain and the action first so that most rules are rejected by the cheapest comparison;
ABAC conditions are extra rule columns, empty when a rule has no such condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import casbin
from casbin.model import Model

from bench.engines import Call, Outcome
from bench.workload import AMOUNT, IP, TEAM, AccessRequest, Workload, resource_team

_RBAC_MATCH = "r.dom == p.dom && keyMatch(r.act, p.act) && keyMatch(r.obj, p.obj) && g(r.sub, p.sub, r.dom)"

_COMMON = """
[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
"""

RBAC_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, eft
""" + _COMMON + """
[matchers]
m = """ + _RBAC_MATCH + "\n"

ABAC_MODEL = """
[request_definition]
r = sub, dom, obj, act, pteam, rteam, ip, amount

[policy_definition]
p = sub, dom, obj, act, eft, team, cidr, maxamount
""" + _COMMON + """
[matchers]
m = """ + " && ".join((
    _RBAC_MATCH,
    '(p.team == "" || r.pteam == r.rteam)',
    '(p.cidr == "" || ipMatch(r.ip, p.cidr))',
    '(p.maxamount == "" || numLE(r.amount, p.maxamount))',
)) + "\n"


def _num_le(value: Any, maximum: Any) -> bool:
    return int(value) <= int(maximum)


@dataclass(frozen=True)
class CasbinSources:
    workload: Workload
    model_text: str
    rules: tuple[tuple[str, ...], ...]
    groupings: tuple[tuple[str, ...], ...]


class CasbinBuilt:
    def __init__(self, workload: Workload, enforcer: casbin.Enforcer) -> None:
        self.workload = workload
        self.enforcer = enforcer

    def prepare(self, request: AccessRequest) -> Call:
        user = self.workload.user_by_id[request.user]
        args: tuple[Any, ...] = (user.id, user.tenant, request.resource, request.action)
        if self.workload.abac:
            args += (user.team, resource_team(request.resource), request.source_ip, request.amount)
        return self.enforcer.enforce, args

    def outcome(self, output: Any) -> Outcome:
        return Outcome(bool(output), "Allow" if output else "Deny")


class CasbinEngine:
    key = "pycasbin"
    label = "pycasbin"

    def sources(self, workload: Workload) -> CasbinSources:
        rules: dict[tuple[str, ...], None] = {}  # ordered and free of duplicates (casbin refuses those)
        for role in workload.roles:
            for statement in role.statements:
                kinds = {condition.kind: condition.value for condition in statement.conditions}
                extra = (
                    "same" if TEAM in kinds else "", kinds.get(IP, ""), kinds.get(AMOUNT, ""),
                ) if workload.abac else ()
                for resource in statement.resources:
                    for action in statement.actions:
                        rule = (role.id, role.tenant, resource, action, statement.effect.lower(), *extra)
                        rules[rule] = None
        groupings = tuple((user.id, role_id, user.tenant)
                          for user in workload.users for role_id in user.roles)
        model_text = ABAC_MODEL if workload.abac else RBAC_MODEL
        return CasbinSources(workload, model_text, tuple(rules), groupings)

    def cold(self) -> None:
        return None

    def build(self, sources: CasbinSources) -> CasbinBuilt:
        model = Model()
        model.load_model_from_text(sources.model_text)
        enforcer = casbin.Enforcer(model)
        if sources.workload.abac:
            enforcer.add_function("numLE", _num_le)
        enforcer.add_policies([list(rule) for rule in sources.rules])
        enforcer.add_grouping_policies([list(grouping) for grouping in sources.groupings])
        return CasbinBuilt(sources.workload, enforcer)

    def describe(self, sources: CasbinSources) -> str:
        return f"{len(sources.rules):,} rules, {len(sources.groupings):,} role links"
