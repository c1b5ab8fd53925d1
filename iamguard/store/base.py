"""The directory store interface: plain records, and the transactions that read and write them.

A store knows nothing of IAM's rules; `iamguard.directory.Directory` applies them inside one store
transaction per operation, so a refused operation rolls back and changes nothing. Both
implementations (`MemoryStore`, `SQLiteStore`) pass the same test-suite.

Unique ids are the primary keys of principals and policies; names are looked up
case-insensitively within a tenant (IAM: names "aren't distinguished by case").
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from iamguard.store.database import StoreError

USER = "user"
GROUP = "group"
ROLE = "role"
ENTITY_KINDS = (USER, GROUP, ROLE)

Tags = tuple[tuple[str, str], ...]
DependentsChecker = Callable[[str, str], "list[str]"]
"""`fn(tenant_id, unique_id) -> descriptions of what still depends on the entity` (empty: nothing)."""


def name_key(name: str) -> str:
    """The key names are unique under. Names are ASCII (validated before they reach a store), so
    lowercasing is plain ASCII case folding."""
    return name.lower()


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    name: str
    partition: str
    created: str  # ISO 8601 UTC, e.g. "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class EntityRecord:
    """A user, group or role. Role-only fields are None for users and groups."""

    tenant_id: str
    kind: str
    unique_id: str
    name: str
    path: str
    created: str
    tags: Tags = ()
    boundary_id: str | None = None  # unique id of the managed policy used as permissions boundary
    trust_policy: str | None = None
    description: str | None = None
    max_session_duration: int | None = None


@dataclass(frozen=True)
class PolicyRecord:
    tenant_id: str
    unique_id: str
    name: str
    path: str
    created: str
    updated: str
    description: str
    default_version: str
    next_version: int  # version ids are never reused, even after a version is deleted


@dataclass(frozen=True)
class VersionRecord:
    policy_id: str
    version_id: str
    document: str
    created: str

    @property
    def number(self) -> int:
        return int(self.version_id[1:])


@dataclass(frozen=True)
class InlineRecord:
    owner_id: str
    name: str
    document: str


class DirectoryReader(Protocol):
    """Reads inside one consistent snapshot. Lists are ordered by name key (versions by number)."""

    def generation(self) -> int: ...

    def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    def list_tenants(self) -> list[TenantRecord]: ...

    def get_entity(self, tenant_id: str, kind: str, name: str) -> EntityRecord | None: ...

    def get_entity_by_id(self, tenant_id: str, unique_id: str) -> EntityRecord | None: ...

    def unique_id_taken(self, unique_id: str) -> bool:
        """Whether any principal or policy in any tenant has this unique id."""
        ...

    def list_entities(self, tenant_id: str, kind: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[EntityRecord]:
        """Entities whose path starts with `path_prefix` and whose name key sorts after `after`."""
        ...

    def get_policy(self, tenant_id: str, name: str) -> PolicyRecord | None: ...

    def get_policy_by_id(self, tenant_id: str, policy_id: str) -> PolicyRecord | None: ...

    def list_policies(self, tenant_id: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[PolicyRecord]: ...

    def get_version(self, policy_id: str, version_id: str) -> VersionRecord | None: ...

    def list_versions(self, policy_id: str) -> list[VersionRecord]: ...

    def get_inline(self, owner_id: str, name: str) -> InlineRecord | None: ...

    def list_inline(self, owner_id: str) -> list[InlineRecord]: ...

    def groups_of(self, user_id: str) -> list[EntityRecord]: ...

    def members_of(self, group_id: str) -> list[EntityRecord]: ...

    def attached_policies(self, principal_id: str) -> list[PolicyRecord]: ...

    def attached_documents(self, principal_id: str) -> list[tuple[PolicyRecord, VersionRecord]]:
        """Each attached policy with its default version, in one read (the resolution path)."""
        ...

    def attached_principals(self, policy_id: str) -> list[EntityRecord]: ...

    def boundary_principals(self, policy_id: str) -> list[EntityRecord]: ...


class DirectoryWriter(DirectoryReader, Protocol):
    """A write transaction: everything commits together, or nothing does."""

    def insert_tenant(self, record: TenantRecord) -> None: ...

    def delete_tenant(self, tenant_id: str) -> None: ...

    def insert_entity(self, record: EntityRecord) -> None: ...

    def update_entity(self, record: EntityRecord) -> None:
        """Replace the entity with the same unique id (a rename moves its name key)."""
        ...

    def delete_entity(self, unique_id: str) -> None: ...

    def insert_policy(self, record: PolicyRecord) -> None: ...

    def update_policy(self, record: PolicyRecord) -> None: ...

    def delete_policy(self, policy_id: str) -> None:
        """Delete a policy and its versions."""
        ...

    def insert_version(self, record: VersionRecord) -> None: ...

    def delete_version(self, policy_id: str, version_id: str) -> None: ...

    def put_inline(self, record: InlineRecord) -> None:
        """Insert, or replace the owner's inline policy with the same name key."""
        ...

    def delete_inline(self, owner_id: str, name: str) -> None: ...

    def add_member(self, group_id: str, user_id: str) -> None: ...

    def remove_member(self, group_id: str, user_id: str) -> None: ...

    def attach(self, principal_id: str, policy_id: str) -> None: ...

    def detach(self, principal_id: str, policy_id: str) -> None: ...


