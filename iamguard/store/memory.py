"""A pure-Python directory store: dictionaries behind one re-entrant lock.

Atomicity comes from an undo journal: every change to a table records the value it replaced, and
a failed transaction (or savepoint) replays the journal backwards. Records are frozen dataclasses,
so nothing handed out can be changed behind the store's back.

For tests, demos and single-process apps; state is lost when the process exits.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from iamguard.store.base import (
    DirectoryStore,
    EntityRecord,
    InlineRecord,
    PolicyRecord,
    TenantRecord,
    VersionRecord,
    name_key,
)
from iamguard.store.database import PolicyLoadError

_MISSING = object()
Table = dict[Any, Any]


class _Journal:
    """What each change replaced, so a transaction can be undone."""

    def __init__(self) -> None:
        self._entries: list[tuple[Table, Any, Any]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def set(self, table: Table, key: Any, value: Any) -> None:
        self._entries.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def pop(self, table: Table, key: Any) -> None:
        if key in table:
            self._entries.append((table, key, table[key]))
            del table[key]

    def inner(self, table: Table, key: Any) -> Table:
        """The nested table under `key`, created (journaled) when absent."""
        nested = table.get(key)
        if nested is None:
            nested = {}
            self.set(table, key, nested)
        return nested

    def undo(self, mark: int) -> None:
        while len(self._entries) > mark:
            table, key, old = self._entries.pop()
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old

    def clear(self) -> None:
        self._entries.clear()


class _State:
    def __init__(self) -> None:
        self.tenants: dict[str, TenantRecord] = {}
        self.entities: dict[str, EntityRecord] = {}
        self.entity_names: dict[tuple[str, str], dict[str, str]] = {}  # (tenant, kind) -> name key -> id
        self.policies: dict[str, PolicyRecord] = {}
        self.policy_names: dict[str, dict[str, str]] = {}  # tenant -> name key -> policy id
        self.versions: dict[str, dict[str, VersionRecord]] = {}
        self.inline: dict[str, dict[str, InlineRecord]] = {}
        self.groups_by_user: dict[str, dict[str, None]] = {}
        self.users_by_group: dict[str, dict[str, None]] = {}
        self.policies_by_principal: dict[str, dict[str, None]] = {}
        self.principals_by_policy: dict[str, dict[str, None]] = {}
        self.boundary_users: dict[str, dict[str, None]] = {}


def _sorted_after(keys: Any, after: str | None) -> list[str]:
    ordered = sorted(keys)
    return ordered if after is None else ordered[bisect.bisect_right(ordered, after):]


class MemoryTransaction:
    """Reads (and, when writable, writes) on the store's state. Valid only while the lock is held."""

    def __init__(self, store: MemoryStore, *, writable: bool) -> None:
        self._store = store
        self._state = store._state
        self._journal = store._journal
        self._writable = writable

    def _writing(self) -> _Journal:
        if not self._writable:
            raise RuntimeError("this is a read-only transaction")
        return self._journal

    # reads

    def generation(self) -> int:
        return self._store._generation

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return self._state.tenants.get(tenant_id)

    def list_tenants(self) -> list[TenantRecord]:
        return [self._state.tenants[key] for key in sorted(self._state.tenants)]

    def get_entity(self, tenant_id: str, kind: str, name: str) -> EntityRecord | None:
        unique_id = self._state.entity_names.get((tenant_id, kind), {}).get(name_key(name))
        return self._state.entities[unique_id] if unique_id is not None else None

    def get_entity_by_id(self, tenant_id: str, unique_id: str) -> EntityRecord | None:
        record = self._state.entities.get(unique_id)
        return record if record is not None and record.tenant_id == tenant_id else None

    def unique_id_taken(self, unique_id: str) -> bool:
        return unique_id in self._state.entities or unique_id in self._state.policies

    def list_entities(self, tenant_id: str, kind: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[EntityRecord]:
        names = self._state.entity_names.get((tenant_id, kind), {})
        found: list[EntityRecord] = []
        for key in _sorted_after(names, after):
            record = self._state.entities[names[key]]
            if record.path.startswith(path_prefix):
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def get_policy(self, tenant_id: str, name: str) -> PolicyRecord | None:
        policy_id = self._state.policy_names.get(tenant_id, {}).get(name_key(name))
        return self._state.policies[policy_id] if policy_id is not None else None

    def get_policy_by_id(self, tenant_id: str, policy_id: str) -> PolicyRecord | None:
        record = self._state.policies.get(policy_id)
        return record if record is not None and record.tenant_id == tenant_id else None

    def list_policies(self, tenant_id: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[PolicyRecord]:
        names = self._state.policy_names.get(tenant_id, {})
        found: list[PolicyRecord] = []
        for key in _sorted_after(names, after):
            record = self._state.policies[names[key]]
            if record.path.startswith(path_prefix):
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def get_version(self, policy_id: str, version_id: str) -> VersionRecord | None:
        return self._state.versions.get(policy_id, {}).get(version_id)

    def list_versions(self, policy_id: str) -> list[VersionRecord]:
        return sorted(self._state.versions.get(policy_id, {}).values(), key=lambda record: record.number)

    def get_inline(self, owner_id: str, name: str) -> InlineRecord | None:
        return self._state.inline.get(owner_id, {}).get(name_key(name))

    def list_inline(self, owner_id: str) -> list[InlineRecord]:
        policies = self._state.inline.get(owner_id, {})
        return [policies[key] for key in sorted(policies)]

    def _entities(self, ids: Any) -> list[EntityRecord]:
        records = [self._state.entities[unique_id] for unique_id in ids]
        return sorted(records, key=lambda record: (name_key(record.name), record.kind, record.unique_id))

    def _policies(self, ids: Any) -> list[PolicyRecord]:
        records = [self._state.policies[policy_id] for policy_id in ids]
        return sorted(records, key=lambda record: name_key(record.name))

    def groups_of(self, user_id: str) -> list[EntityRecord]:
        return self._entities(self._state.groups_by_user.get(user_id, ()))

    def members_of(self, group_id: str) -> list[EntityRecord]:
        return self._entities(self._state.users_by_group.get(group_id, ()))

    def attached_policies(self, principal_id: str) -> list[PolicyRecord]:
        return self._policies(self._state.policies_by_principal.get(principal_id, ()))

    def attached_documents(self, principal_id: str) -> list[tuple[PolicyRecord, VersionRecord]]:
        found: list[tuple[PolicyRecord, VersionRecord]] = []
        for policy in self.attached_policies(principal_id):
            version = self._state.versions.get(policy.unique_id, {}).get(policy.default_version)
            if version is None:  # never skip it: its Deny could be the one that matters (FAIL-06)
                raise PolicyLoadError(f"the default version {policy.default_version} of attached policy "
                                 f"{policy.unique_id} is missing from the store")
            found.append((policy, version))
        return found

    def attached_principals(self, policy_id: str) -> list[EntityRecord]:
        return self._entities(self._state.principals_by_policy.get(policy_id, ()))

    def boundary_principals(self, policy_id: str) -> list[EntityRecord]:
        return self._entities(self._state.boundary_users.get(policy_id, ()))

    # writes

    def insert_tenant(self, record: TenantRecord) -> None:
        journal = self._writing()
        if record.tenant_id in self._state.tenants:
            raise KeyError(f"tenant {record.tenant_id} exists")
        journal.set(self._state.tenants, record.tenant_id, record)

    def delete_tenant(self, tenant_id: str) -> None:
        journal = self._writing()
        state = self._state
        for policy_id in list(state.policy_names.get(tenant_id, {}).values()):
            for principal_id in list(state.principals_by_policy.get(policy_id, ())):
                self.detach(principal_id, policy_id)
        for kind in ("user", "group", "role"):
            for unique_id in list(state.entity_names.get((tenant_id, kind), {}).values()):
                for group_id in list(state.groups_by_user.get(unique_id, ())):
                    self.remove_member(group_id, unique_id)
                self.delete_entity(unique_id)
        for policy_id in list(state.policy_names.get(tenant_id, {}).values()):
            self.delete_policy(policy_id)
        journal.pop(state.tenants, tenant_id)

    def insert_entity(self, record: EntityRecord) -> None:
        journal = self._writing()
        names = journal.inner(self._state.entity_names, (record.tenant_id, record.kind))
        key = name_key(record.name)
        if key in names or record.unique_id in self._state.entities:
            raise KeyError(f"{record.kind} {record.name} exists")
        journal.set(self._state.entities, record.unique_id, record)
        journal.set(names, key, record.unique_id)
        if record.boundary_id is not None:
            journal.set(journal.inner(self._state.boundary_users, record.boundary_id), record.unique_id, None)

    def update_entity(self, record: EntityRecord) -> None:
        journal = self._writing()
        old = self._state.entities[record.unique_id]
        names = self._state.entity_names[(old.tenant_id, old.kind)]
        if name_key(old.name) != name_key(record.name):
            if name_key(record.name) in names:
                raise KeyError(f"{record.kind} {record.name} exists")
            journal.pop(names, name_key(old.name))
            journal.set(names, name_key(record.name), record.unique_id)
        if old.boundary_id != record.boundary_id:
            if old.boundary_id is not None:
                journal.pop(self._state.boundary_users[old.boundary_id], record.unique_id)
            if record.boundary_id is not None:
                journal.set(journal.inner(self._state.boundary_users, record.boundary_id), record.unique_id, None)
        journal.set(self._state.entities, record.unique_id, record)

    def delete_entity(self, unique_id: str) -> None:
        journal = self._writing()
        state = self._state
        record = state.entities.get(unique_id)
        if record is None:
            return
        journal.pop(state.entity_names[(record.tenant_id, record.kind)], name_key(record.name))
        if record.boundary_id is not None:
            journal.pop(state.boundary_users[record.boundary_id], unique_id)
        for table in (state.inline, state.groups_by_user, state.users_by_group, state.policies_by_principal):
            if table.get(unique_id):
                raise RuntimeError(f"{record.kind} {record.name} still has dependents")
            journal.pop(table, unique_id)
        journal.pop(state.entities, unique_id)

    def insert_policy(self, record: PolicyRecord) -> None:
        journal = self._writing()
        names = journal.inner(self._state.policy_names, record.tenant_id)
        key = name_key(record.name)
        if key in names or record.unique_id in self._state.policies:
            raise KeyError(f"policy {record.name} exists")
        journal.set(self._state.policies, record.unique_id, record)
        journal.set(names, key, record.unique_id)

    def update_policy(self, record: PolicyRecord) -> None:
        journal = self._writing()
        old = self._state.policies[record.unique_id]
        if name_key(old.name) != name_key(record.name):
            raise ValueError("a managed policy cannot be renamed")
        journal.set(self._state.policies, record.unique_id, record)

    def delete_policy(self, policy_id: str) -> None:
        journal = self._writing()
        state = self._state
        record = state.policies.get(policy_id)
        if record is None:
            return
        if state.principals_by_policy.get(policy_id) or state.boundary_users.get(policy_id):
            raise RuntimeError(f"policy {record.name} is in use")
        journal.pop(state.policy_names[record.tenant_id], name_key(record.name))
        journal.pop(state.principals_by_policy, policy_id)
        journal.pop(state.boundary_users, policy_id)
        journal.pop(state.versions, policy_id)
        journal.pop(state.policies, policy_id)

    def insert_version(self, record: VersionRecord) -> None:
        journal = self._writing()
        versions = journal.inner(self._state.versions, record.policy_id)
        if record.version_id in versions:
            raise KeyError(f"version {record.version_id} exists")
        journal.set(versions, record.version_id, record)

    def delete_version(self, policy_id: str, version_id: str) -> None:
        journal = self._writing()
        versions = self._state.versions.get(policy_id)
        if versions is not None:
            journal.pop(versions, version_id)

    def put_inline(self, record: InlineRecord) -> None:
        journal = self._writing()
        journal.set(journal.inner(self._state.inline, record.owner_id), name_key(record.name), record)

    def delete_inline(self, owner_id: str, name: str) -> None:
        journal = self._writing()
        policies = self._state.inline.get(owner_id)
        if policies is not None:
            journal.pop(policies, name_key(name))

    def add_member(self, group_id: str, user_id: str) -> None:
        journal = self._writing()
        journal.set(journal.inner(self._state.users_by_group, group_id), user_id, None)
        journal.set(journal.inner(self._state.groups_by_user, user_id), group_id, None)

    def remove_member(self, group_id: str, user_id: str) -> None:
        journal = self._writing()
        if group_id in self._state.users_by_group:
            journal.pop(self._state.users_by_group[group_id], user_id)
        if user_id in self._state.groups_by_user:
            journal.pop(self._state.groups_by_user[user_id], group_id)

    def attach(self, principal_id: str, policy_id: str) -> None:
        journal = self._writing()
        journal.set(journal.inner(self._state.policies_by_principal, principal_id), policy_id, None)
        journal.set(journal.inner(self._state.principals_by_policy, policy_id), principal_id, None)

    def detach(self, principal_id: str, policy_id: str) -> None:
        journal = self._writing()
        if principal_id in self._state.policies_by_principal:
            journal.pop(self._state.policies_by_principal[principal_id], policy_id)
        if policy_id in self._state.principals_by_policy:
            journal.pop(self._state.principals_by_policy[policy_id], principal_id)


class MemoryStore(DirectoryStore):
    """Thread-safe, atomic per operation, in-process only."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._state = _State()
        self._journal = _Journal()
        self._generation = 0
        self._commits = 0
        self._depth = 0
        self._writer: int | None = None

    @contextmanager
    def read(self) -> Iterator[MemoryTransaction]:
        with self._lock:
            yield MemoryTransaction(self, writable=False)

    @contextmanager
    def write(self) -> Iterator[MemoryTransaction]:
        with self._lock:
            mark = len(self._journal)
            self._depth += 1
            self._writer = threading.get_ident()
            try:
                yield MemoryTransaction(self, writable=True)
            except BaseException:
                self._journal.undo(mark)
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
            if self._depth == 0:
                if len(self._journal):
                    self._generation += 1
                    self._commits += 1
                self._journal.clear()

    def generation(self) -> int:
        return self._generation

    @property
    def local_commits(self) -> int:
        return self._commits

    def in_write(self) -> bool:
        return self._writer == threading.get_ident()
