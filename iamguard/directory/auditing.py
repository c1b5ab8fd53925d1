"""Audit of every directory mutation (security spec LOG-02 and LOG-04).

Every write of the directory goes through `audited_write`. It hands the operation an
`AuditedWriter`: the store's writer, which notes each change it makes (what was created, updated,
deleted, attached, ...) with the identifiers before and after, and the entities the operation
looked up by name. When the operation succeeds, one record is built from those notes and
delivered *inside* the write transaction, just before it commits. A record that cannot be
delivered aborts the transaction: nothing is stored and `AuditUnavailableError` is raised. An
operation that fails (validation, conflict, quota) leaves no record, since its transaction is
rolled back.

Nested writes (a `Directory.batch()`, or an operation calling another) share the outermost
scope: their records are delivered when the outermost directory write is about to commit, so a
batch that ends in an exception leaves no "success" record behind. If delivery succeeded but the
commit itself then failed, a "rolled_back" record with the same request id follows (best effort).
A directory write inside a store transaction the directory did not open is refused
(AuditUnavailableError): that transaction could still roll back after the record went out. The
credentials component's records of its own changes made inside a directory write, in the same
database, join that write's records (`batch_records`), with the same delivery and the same refusal.

Records carry identifiers and SHA-256 digests of documents, never a document or a secret.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, cast

from iamguard.audit import MUTATION_ROLLED_BACK, Auditor, AuditRecord, mutation_record
from iamguard.clock import Clock
from iamguard.directory.arns import entity_arn
from iamguard.directory.errors import AuditUnavailableError
from iamguard.store.base import (
    DirectoryStore,
    DirectoryWriter,
    EntityRecord,
    InlineRecord,
    PolicyRecord,
    TenantRecord,
    VersionRecord,
)

# Past this many changes a record lists counts per kind of change instead (an import of a whole
# tenant): audit lines stay of bounded size.
MAX_LISTED_CHANGES = 100

Ref = dict[str, Any]


def digest(text: str | None) -> str | None:
    """The identifier of a document's content: its SHA-256, so the record can be matched against
    an export without holding the document."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditedWriter:
    """A DirectoryWriter that notes what it changes. Reads pass straight through; by-name
    look-ups that find something note it as a resource the operation acted on."""

    def __init__(self, writer: DirectoryWriter, tenant_id: str | None) -> None:
        self._writer = writer
        self.tenant_id = tenant_id
        self.changes: list[dict[str, Any]] = []
        self.summary: dict[str, int] = {}
        self.subject: Ref | None = None  # what the first change was made to
        self.resources: dict[str, Ref] = {}  # by unique id, in the order first seen
        self._partitions: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    # identifiers

    def _partition(self, tenant_id: str) -> str:
        partition = self._partitions.get(tenant_id)
        if partition is None:
            tenant = self._writer.get_tenant(tenant_id)
            partition = tenant.partition if tenant is not None else "aws"
            self._partitions[tenant_id] = partition
        return partition

    def _tenant_ref(self, record: TenantRecord) -> Ref:
        self._partitions[record.tenant_id] = record.partition
        return {"kind": "tenant", "name": record.name, "arn": f"arn:{record.partition}:iam::{record.tenant_id}:root",
                "id": record.tenant_id}

    def _entity_ref(self, record: EntityRecord) -> Ref:
        return {"kind": record.kind, "name": record.name, "id": record.unique_id,
                "arn": entity_arn(self._partition(record.tenant_id), record.tenant_id, record.kind, record.path,
                                  record.name)}

    def _policy_ref(self, record: PolicyRecord) -> Ref:
        return {"kind": "policy", "name": record.name, "id": record.unique_id,
                "arn": entity_arn(self._partition(record.tenant_id), record.tenant_id, "policy", record.path,
                                  record.name)}

    def _entity_id_ref(self, unique_id: str) -> Ref:
        record = self._writer.get_entity_by_id(self.tenant_id or "", unique_id)
        return self._entity_ref(record) if record is not None else {"id": unique_id}

    def _policy_id_ref(self, policy_id: str | None) -> Ref | None:
        if policy_id is None:
            return None
        record = self._writer.get_policy_by_id(self.tenant_id or "", policy_id)
        return self._policy_ref(record) if record is not None else {"kind": "policy", "id": policy_id}

    def _note(self, ref: Ref) -> None:
        self.resources.setdefault(ref.get("id", ""), ref)

    def _change(self, op: str, kind: str, subject: Callable[[], Ref],
                detail: Callable[[], dict[str, Any]]) -> None:
        """Note one change. `subject` and `detail` are called only while changes are listed, so a
        bulk import does not pay for identifiers nobody will read."""
        if len(self.changes) >= MAX_LISTED_CHANGES:
            key = f"{op} {kind}"
            self.summary[key] = self.summary.get(key, 0) + 1
            return
        ref = subject()
        if self.subject is None:
            self.subject = ref
        self._note(ref)
        self.changes.append({"op": op, "kind": kind, **detail()})

    # look-ups that name what the operation acts on

    def get_entity(self, tenant_id: str, kind: str, name: str) -> EntityRecord | None:
        record = self._writer.get_entity(tenant_id, kind, name)
        if record is not None:
            self._note(self._entity_ref(record))
        return record

    def get_policy(self, tenant_id: str, name: str) -> PolicyRecord | None:
        record = self._writer.get_policy(tenant_id, name)
        if record is not None:
            self._note(self._policy_ref(record))
        return record

    # tenants

    def insert_tenant(self, record: TenantRecord) -> None:
        self._writer.insert_tenant(record)
        self.tenant_id = self.tenant_id or record.tenant_id
        ref = self._tenant_ref(record)
        self._change("create", "tenant", lambda: ref, lambda: {"before": None, "after": {**ref,
                                                                                        "partition": record.partition}})

    def delete_tenant(self, tenant_id: str) -> None:
        record = self._writer.get_tenant(tenant_id)
        ref = self._tenant_ref(record) if record is not None else {"kind": "tenant", "id": tenant_id}
        self._writer.delete_tenant(tenant_id)
        self._change("delete", "tenant", lambda: ref, lambda: {"before": ref, "after": None})

    # users, groups and roles

    def _entity_state(self, record: EntityRecord) -> dict[str, Any]:
        state: dict[str, Any] = {**self._entity_ref(record), "path": record.path}
        if record.boundary_id is not None:
            state["permissions_boundary"] = (self._policy_id_ref(record.boundary_id) or {}).get("arn")
        if record.tags:
            state["tags"] = dict(record.tags)
        if record.trust_policy is not None:
            state["trust_policy_sha256"] = digest(record.trust_policy)
        return state

    def insert_entity(self, record: EntityRecord) -> None:
        self._writer.insert_entity(record)
        self._change("create", record.kind, lambda: self._entity_ref(record),
                     lambda: {"before": None, "after": self._entity_state(record)})

    def update_entity(self, record: EntityRecord) -> None:
        old = self._writer.get_entity_by_id(record.tenant_id, record.unique_id)
        self._writer.update_entity(record)
        if old is None:  # the store would have refused; nothing sensible to compare
            return
        self._change("update", record.kind, lambda: self._entity_ref(record),
                     lambda: {"id": record.unique_id, **self._entity_diff(old, record)})

    def _entity_diff(self, old: EntityRecord, new: EntityRecord) -> dict[str, Any]:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}

        def differ(key: str, first: Any, second: Any) -> None:
            if first != second:
                before[key], after[key] = first, second

        old_ref, new_ref = self._entity_ref(old), self._entity_ref(new)
        differ("name", old.name, new.name)
        differ("path", old.path, new.path)
        differ("arn", old_ref["arn"], new_ref["arn"])
        if old.boundary_id != new.boundary_id:
            before["permissions_boundary"] = (self._policy_id_ref(old.boundary_id) or {}).get("arn")
            after["permissions_boundary"] = (self._policy_id_ref(new.boundary_id) or {}).get("arn")
        differ("tags", dict(old.tags), dict(new.tags))
        differ("trust_policy_sha256", digest(old.trust_policy), digest(new.trust_policy))
        differ("description_sha256", digest(old.description), digest(new.description))
        differ("max_session_duration", old.max_session_duration, new.max_session_duration)
        return {"before": before, "after": after}

    def delete_entity(self, unique_id: str) -> None:
        old = self._writer.get_entity_by_id(self.tenant_id or "", unique_id)
        state = self._entity_state(old) if old is not None else {"id": unique_id}
        self._writer.delete_entity(unique_id)
        self._change("delete", old.kind if old is not None else "entity", lambda: self._ref_of(state),
                     lambda: {"before": state, "after": None})

    @staticmethod
    def _ref_of(state: dict[str, Any]) -> Ref:
        return {key: state[key] for key in ("kind", "name", "arn", "id") if key in state}

    # managed policies and versions

    def insert_policy(self, record: PolicyRecord) -> None:
        self._writer.insert_policy(record)
        self._change("create", "policy", lambda: self._policy_ref(record),
                     lambda: {"before": None, "after": {**self._policy_ref(record), "path": record.path,
                                                        "default_version": record.default_version}})

    def update_policy(self, record: PolicyRecord) -> None:
        old = self._writer.get_policy_by_id(record.tenant_id, record.unique_id)
        self._writer.update_policy(record)
        if old is None or old.default_version == record.default_version:
            return  # only the version counter moved: the new version is its own change
        self._change("update", "policy", lambda: self._policy_ref(record),
                     lambda: {"id": record.unique_id, "before": {"default_version": old.default_version},
                              "after": {"default_version": record.default_version}})

    def delete_policy(self, policy_id: str) -> None:
        ref = self._policy_id_ref(policy_id) or {}
        self._writer.delete_policy(policy_id)
        self._change("delete", "policy", lambda: ref, lambda: {"before": ref, "after": None})

    def insert_version(self, record: VersionRecord) -> None:
        self._writer.insert_version(record)
        self._change("create", "policy_version", lambda: self._policy_id_ref(record.policy_id) or {},
                     lambda: {"before": None, "after": {"policy_id": record.policy_id,
                                                        "version_id": record.version_id,
                                                        "document_sha256": digest(record.document)}})

    def delete_version(self, policy_id: str, version_id: str) -> None:
        old = self._writer.get_version(policy_id, version_id)
        self._writer.delete_version(policy_id, version_id)
        self._change("delete", "policy_version", lambda: self._policy_id_ref(policy_id) or {},
                     lambda: {"before": {"policy_id": policy_id, "version_id": version_id,
                                         "document_sha256": digest(old.document if old else None)},
                              "after": None})

    # inline policies

    def put_inline(self, record: InlineRecord) -> None:
        old = self._writer.get_inline(record.owner_id, record.name)
        self._writer.put_inline(record)
        owner = self._entity_id_ref(record.owner_id)
        before = None if old is None else {"owner": owner, "policy_name": old.name,
                                           "document_sha256": digest(old.document)}
        self._change("put", "inline_policy", lambda: owner,
                     lambda: {"before": before, "after": {"owner": owner, "policy_name": record.name,
                                                          "document_sha256": digest(record.document)}})

    def delete_inline(self, owner_id: str, name: str) -> None:
        old = self._writer.get_inline(owner_id, name)
        self._writer.delete_inline(owner_id, name)
        owner = self._entity_id_ref(owner_id)
        self._change("delete", "inline_policy", lambda: owner,
                     lambda: {"before": {"owner": owner, "policy_name": old.name if old else name,
                                         "document_sha256": digest(old.document if old else None)},
                              "after": None})

    # links: group membership and attached policies

    def _link(self, op: str, kind: str, first: str, first_id: str, second: str, second_id: str,
              second_is_policy: bool, adding: bool) -> None:
        link: dict[str, Ref] = {}

        def subject() -> Ref:
            # Looked up (and listed among the resources) only while changes are listed: past
            # MAX_LISTED_CHANGES an import's thousands of links would make the record unbounded.
            link[first] = self._entity_id_ref(first_id)
            link[second] = (self._policy_id_ref(second_id) or {}) if second_is_policy \
                else self._entity_id_ref(second_id)
            self._note(link[second])
            return link[first]

        self._change(op, kind, subject,
                     lambda: {"before": None, "after": link} if adding else {"before": link, "after": None})

    def add_member(self, group_id: str, user_id: str) -> None:
        self._writer.add_member(group_id, user_id)
        self._link("add", "membership", "group", group_id, "user", user_id, False, True)

    def remove_member(self, group_id: str, user_id: str) -> None:
        self._link("remove", "membership", "group", group_id, "user", user_id, False, False)
        self._writer.remove_member(group_id, user_id)

    def attach(self, principal_id: str, policy_id: str) -> None:
        self._writer.attach(principal_id, policy_id)
        self._link("attach", "attachment", "principal", principal_id, "policy", policy_id, True, True)

    def detach(self, principal_id: str, policy_id: str) -> None:
        self._link("detach", "attachment", "principal", principal_id, "policy", policy_id, True, False)
        self._writer.detach(principal_id, policy_id)