class DirectoryStore(ABC):
    """Where a directory keeps its records. Thread-safe; one write transaction per operation."""

    def __init__(self) -> None:
        self._dependents: dict[str, list[DependentsChecker]] = {}
        self._dependents_lock = threading.Lock()

    @abstractmethod
    def read(self) -> AbstractContextManager[DirectoryReader]:
        """A consistent snapshot for several reads."""

    @abstractmethod
    def write(self) -> AbstractContextManager[DirectoryWriter]:
        """A write transaction. Nested use is a savepoint: an inner failure undoes only the inner
        block. The store generation is bumped in the same transaction when anything changed."""

    @abstractmethod
    def generation(self) -> int:
        """The store-wide generation, bumped by every committed write (any process)."""

    @property
    @abstractmethod
    def local_commits(self) -> int:
        """Changes whenever a write transaction commits through this object. Cheap to read:
        caches compare it on every call to see their own process's writes at once."""

    @abstractmethod
    def in_write(self) -> bool:
        """Whether the calling thread is inside a write transaction (its reads see uncommitted
        state, which caches must not keep)."""

    def close(self) -> None:  # noqa: B027 - optional hook; the memory store has nothing to close
        """Release connections held by the calling thread."""

    # Dependents: other components (credentials: access keys, passwords, MFA devices) keep
    # records that hang off a principal. IAM refuses to delete a principal that still has them.

    def register_dependents(self, kind: str, checker: DependentsChecker) -> None:
        """Register `checker(tenant_id, unique_id) -> list[str]` for entities of `kind` ("user",
        "group", "role", "policy", or "tenant", called with the tenant id twice). A non-empty
        answer blocks deletion (DeleteConflict). It runs inside the delete transaction; an
        exception from it refuses the deletion."""
        if kind not in (*ENTITY_KINDS, "policy", "tenant"):
            raise ValueError(f"unknown entity kind {kind!r}; use user, group, role, policy or tenant")
        with self._dependents_lock:
            self._dependents.setdefault(kind, []).append(checker)

    def dependents(self, kind: str, tenant_id: str, unique_id: str) -> list[str]:
        with self._dependents_lock:
            checkers = list(self._dependents.get(kind, ()))
        found: list[str] = []
        for checker in checkers:
            try:
                found.extend(str(item) for item in checker(tenant_id, unique_id))
            except Exception as exc:  # an unknown answer must block the deletion
                raise StoreError(f"cannot check what depends on {kind} {unique_id}: {exc}") from exc
        return found

