"""The validated, immutable model of a policy document (the parser's output)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from iamguard.policy.operators import Operator

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyKind(str, enum.Enum):
    """Where a document is used; it decides which elements are required or refused."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    BOUNDARY = "boundary"
    SESSION = "session"
    TRUST = "trust"  # a role's assume-role policy: a resource policy without Resource

    @property
    def names_principals(self) -> bool:
        return self in (PolicyKind.RESOURCE, PolicyKind.TRUST)


class StatementEffect(str, enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class PrincipalEntry:
    """One principal name under `AWS`, `Service`, `Federated` or `CanonicalUser`."""

    type: str
    value: str


@dataclass(frozen=True)
class PrincipalClause:
    """`Principal` or `NotPrincipal`. `"*"` is stored as `everyone`."""

    negated: bool
    everyone: bool
    entries: tuple[PrincipalEntry, ...] = ()


@dataclass(frozen=True)
class ConditionEntry:
    """One operator, key and its values. `pointer` locates it in the source document."""

    operator: Operator
    key: str
    values: tuple[Any, ...]
    # Where it came from, not what it means: a round trip through to_dict() must compare equal.
    pointer: str = field(compare=False)

    @property
    def key_lower(self) -> str:
        return self.key.lower()


@dataclass(frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: StatementEffect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]  # empty for trust policies, which name no resource
    not_resource: bool
    principal: PrincipalClause | None
    conditions: tuple[ConditionEntry, ...]
    pointer: str = field(compare=False)  # provenance only, as in ConditionEntry

    @property
    def label(self) -> str:
        return f"statement {self.index}" + (f" ({self.sid})" if self.sid else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sid is not None:
            out["Sid"] = self.sid
        out["Effect"] = self.effect.value
        if self.principal is not None:
            name = "NotPrincipal" if self.principal.negated else "Principal"
            if self.principal.everyone and not self.principal.entries:
                out[name] = "*"
            else:
                grouped: dict[str, list[str]] = {}
                for entry in self.principal.entries:
                    grouped.setdefault(entry.type, []).append(entry.value)
                if self.principal.everyone:  # "*" next to named principals: keep both
                    grouped.setdefault("AWS", []).insert(0, "*")
                out[name] = grouped
        out["NotAction" if self.not_action else "Action"] = list(self.actions)
        if self.resources:
            out["NotResource" if self.not_resource else "Resource"] = list(self.resources)
        if self.conditions:
            condition: dict[str, dict[str, list[Any]]] = {}
            for condition_entry in self.conditions:
                condition.setdefault(condition_entry.operator.name, {})[condition_entry.key] = \
                    list(condition_entry.values)
            out["Condition"] = condition
        return out


@dataclass(frozen=True)
class PolicyDocument:
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    kind: PolicyKind

    @property
    def variables_enabled(self) -> bool:
        # Policy variables exist only in the 2012-10-17 language; elsewhere `${...}` is plain text.
        return self.version == VERSION_2012

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.version is not None:
            out["Version"] = self.version
        if self.id is not None:
            out["Id"] = self.id
        out["Statement"] = [statement.to_dict() for statement in self.statements]
        return out