# Scopes: one per (thread, store) while a directory write is open, owned by the outermost one.


@dataclass
class _Scope:
    transaction_id: str
    pending: list[tuple[Auditor, AuditRecord]] = field(default_factory=list)
    # The SQLite Database whose transaction this is (None for other stores): another store object
    # over the same Database writes on the same connection, so inside this scope's transaction.
    database: object | None = None


_local = threading.local()
# The principal whose call is being carried out, when it is known (`Directory.acting_as`): the
# trusted Directory itself acts for nobody in particular.
_acting_principal: ContextVar[str | None] = ContextVar("iamguard_acting_principal", default=None)


@contextmanager
def acting_for(principal_arn: str) -> Iterator[None]:
    """Name `principal_arn` as the caller in the records of the mutations made inside."""
    token = _acting_principal.set(principal_arn)
    try:
        yield
    finally:
        _acting_principal.reset(token)


def _scopes() -> dict[int, _Scope]:
    scopes: dict[int, _Scope] | None = getattr(_local, "scopes", None)
    if scopes is None:
        scopes = _local.scopes = {}
    return scopes


def batch_records(store: DirectoryStore) -> list[tuple[Auditor, AuditRecord]] | None:
    """The records waiting for the directory write open on this thread over `store` (delivered
    just before it commits, dropped with a savepoint or a transaction that rolls back), or None
    when none is open. Records of changes that other components make inside that write's
    transaction belong there: delivered now, they could claim a change that is then undone."""
    scopes = _scopes()
    scope = scopes.get(id(store))
    database = getattr(store, "database", None)
    if scope is None and database is not None:
        # A write opened through another store object over the same Database: the change joins it.
        scope = next((open_scope for open_scope in scopes.values() if open_scope.database is database), None)
    return scope.pending if scope is not None else None


