"""From a principal ARN to its compiled policy set, cached and kept fresh by the store generation.

Freshness rules (security spec CACHE-01..03, FAIL-05/06):
- every write bumps the store generation in the same transaction;
- this process's own writes change the store's `local_commits`, checked on every call, so the
  next call after a write revalidates: it is decided on the new state;
- other processes' writes are noticed by re-reading the generation at most `ttl` seconds after
  the last check, so a stale entry never outlives a change by more than `ttl`;
- a cached entry is only ever stored under the generation it was read at, errors are never
  cached, and a store error raises StoreError (authorization turns it into a deny).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import cachetools

from iamguard.clock import Clock
from iamguard.directory.arns import entity_arn, parse_iam_arn
from iamguard.directory.errors import IamError, NoSuchEntityError
from iamguard.directory.model import Tag
from iamguard.engine.compiler import Policy, parse_policy
from iamguard.engine.evaluator import PolicySet
from iamguard.errors import PolicyError
from iamguard.store.base import ROLE, USER, DirectoryReader, DirectoryStore, EntityRecord, TenantRecord
from iamguard.store.database import PolicyLoadError, StoreError

_PRINCIPAL_TYPES = {USER: "User", ROLE: "AssumedRole"}
_DERIVED_LIMIT = 32


def is_principal_key(key: object) -> bool:
    """Keys that describe the principal. Only the directory sets them; a caller's value for any of
    them (even for a tag the principal does not have) is dropped."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered.startswith("aws:principal") or lowered in ("aws:userid", "aws:username")


