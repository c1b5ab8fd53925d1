"""What the directory returns: frozen values named like the fields of IAM's API responses.

Policy documents are returned as the JSON text that was stored, exactly (IAM does the same);
`json.loads` it, or call `document_dict()`, for a mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True)
class Tenant:
    """An account: the unit of isolation. Every entity lives in exactly one tenant."""

    tenant_id: str
    name: str
    partition: str
    create_date: datetime


@dataclass(frozen=True)
class User:
    path: str
    user_name: str
    user_id: str
    arn: str
    create_date: datetime
    permissions_boundary: str | None = None  # the boundary policy's ARN
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True)
class Group:
    path: str
    group_name: str
    group_id: str
    arn: str
    create_date: datetime


@dataclass(frozen=True)
class Role:
    path: str
    role_name: str
    role_id: str
    arn: str
    create_date: datetime
    assume_role_policy_document: str
    description: str = ""
    max_session_duration: int = 3600
    permissions_boundary: str | None = None
    tags: tuple[Tag, ...] = ()

    def trust_policy_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.assume_role_policy_document)
        return result


@dataclass(frozen=True)
class ManagedPolicy:
    policy_name: str
    policy_id: str
    arn: str
    path: str
    default_version_id: str
    attachment_count: int
    permissions_boundary_usage_count: int
    is_attachable: bool
    description: str
    create_date: datetime
    update_date: datetime


@dataclass(frozen=True)
class PolicyVersion:
    document: str
    version_id: str
    is_default_version: bool
    create_date: datetime

    def document_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.document)
        return result


@dataclass(frozen=True)
class AttachedPolicy:
    policy_name: str
    policy_arn: str


@dataclass(frozen=True)
class InlinePolicy:
    """An inline policy and the user, group or role that embeds it (`owner_name`)."""

    owner_name: str
    policy_name: str
    policy_document: str

    def document_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.policy_document)
        return result


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call. Pass `marker` back to get the next page while `is_truncated`."""

    items: tuple[T, ...]
    is_truncated: bool = False
    marker: str | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class GroupDetail:
    """`get_group`: the group and one page of its members."""

    group: Group
    users: tuple[User, ...]
    is_truncated: bool = False
    marker: str | None = None


@dataclass(frozen=True)
class PolicyEntities:
    """`list_entities_for_policy`: names of the principals a managed policy is attached to."""

    policy_users: tuple[str, ...]
    policy_groups: tuple[str, ...]
    policy_roles: tuple[str, ...]
