"""A deterministic, engine-neutral authorization workload.

Shape: tenants (IAM accounts), each with job roles (viewer/editor per service, admin, operator,
specialists granting exact actions on specific ids) and one guardrail role of explicit denies
that every user of the tenant holds. Users hold 1-3 job roles plus the guardrail role. The ABAC
variant puts conditions on some Allow statements: principal team equals resource team, source
IP within a CIDR, amount at most a maximum.

Statements per tenant stay roughly constant; a larger scale means more tenants, as in a
multi-tenant SaaS. Only forms that IAM, pycasbin and Cedar all express exactly are used:
literal or trailing-`*` action and resource patterns, no NotAction/NotResource.

The same (scale, variant, request count, seed) always yields the same workload, in any process.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from bench.catalog import (
    FROZEN_PREFIX,
    LOCKED_PREFIX,
    READ_VERBS,
    REGIONS,
    SERVICE_BY_NAME,
    SERVICES,
    TEAMS,
    WRITE_VERBS,
    Service,
    actions_matching,
    matches,
)

DEFAULT_SEED = 20240601
ALLOW = "Allow"
DENY = "Deny"

# Condition kinds of the ABAC variant.
TEAM = "team"  # principal's team equals the resource's team
IP = "ip"  # source IP inside `value` (a CIDR)
AMOUNT = "amount"  # request amount <= `value`

_IDS_PER_TYPE = 40


@dataclass(frozen=True)
class Condition:
    kind: str
    value: str = ""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()

    @property
    def is_deny(self) -> bool:
        return self.effect == DENY


@dataclass(frozen=True)
class Role:
    id: str  # "<tenant>/<name>": unique across the workload
    tenant: str
    statements: tuple[Statement, ...]

    @property
    def is_guardrail(self) -> bool:
        return self.id.endswith("/guardrails")


@dataclass(frozen=True)
class User:
    id: str  # "<tenant>/<name>"
    tenant: str
    roles: tuple[str, ...]  # role ids: 1-3 job roles, then the tenant's guardrail role
    team: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.tenant}:user/{self.id.split('/', 1)[1]}"


@dataclass(frozen=True)
class AccessRequest:
    user: str  # a User id
    action: str
    resource: str  # an ARN
    source_ip: str
    amount: int
    intent: str  # what the generator aimed at ("allow", "deny" or "random"); the engines decide


@dataclass(frozen=True)
class Workload:
    scale: int
    abac: bool
    seed: int
    tenants: tuple[str, ...]
    roles: tuple[Role, ...]
    users: tuple[User, ...]
    requests: tuple[AccessRequest, ...] = field(repr=False)

    @property
    def variant(self) -> str:
        return "ABAC" if self.abac else "RBAC"

    @property
    def statement_count(self) -> int:
        return sum(len(role.statements) for role in self.roles)

    @cached_property
    def role_by_id(self) -> dict[str, Role]:
        return {role.id: role for role in self.roles}

    @cached_property
    def user_by_id(self) -> dict[str, User]:
        return {user.id: user for user in self.users}

    def fingerprint(self) -> str:
        """A short digest of everything generated, to show determinism across runs."""
        text = repr((self.scale, self.abac, self.seed, self.tenants, self.roles, self.users, self.requests))
        return f"{zlib.crc32(text.encode()):08x}"


def resource_team(arn: str) -> str:
    """The team tag of a resource: a fixed function of its ARN, so every engine sees the same tag."""
    return TEAMS[zlib.crc32(arn.encode()) % len(TEAMS)]


def generate(scale: int, *, abac: bool, requests: int, seed: int = DEFAULT_SEED) -> Workload:
    """A workload of exactly `scale` statements and `requests` requests."""
    if scale < 1 or requests < 1:
        raise ValueError("scale and requests must be positive")
    rng = random.Random(f"{seed}/{scale}/{abac}")  # str seeds hash with SHA-512: stable across processes
    tenants: list[str] = []
    roles: list[Role] = []
    users: list[User] = []
    total = 0
    while total < scale:
        tenant = str(210_000_000_000 + len(tenants))
        tenant_roles, tenant_users = _tenant(rng, tenant, abac=abac)
        count = sum(len(role.statements) for role in tenant_roles)
        if total + count > scale:
            tenant_roles, tenant_users = _truncate(tenant_roles, tenant_users, scale - total)
            count = scale - total
        tenants.append(tenant)
        roles.extend(tenant_roles)
        users.extend(tenant_users)
        total += count
    role_by_id = {role.id: role for role in roles}
    generated = tuple(_request(rng, rng.choice(users), tenants, role_by_id, abac=abac)
                      for _ in range(requests))
    return Workload(scale, abac, seed, tuple(tenants), tuple(roles), tuple(users), generated)


def _arn(service: Service, region: str, tenant: str, resource: str) -> str:
    return f"arn:app:{service.name}:{region}:{tenant}:{resource}"


def _type_arns(rng: random.Random, service: Service, tenant: str, suffix: str = "*") -> tuple[str, ...]:
    regions = REGIONS if rng.random() < 0.3 else (rng.choice(REGIONS),)
    return tuple(_arn(service, region, tenant, f"{service.resource_type}/{suffix}") for region in regions)


def _conditions(rng: random.Random, abac: bool) -> tuple[Condition, ...]:
    if not abac or rng.random() < 0.4:
        return ()
    kinds = sorted(rng.sample((TEAM, IP, AMOUNT), k=rng.randint(1, 2)))
    conditions = []
    for kind in kinds:
        if kind == IP:
            conditions.append(Condition(IP, f"10.{rng.randrange(16)}.0.0/16"))
        elif kind == AMOUNT:
            conditions.append(Condition(AMOUNT, str(rng.choice((100, 500, 1000, 5000)))))
        else:
            conditions.append(Condition(TEAM))
    return tuple(conditions)


def _allow(rng: random.Random, actions: Sequence[str], resources: Sequence[str], abac: bool) -> Statement:
    return Statement(ALLOW, tuple(actions), tuple(resources), _conditions(rng, abac))


def _tenant(rng: random.Random, tenant: str, *, abac: bool) -> tuple[list[Role], list[User]]:
    services = rng.sample(SERVICES, k=3)
    job_roles: list[Role] = []

    def role(name: str, statements: Sequence[Statement]) -> None:
        job_roles.append(Role(f"{tenant}/{name}", tenant, tuple(statements)))

    for service in services:
        prefix = service.name
        reads = [f"{prefix}:{verb}*" for verb in READ_VERBS]
        writes = [f"{prefix}:{verb}*" for verb in WRITE_VERBS if actions_matching(f"{prefix}:{verb}*")]
        if not writes:  # a service without Create/Update/Put verbs: grant its other non-read actions
            writes = [action for action in service.actions
                      if not action.split(":")[1].startswith((*READ_VERBS, "Delete"))]
        viewer = [_allow(rng, reads, _type_arns(rng, service, tenant), abac)]
        if rng.random() < 0.5:
            viewer.append(_allow(rng, [rng.choice(service.actions)],
                                 _type_arns(rng, service, tenant, str(rng.randint(1, _IDS_PER_TYPE))), abac))
        role(f"{prefix}-viewer", viewer)
        role(f"{prefix}-editor", [
            _allow(rng, reads, _type_arns(rng, service, tenant), abac),
            _allow(rng, writes[:2], _type_arns(rng, service, tenant), abac),
            Statement(DENY, (f"{prefix}:Delete*",), _type_arns(rng, service, tenant)),
        ])
    role("admin", [
        _allow(rng, [f"{service.name}:*"], [_arn(service, region, tenant, "*") for region in REGIONS], abac)
        for service in services
    ])
    operated = rng.choice(services)  # the operator role may do anything, on one service's resources
    role("operator", [_allow(rng, ["*"], _type_arns(rng, operated, tenant), abac)])
    for index in range(rng.randint(1, 3)):
        statements = []
        for _ in range(rng.randint(2, 4)):
            service = rng.choice(services)
            actions = rng.sample(service.actions, k=rng.randint(1, 2))
            ids = rng.sample(range(1, _IDS_PER_TYPE + 1), k=rng.randint(1, 2))
            region = rng.choice(REGIONS)
            arns = [_arn(service, region, tenant, f"{service.resource_type}/{n}") for n in ids]
            statements.append(_allow(rng, actions, arns, abac))
        role(f"specialist-{index}", statements)

    guardrails = []
    for service in services:
        locked = tuple(_arn(service, region, tenant, f"{service.resource_type}/{LOCKED_PREFIX}*")
                       for region in REGIONS)
        guardrails.append(Statement(DENY, (f"{service.name}:Delete*", f"{service.name}:Update*"), locked))
    frozen = rng.choice(services)
    frozen_arns = _type_arns(rng, frozen, tenant, f"{FROZEN_PREFIX}*")
    guardrails.append(Statement(DENY, (f"{frozen.name}:*",), frozen_arns))
    all_roles = [*job_roles, Role(f"{tenant}/guardrails", tenant, tuple(guardrails))]

    users = []
    for index in range(rng.randint(6, 12)):
        held = sorted(role.id for role in rng.sample(job_roles, k=rng.randint(1, 3)))
        users.append(User(f"{tenant}/u{index}", tenant, (*held, f"{tenant}/guardrails"), rng.choice(TEAMS)))
    return all_roles, users


def _truncate(roles: list[Role], users: list[User], budget: int) -> tuple[list[Role], list[User]]:
    """Keep the first `budget` statements of a tenant (in role order) and drop emptied roles."""
    kept: list[Role] = []
    for role in roles:
        statements = role.statements[:budget]
        budget -= len(statements)
        if statements:
            kept.append(replace(role, statements=statements))
    kept_ids = {role.id for role in kept}
    fallback = kept[0].id
    trimmed = []
    for user in users:
        held = tuple(role_id for role_id in user.roles if role_id in kept_ids)
        trimmed.append(replace(user, roles=held or (fallback,)))
    return kept, trimmed


def _resource_from(rng: random.Random, pattern: str, service: Service) -> str:
    if not pattern.endswith("*"):
        return pattern
    prefix = pattern[:-1]
    if prefix.endswith(":"):  # a whole service in one tenant: pick a type-scoped resource
        return prefix + f"{service.resource_type}/{_random_id(rng)}"
    if prefix.endswith("/"):
        return prefix + _random_id(rng)
    return prefix + str(rng.randint(1, _IDS_PER_TYPE))  # e.g. `order/locked-*`


def _random_id(rng: random.Random) -> str:
    roll = rng.random()
    number = rng.randint(1, _IDS_PER_TYPE)
    if roll < 0.1:
        return f"{LOCKED_PREFIX}{number}"
    if roll < 0.15:
        return f"{FROZEN_PREFIX}{number}"
    return str(number)


def _service_of(resource: str) -> Service:
    return SERVICE_BY_NAME[resource.split(":", 3)[2]]


def _random_ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _request(rng: random.Random, user: User, tenants: Sequence[str], role_by_id: dict[str, Role], *,
             abac: bool) -> AccessRequest:
    statements = [statement for role_id in user.roles for statement in role_by_id[role_id].statements]
    roll = rng.random()
    aim_deny = 0.45 <= roll < 0.65
    wanted = [statement for statement in statements if statement.is_deny == aim_deny]
    if roll >= 0.65 or not wanted:
        return _random_request(rng, user, tenants)
    statement = rng.choice(wanted)
    resource_pattern = rng.choice(statement.resources)
    service = _service_of(resource_pattern)
    resource = _resource_from(rng, resource_pattern, service)
    covered = [action for action in service.actions
               if any(matches(pattern, action) for pattern in statement.actions)]
    if not covered:
        return _random_request(rng, user, tenants)
    action = rng.choice(covered)
    source_ip, amount = _random_ip(rng), rng.randint(0, 6000)
    satisfy = rng.random() < 0.75
    for condition in statement.conditions if satisfy else ():
        if condition.kind == IP:
            network = condition.value.split(".")
            source_ip = f"{network[0]}.{network[1]}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif condition.kind == AMOUNT:
            amount = rng.randint(0, int(condition.value))
        elif condition.kind == TEAM and resource_pattern.endswith("*"):
            for _ in range(20):  # look for an id whose team tag is the user's team
                if resource_team(resource) == user.team:
                    break
                resource = _resource_from(rng, resource_pattern, service)
    intent = "deny" if statement.is_deny else "allow"
    return AccessRequest(user.id, action, resource, source_ip, amount, intent)


def _random_request(rng: random.Random, user: User, tenants: Sequence[str]) -> AccessRequest:
    tenant = user.tenant if rng.random() < 0.7 else rng.choice(tenants)
    service = rng.choice(SERVICES)
    resource = _arn(service, rng.choice(REGIONS), tenant, f"{service.resource_type}/{_random_id(rng)}")
    return AccessRequest(user.id, rng.choice(service.actions), resource, _random_ip(rng),
                         rng.randint(0, 6000), "random")