@dataclass(frozen=True)
class ResolvedPrincipal:
    """A user or role with everything a decision needs, compiled once.

    `identity_policies`: for a user its inline policies, its attached managed policies (default
    versions), and each group's inline and attached policies; for a role its inline and attached
    policies. `context` holds the principal's keys (aws:PrincipalArn, aws:PrincipalAccount,
    aws:userid, aws:username for users, aws:PrincipalType, aws:PrincipalTag/<key>).
    """

    arn: str
    unique_id: str
    kind: str
    name: str
    tenant_id: str
    tags: tuple[Tag, ...]
    identity_policies: tuple[Policy, ...]
    permissions_boundary: Policy | None
    context: Mapping[str, Any] = field(repr=False)
    policy_set: PolicySet = field(repr=False, compare=False)
    generation: int = field(default=0, compare=False)
    _derived: dict[tuple[Any, ...], PolicySet] = field(default_factory=dict, repr=False, compare=False)

    def request_context(self, context: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The caller's context with the principal's keys laid over it (they cannot be overridden)."""
        if not context:
            return self.context
        merged = {key: value for key, value in context.items() if not is_principal_key(key)}
        merged.update(self.context)
        return merged

    def policy_set_with(self, resource_policy: Any = None, session_policies: Iterable[Any] | None = None) -> PolicySet:
        """The principal's policies plus a resource policy and/or session policies. Memoized by
        content, so passing the same documents again costs a hash."""
        if resource_policy is None and session_policies is None:
            return self.policy_set
        resource = parse_policy(resource_policy, "resource") if resource_policy is not None else None
        sessions = tuple(parse_policy(policy, "session") for policy in session_policies) \
            if session_policies is not None else None
        key = (
            (resource.digest, resource.name) if resource is not None else None,
            tuple((policy.digest, policy.name) for policy in sessions) if sessions is not None else None,
        )
        combined = self._derived.get(key)
        if combined is None:
            combined = PolicySet(self.identity_policies, resource, self.permissions_boundary, sessions)
            if len(self._derived) >= _DERIVED_LIMIT:
                self._derived.clear()
            self._derived[key] = combined
        return combined


def principal_context(tenant: TenantRecord, record: EntityRecord, arn: str) -> Mapping[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": arn,
        "aws:PrincipalAccount": tenant.tenant_id,
        "aws:userid": record.unique_id,
        "aws:PrincipalType": _PRINCIPAL_TYPES[record.kind],
    }
    if record.kind == USER:
        context["aws:username"] = record.name
    for key, value in record.tags:
        context[f"aws:PrincipalTag/{key}"] = value
    return MappingProxyType(context)


def _compile(text: str, kind: str, label: str) -> Policy:
    try:
        return parse_policy(text, kind, name=label)
    except PolicyError as exc:
        # A stored document that no longer parses must not be skipped (its Deny could be the one
        # that matters): the whole resolution fails, and authorization denies.
        raise PolicyLoadError(f"the stored policy {label!r} cannot be loaded: {exc}") from None


def load_principal(reader: DirectoryReader, tenant: TenantRecord, record: EntityRecord) -> ResolvedPrincipal:
    """Read one principal's policies in the reader's snapshot and compile them."""
    partition, tenant_id = tenant.partition, tenant.tenant_id

    def policy_arn(path: str, name: str) -> str:
        return entity_arn(partition, tenant_id, "policy", path, name)

    policies: list[Policy] = []
    seen_managed: set[str] = set()

    def add_owned(owner: EntityRecord, suffix: str) -> None:
        for inline in reader.list_inline(owner.unique_id):
            policies.append(_compile(inline.document, "identity", f"{owner.kind} {owner.name} inline {inline.name}"))
        for policy, version in reader.attached_documents(owner.unique_id):
            if policy.unique_id in seen_managed:
                continue
            seen_managed.add(policy.unique_id)
            policies.append(_compile(version.document, "identity", policy_arn(policy.path, policy.name) + suffix))

    add_owned(record, "")
    if record.kind == USER:
        for group in reader.groups_of(record.unique_id):
            add_owned(group, f" via group {group.name}")

    boundary: Policy | None = None
    if record.boundary_id is not None:
        boundary_record = reader.get_policy_by_id(tenant_id, record.boundary_id)
        version = reader.get_version(record.boundary_id, boundary_record.default_version) \
            if boundary_record is not None else None
        if boundary_record is None or version is None:
            raise PolicyLoadError(f"the permissions boundary of {record.kind} {record.name} is missing from the store")
        boundary = _compile(version.document, "boundary", policy_arn(boundary_record.path, boundary_record.name))

    arn = entity_arn(partition, tenant_id, record.kind, record.path, record.name)
    identity = tuple(policies)
    return ResolvedPrincipal(
        arn=arn, unique_id=record.unique_id, kind=record.kind, name=record.name, tenant_id=tenant_id,
        tags=tuple(Tag(key, value) for key, value in record.tags), identity_policies=identity,
        permissions_boundary=boundary, context=principal_context(tenant, record, arn),
        policy_set=PolicySet(identity, permissions_boundary=boundary), generation=reader.generation(),
    )


class GenerationCache:
    """An LRU of resolutions, emptied whenever the store generation moves."""

    def __init__(self, store: DirectoryStore, clock: Clock, ttl: float, maxsize: int) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._entries: cachetools.LRUCache[Any, ResolvedPrincipal] = cachetools.LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._checked_at = 0.0
        self._seen_commits: int | None = None

    def _revalidate(self) -> None:
        commits = self._store.local_commits  # read before the generation: a later commit re-checks
        now = self._clock.time()
        if commits == self._seen_commits and 0.0 <= now - self._checked_at < self._ttl:
            return
        generation = self._store.generation()
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            self._checked_at = now
            self._seen_commits = commits

    def get(self, key: Any) -> ResolvedPrincipal | None:
        self._revalidate()
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Any, value: ResolvedPrincipal) -> None:
        with self._lock:
            if self._generation is None or value.generation > self._generation:
                # Read from a newer state than the last check: everything older may be stale.
                self._entries.clear()
                self._generation = value.generation
            if value.generation == self._generation:
                self._entries[key] = value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation = None
            self._seen_commits = None

    def __len__(self) -> int:
        return len(self._entries)


class PrincipalResolver:
    """Resolves the principals of one tenant."""

    def __init__(self, store: DirectoryStore, tenant: TenantRecord, *, clock: Clock, ttl: float,
                 maxsize: int) -> None:
        self._store = store
        self._tenant = tenant
        self.cache = GenerationCache(store, clock, ttl, maxsize)

    def resolve(self, principal_arn: object, unique_id: str | None = None,
                at_least: int | None = None) -> ResolvedPrincipal:
        """`at_least`: a store generation the caller has already read (its own cache of answers
        derived from this one is kept under it). The cache re-reads the generation on its own
        schedule, so it may still hold entries of an older generation, unaware of another
        process's write that the caller has seen: those are not used, or the caller would keep a
        stale answer under the newer generation, past the TTL bound (CACHE-02)."""
        parsed = parse_iam_arn(principal_arn, (USER, ROLE), "PrincipalArn")
        assert isinstance(principal_arn, str)
        tenant = self._tenant
        if parsed.partition != tenant.partition or parsed.account != tenant.tenant_id:
            raise NoSuchEntityError(f"{principal_arn} is not a principal of tenant {tenant.tenant_id}")

        def find(reader: DirectoryReader) -> EntityRecord | None:
            record = reader.get_entity(tenant.tenant_id, parsed.kind, parsed.name)
            # The ARN must match exactly: names are unique regardless of case, ARNs are not.
            if record is None or entity_arn(tenant.partition, tenant.tenant_id, record.kind, record.path,
                                            record.name) != principal_arn:
                return None
            return record

        resolved = self._cached(("arn", tenant.tenant_id, principal_arn), find, principal_arn, at_least)
        if unique_id is not None and resolved.unique_id != unique_id:
            raise NoSuchEntityError(f"{principal_arn} is now a different principal (unique id changed)")
        return resolved

    def resolve_id(self, unique_id: str, at_least: int | None = None) -> ResolvedPrincipal:
        tenant = self._tenant

        def find(reader: DirectoryReader) -> EntityRecord | None:
            record = reader.get_entity_by_id(tenant.tenant_id, unique_id)
            return record if record is not None and record.kind in (USER, ROLE) else None

        return self._cached(("id", tenant.tenant_id, unique_id), find, unique_id, at_least)

    def _cached(self, key: tuple[str, ...], find: Any, shown: str, at_least: int | None = None) -> ResolvedPrincipal:
        try:
            writing = self._store.in_write()
            if not writing:
                hit = self.cache.get(key)
                if hit is not None and (at_least is None or hit.generation >= at_least):
                    return hit
            with self._store.read() as reader:
                record = find(reader)
                if record is None:
                    raise NoSuchEntityError(f"no user or role {shown} in tenant {self._tenant.tenant_id}")
                resolved = load_principal(reader, self._tenant, record)
        except (IamError, StoreError):
            raise
        except Exception as exc:  # any fault while loading surfaces as a store error
            raise StoreError(f"cannot resolve {shown}: {type(exc).__name__}: {exc}") from exc
        if not writing:
            self.cache.put(key, resolved)
        return resolved


__all__ = ["GenerationCache", "PrincipalResolver", "ResolvedPrincipal", "is_principal_key"]
