"""The default directory store: tables in the shared SQLite database (`iamguard.store.database`).

Every operation is one transaction (BEGIN IMMEDIATE, so a check-then-write is atomic across
processes); nested operations (a `Directory.batch()`) are savepoints. The schema is registered
as the "directory" component and migrated forward only. Foreign keys keep the tables consistent
even if a bug tried to delete a principal that still has dependents.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
from iamguard.store.database import Database, PolicyLoadError, StoreError

COMPONENT = "directory"

_SCHEMA_V1 = """
CREATE TABLE dir_tenants (
    tenant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    partition TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE dir_policies (
    unique_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES dir_tenants (tenant_id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    description TEXT NOT NULL,
    default_version TEXT NOT NULL,
    next_version INTEGER NOT NULL,
    UNIQUE (tenant_id, name_key)
);
CREATE TABLE dir_policy_versions (
    policy_id TEXT NOT NULL REFERENCES dir_policies (unique_id) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    document TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (policy_id, version_id)
);
CREATE TABLE dir_entities (
    unique_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES dir_tenants (tenant_id),
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    path TEXT NOT NULL,
    created TEXT NOT NULL,
    tags TEXT NOT NULL,
    boundary_id TEXT REFERENCES dir_policies (unique_id),
    trust_policy TEXT,
    description TEXT,
    max_session_duration INTEGER,
    UNIQUE (tenant_id, kind, name_key)
);
CREATE INDEX dir_entities_boundary ON dir_entities (boundary_id) WHERE boundary_id IS NOT NULL;
CREATE TABLE dir_inline_policies (
    owner_id TEXT NOT NULL REFERENCES dir_entities (unique_id),
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (owner_id, name_key)
);
CREATE TABLE dir_memberships (
    group_id TEXT NOT NULL REFERENCES dir_entities (unique_id),
    user_id TEXT NOT NULL REFERENCES dir_entities (unique_id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX dir_memberships_user ON dir_memberships (user_id);
CREATE TABLE dir_attachments (
    principal_id TEXT NOT NULL REFERENCES dir_entities (unique_id),
    policy_id TEXT NOT NULL REFERENCES dir_policies (unique_id),
    PRIMARY KEY (principal_id, policy_id)
);
CREATE INDEX dir_attachments_policy ON dir_attachments (policy_id)
"""

MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1,)
"""Forward-only: append new scripts, never edit a released one."""

_ENTITY_COLUMNS = ("tenant_id, kind, unique_id, name, path, created, tags, boundary_id, trust_policy, description, "
                   "max_session_duration")
_POLICY_COLUMNS = "tenant_id, unique_id, name, path, created, updated, description, default_version, next_version"
_ENTITY_ORDER = "ORDER BY name_key, kind, unique_id"


def _entity(row: sqlite3.Row) -> EntityRecord:
    try:
        tags = tuple((str(key), str(value)) for key, value in json.loads(row["tags"]))
    except (ValueError, TypeError) as exc:
        raise StoreError(f"the tags of {row['kind']} {row['unique_id']} are unreadable: {exc}") from None
    return EntityRecord(row["tenant_id"], row["kind"], row["unique_id"], row["name"], row["path"], row["created"],
                        tags, row["boundary_id"], row["trust_policy"], row["description"],
                        row["max_session_duration"])


def _policy(row: sqlite3.Row) -> PolicyRecord:
    return PolicyRecord(row["tenant_id"], row["unique_id"], row["name"], row["path"], row["created"],
                        row["updated"], row["description"], row["default_version"], row["next_version"])


def _version(row: sqlite3.Row) -> VersionRecord:
    return VersionRecord(row["policy_id"], row["version_id"], row["document"], row["created"])


def _entity_values(record: EntityRecord) -> tuple[Any, ...]:
    return (record.tenant_id, record.kind, record.unique_id, record.name, record.path, record.created,
            json.dumps([list(pair) for pair in record.tags]), record.boundary_id, record.trust_policy,
            record.description, record.max_session_duration, name_key(record.name))


def _prefix_filter(path_prefix: str) -> tuple[str, tuple[Any, ...]]:
    if path_prefix == "/":
        return "", ()
    return " AND substr(path, 1, ?) = ?", (len(path_prefix), path_prefix)


class SQLiteTransaction:
    """Reads (and, when writable, writes) through the calling thread's connection."""

    def __init__(self, connection: sqlite3.Connection, *, writable: bool) -> None:
        self._db = connection
        self._writable = writable
        self.dirty = False

    def _run(self, sql: str, values: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, values).fetchall()

    def _one(self, sql: str, values: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, values).fetchone()
        return row

    def _change(self, sql: str, values: tuple[Any, ...] = ()) -> int:
        if not self._writable:
            raise RuntimeError("this is a read-only transaction")
        self.dirty = True
        return self._db.execute(sql, values).rowcount

    # reads

    def generation(self) -> int:
        row = self._one("SELECT value FROM generation WHERE id = 1")
        return int(row["value"]) if row else 0

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        row = self._one("SELECT * FROM dir_tenants WHERE tenant_id = ?", (tenant_id,))
        return TenantRecord(row["tenant_id"], row["name"], row["partition"], row["created"]) if row else None

    def list_tenants(self) -> list[TenantRecord]:
        rows = self._run("SELECT * FROM dir_tenants ORDER BY tenant_id")
        return [TenantRecord(row["tenant_id"], row["name"], row["partition"], row["created"]) for row in rows]

    def get_entity(self, tenant_id: str, kind: str, name: str) -> EntityRecord | None:
        row = self._one("SELECT * FROM dir_entities WHERE tenant_id = ? AND kind = ? AND name_key = ?",
                        (tenant_id, kind, name_key(name)))
        return _entity(row) if row else None

    def get_entity_by_id(self, tenant_id: str, unique_id: str) -> EntityRecord | None:
        row = self._one("SELECT * FROM dir_entities WHERE unique_id = ? AND tenant_id = ?", (unique_id, tenant_id))
        return _entity(row) if row else None

    def unique_id_taken(self, unique_id: str) -> bool:
        return self._one("SELECT 1 FROM dir_entities WHERE unique_id = ? UNION ALL "
                         "SELECT 1 FROM dir_policies WHERE unique_id = ?", (unique_id, unique_id)) is not None

    def list_entities(self, tenant_id: str, kind: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[EntityRecord]:
        prefix_sql, prefix_values = _prefix_filter(path_prefix)
        rows = self._run(
            f"SELECT * FROM dir_entities WHERE tenant_id = ? AND kind = ? AND name_key > ?{prefix_sql} "
            "ORDER BY name_key LIMIT ?",
            (tenant_id, kind, after if after is not None else "", *prefix_values, -1 if limit is None else limit),
        )
        return [_entity(row) for row in rows]

    def get_policy(self, tenant_id: str, name: str) -> PolicyRecord | None:
        row = self._one("SELECT * FROM dir_policies WHERE tenant_id = ? AND name_key = ?", (tenant_id, name_key(name)))
        return _policy(row) if row else None

    def get_policy_by_id(self, tenant_id: str, policy_id: str) -> PolicyRecord | None:
        row = self._one("SELECT * FROM dir_policies WHERE unique_id = ? AND tenant_id = ?", (policy_id, tenant_id))
        return _policy(row) if row else None

    def list_policies(self, tenant_id: str, *, path_prefix: str = "/", after: str | None = None,
                      limit: int | None = None) -> list[PolicyRecord]:
        prefix_sql, prefix_values = _prefix_filter(path_prefix)
        rows = self._run(
            f"SELECT * FROM dir_policies WHERE tenant_id = ? AND name_key > ?{prefix_sql} ORDER BY name_key LIMIT ?",
            (tenant_id, after if after is not None else "", *prefix_values, -1 if limit is None else limit),
        )
        return [_policy(row) for row in rows]

    def get_version(self, policy_id: str, version_id: str) -> VersionRecord | None:
        row = self._one("SELECT * FROM dir_policy_versions WHERE policy_id = ? AND version_id = ?",
                        (policy_id, version_id))
        return _version(row) if row else None

    def list_versions(self, policy_id: str) -> list[VersionRecord]:
        rows = self._run("SELECT * FROM dir_policy_versions WHERE policy_id = ? ORDER BY number", (policy_id,))
        return [_version(row) for row in rows]

    def get_inline(self, owner_id: str, name: str) -> InlineRecord | None:
        row = self._one("SELECT * FROM dir_inline_policies WHERE owner_id = ? AND name_key = ?",
                        (owner_id, name_key(name)))
        return InlineRecord(row["owner_id"], row["name"], row["document"]) if row else None

    def list_inline(self, owner_id: str) -> list[InlineRecord]:
        rows = self._run("SELECT * FROM dir_inline_policies WHERE owner_id = ? ORDER BY name_key", (owner_id,))
        return [InlineRecord(row["owner_id"], row["name"], row["document"]) for row in rows]

    def groups_of(self, user_id: str) -> list[EntityRecord]:
        rows = self._run("SELECT e.* FROM dir_memberships m JOIN dir_entities e ON e.unique_id = m.group_id "
                         f"WHERE m.user_id = ? {_ENTITY_ORDER}", (user_id,))
        return [_entity(row) for row in rows]

    def members_of(self, group_id: str) -> list[EntityRecord]:
        rows = self._run("SELECT e.* FROM dir_memberships m JOIN dir_entities e ON e.unique_id = m.user_id "
                         f"WHERE m.group_id = ? {_ENTITY_ORDER}", (group_id,))
        return [_entity(row) for row in rows]

    def attached_policies(self, principal_id: str) -> list[PolicyRecord]:
        rows = self._run("SELECT p.* FROM dir_attachments a JOIN dir_policies p ON p.unique_id = a.policy_id "
                         "WHERE a.principal_id = ? ORDER BY p.name_key", (principal_id,))
        return [_policy(row) for row in rows]

    def attached_documents(self, principal_id: str) -> list[tuple[PolicyRecord, VersionRecord]]:
        # LEFT JOIN: an attached policy whose default version row is missing must fail the load
        # (security spec FAIL-06), not vanish from the result as an inner join would make it.
        rows = self._run(
            "SELECT p.*, v.policy_id AS version_policy_id, v.version_id, v.document, v.created AS version_created "
            "FROM dir_attachments a JOIN dir_policies p ON p.unique_id = a.policy_id "
            "LEFT JOIN dir_policy_versions v ON v.policy_id = p.unique_id AND v.version_id = p.default_version "
            "WHERE a.principal_id = ? ORDER BY p.name_key", (principal_id,))
        found: list[tuple[PolicyRecord, VersionRecord]] = []
        for row in rows:
            if row["version_policy_id"] is None:
                raise PolicyLoadError(f"the default version {row['default_version']} of attached policy "
                                 f"{row['unique_id']} is missing from the store")
            found.append((_policy(row), VersionRecord(row["version_policy_id"], row["version_id"], row["document"],
                                                      row["version_created"])))
        return found

    def attached_principals(self, policy_id: str) -> list[EntityRecord]:
        rows = self._run("SELECT e.* FROM dir_attachments a JOIN dir_entities e ON e.unique_id = a.principal_id "
                         f"WHERE a.policy_id = ? {_ENTITY_ORDER}", (policy_id,))
        return [_entity(row) for row in rows]

    def boundary_principals(self, policy_id: str) -> list[EntityRecord]:
        rows = self._run(f"SELECT * FROM dir_entities WHERE boundary_id = ? {_ENTITY_ORDER}", (policy_id,))
        return [_entity(row) for row in rows]

    # writes

    def insert_tenant(self, record: TenantRecord) -> None:
        self._change("INSERT INTO dir_tenants (tenant_id, name, partition, created) VALUES (?, ?, ?, ?)",
                     (record.tenant_id, record.name, record.partition, record.created))

    def delete_tenant(self, tenant_id: str) -> None:
        owned = "(SELECT unique_id FROM dir_entities WHERE tenant_id = ?)"
        self._change(f"DELETE FROM dir_attachments WHERE principal_id IN {owned}", (tenant_id,))
        self._change(f"DELETE FROM dir_memberships WHERE user_id IN {owned}", (tenant_id,))
        self._change(f"DELETE FROM dir_inline_policies WHERE owner_id IN {owned}", (tenant_id,))
        self._change("DELETE FROM dir_entities WHERE tenant_id = ?", (tenant_id,))
        self._change("DELETE FROM dir_policies WHERE tenant_id = ?", (tenant_id,))
        self._change("DELETE FROM dir_tenants WHERE tenant_id = ?", (tenant_id,))

    def insert_entity(self, record: EntityRecord) -> None:
        self._change(f"INSERT INTO dir_entities ({_ENTITY_COLUMNS}, name_key) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _entity_values(record))

    def update_entity(self, record: EntityRecord) -> None:
        values = _entity_values(record)
        self._change(
            "UPDATE dir_entities SET name = ?, path = ?, created = ?, tags = ?, boundary_id = ?, trust_policy = ?, "
            "description = ?, max_session_duration = ?, name_key = ? WHERE unique_id = ?",
            (*values[3:], record.unique_id),
        )

    def delete_entity(self, unique_id: str) -> None:
        self._change("DELETE FROM dir_entities WHERE unique_id = ?", (unique_id,))

    def insert_policy(self, record: PolicyRecord) -> None:
        self._change(f"INSERT INTO dir_policies ({_POLICY_COLUMNS}, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (record.tenant_id, record.unique_id, record.name, record.path, record.created, record.updated,
                      record.description, record.default_version, record.next_version, name_key(record.name)))

    def update_policy(self, record: PolicyRecord) -> None:
        count = self._change(
            "UPDATE dir_policies SET path = ?, created = ?, updated = ?, description = ?, default_version = ?, "
            "next_version = ? WHERE unique_id = ? AND name_key = ?",
            (record.path, record.created, record.updated, record.description, record.default_version,
             record.next_version, record.unique_id, name_key(record.name)))
        if count != 1:
            raise ValueError("a managed policy cannot be renamed")

    def delete_policy(self, policy_id: str) -> None:
        self._change("DELETE FROM dir_policies WHERE unique_id = ?", (policy_id,))

    def insert_version(self, record: VersionRecord) -> None:
        self._change("INSERT INTO dir_policy_versions (policy_id, version_id, number, document, created) "
                     "VALUES (?, ?, ?, ?, ?)",
                     (record.policy_id, record.version_id, record.number, record.document, record.created))

    def delete_version(self, policy_id: str, version_id: str) -> None:
        self._change("DELETE FROM dir_policy_versions WHERE policy_id = ? AND version_id = ?", (policy_id, version_id))

    def put_inline(self, record: InlineRecord) -> None:
        self._change(
            "INSERT INTO dir_inline_policies (owner_id, name_key, name, document) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (owner_id, name_key) DO UPDATE SET name = excluded.name, document = excluded.document",
            (record.owner_id, name_key(record.name), record.name, record.document))

    def delete_inline(self, owner_id: str, name: str) -> None:
        self._change("DELETE FROM dir_inline_policies WHERE owner_id = ? AND name_key = ?", (owner_id, name_key(name)))

    def add_member(self, group_id: str, user_id: str) -> None:
        self._change("INSERT OR IGNORE INTO dir_memberships (group_id, user_id) VALUES (?, ?)", (group_id, user_id))

    def remove_member(self, group_id: str, user_id: str) -> None:
        self._change("DELETE FROM dir_memberships WHERE group_id = ? AND user_id = ?", (group_id, user_id))

    def attach(self, principal_id: str, policy_id: str) -> None:
        self._change("INSERT OR IGNORE INTO dir_attachments (principal_id, policy_id) VALUES (?, ?)",
                     (principal_id, policy_id))

    def detach(self, principal_id: str, policy_id: str) -> None:
        self._change("DELETE FROM dir_attachments WHERE principal_id = ? AND policy_id = ?", (principal_id, policy_id))


class SQLiteStore(DirectoryStore):
    """Directory tables in one SQLite file (WAL), shared by every process on the host.

    `database` is exposed so other components can register their own tables in the same file.
    """

    def __init__(self, path: str | Path | Database, *, timeout: float = 5.0) -> None:
        super().__init__()
        self.database = path if isinstance(path, Database) else Database(path, timeout=timeout)
        self.database.migrate(COMPONENT, MIGRATIONS)
        self._savepoints = itertools.count(1)
        self._local = threading.local()

    @property
    def path(self) -> str:
        return self.database.path

    @property
    def schema_version(self) -> int:
        return self.database.schema_version(COMPONENT)

    @contextmanager
    def read(self) -> Iterator[SQLiteTransaction]:
        try:
            with self.database.reading() as connection:
                yield SQLiteTransaction(connection, writable=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the directory: {exc}") from None

    @contextmanager
    def write(self) -> Iterator[SQLiteTransaction]:
        connection = self.database.connection()
        try:
            if connection.in_transaction:
                with self._savepoint(connection) as transaction:
                    yield transaction
            else:
                with self.database.transaction() as outer:
                    self._local.writing = True
                    try:
                        transaction = SQLiteTransaction(outer, writable=True)
                        yield transaction
                        if transaction.dirty:
                            Database.bump_generation(outer)
                    finally:
                        self._local.writing = False
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the directory: {exc}") from None

    @contextmanager
    def _savepoint(self, connection: sqlite3.Connection) -> Iterator[SQLiteTransaction]:
        name = f"iamguard_directory_{next(self._savepoints)}"
        connection.execute(f"SAVEPOINT {name}")
        transaction = SQLiteTransaction(connection, writable=True)
        try:
            yield transaction
            if transaction.dirty:
                Database.bump_generation(connection)
        except BaseException:
            connection.execute(f"ROLLBACK TO {name}")
            connection.execute(f"RELEASE {name}")
            raise
        connection.execute(f"RELEASE {name}")

    def generation(self) -> int:
        return self.database.generation()

    @property
    def local_commits(self) -> int:
        return self.database.commit_count

    def in_write(self) -> bool:
        # A transaction opened through the shared Database by another component counts too.
        return bool(getattr(self._local, "writing", False)) or self.database.connection().in_transaction

    def close(self) -> None:
        self.database.close()