def _record(clock: Clock, writer: AuditedWriter, event: str, tenant_id: str | None,
            transaction_id: str) -> AuditRecord:
    target = writer.subject or next(iter(writer.resources.values()), None) or \
        {"kind": "tenant", "id": writer.tenant_id or tenant_id}
    return mutation_record(
        time=clock.now(), request_id=f"iam-{secrets.token_hex(8)}", event=event,
        tenant=writer.tenant_id or tenant_id, target=target, resources=list(writer.resources.values()),
        changes=writer.changes, summary=writer.summary or None, transaction_id=transaction_id,
        principal=_acting_principal.get(),
    )


def _deliver(scope: _Scope) -> None:
    failed = [record for auditor, record in scope.pending if not auditor.emit(record)]
    if failed:
        events = ", ".join(sorted({str(record.extra.get("event")) for record in failed}))
        raise AuditUnavailableError(f"the audit record of {events} could not be delivered, so the change was "
                                    "refused and nothing was stored (see the iamguard.audit.failure log)")


def _retract(scope: _Scope) -> None:
    """Follow delivered "success" records with "rolled_back" ones: the change did not happen."""
    for auditor, record in scope.pending:
        extra = {**record.extra, "outcome": MUTATION_ROLLED_BACK}
        auditor.emit(replace(record, detail=f"{extra.get('event')} {MUTATION_ROLLED_BACK}", extra=extra))


