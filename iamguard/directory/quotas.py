"""Per-tenant quotas. The defaults are IAM's default quotas; every one can be changed."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Quotas:
    groups_per_user: int = 10
    managed_policies_per_user: int = 10
    managed_policies_per_group: int = 10
    managed_policies_per_role: int = 10
    versions_per_policy: int = 5
    tags_per_entity: int = 50
    # Policy sizes count characters other than whitespace, as IAM does.
    managed_policy_size: int = 6144
    user_inline_policy_size: int = 2048  # all of one user's inline policies together
    group_inline_policy_size: int = 5120
    role_inline_policy_size: int = 10240
    trust_policy_size: int = 2048

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Quotas.{field.name} must be a positive integer, not {value!r}")

    def managed_policies_per(self, kind: str) -> int:
        return {"user": self.managed_policies_per_user, "group": self.managed_policies_per_group,
                "role": self.managed_policies_per_role}[kind]

    def inline_policy_size(self, kind: str) -> int:
        return {"user": self.user_inline_policy_size, "group": self.group_inline_policy_size,
                "role": self.role_inline_policy_size}[kind]


DEFAULT_QUOTAS = Quotas()