@contextmanager
def audited_write(store: DirectoryStore, auditor: Auditor | None, event: str | None, tenant_id: str | None,
                  clock: Clock) -> Iterator[DirectoryWriter]:
    """A write transaction whose changes are audited as one `event` (None: a batch that only
    groups the operations inside it). Raises AuditUnavailableError, with the transaction rolled
    back, when a record cannot be delivered."""
    scopes, key = _scopes(), id(store)
    scope = scopes.get(key)
    if scope is not None:  # nested: the outermost write delivers
        mark = len(scope.pending)
        try:
            with store.write() as raw:
                writer = AuditedWriter(raw, tenant_id)
                yield cast(DirectoryWriter, writer)
                if event is not None and auditor is not None:
                    scope.pending.append((auditor, _record(clock, writer, event, tenant_id,
                                                           scope.transaction_id)))
        except BaseException:
            del scope.pending[mark:]  # the savepoint was undone: so are its records
            raise
        return
    if store.in_write():
        # The transaction was opened around the directory (`store.database.transaction()`, a bare
        # `store.write()`): its commit or rollback happens out of sight, so a record delivered now
        # could claim a change that is later rolled back, with no "rolled_back" to follow it.
        raise AuditUnavailableError("a directory change inside a store transaction the directory did not "
                                    "open cannot be audited, so it was refused; group changes with "
                                    "Directory.batch() instead")
    scope = scopes[key] = _Scope(f"txn-{secrets.token_hex(8)}", database=getattr(store, "database", None))
    delivered = False
    try:
        with store.write() as raw:
            writer = AuditedWriter(raw, tenant_id)
            yield cast(DirectoryWriter, writer)
            if event is not None and auditor is not None:
                scope.pending.append((auditor, _record(clock, writer, event, tenant_id, scope.transaction_id)))
            try:
                _deliver(scope)
            except AuditUnavailableError:
                _retract(scope)  # some sinks may have taken records of changes now rolled back
                raise
            delivered = True
    except BaseException as exc:
        if delivered and not isinstance(exc, AuditUnavailableError):
            _retract(scope)  # the commit failed after the records went out
        raise
    finally:
        del scopes[key]
