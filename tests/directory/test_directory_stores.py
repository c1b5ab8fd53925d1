"""Store mechanics: schema versions and migrations, the generation counter, transactions,
savepoints in batches, and the shared database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import Directory, EntityAlreadyExistsError, NoSuchEntityError, StoreError
from iamguard.store.base import DirectoryStore, InlineRecord
from iamguard.store.database import Database
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import COMPONENT, MIGRATIONS, SQLiteStore
from tests.directory.helpers import TENANT, allow, trust


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d.db")
    assert store.schema_version == len(MIGRATIONS) == 1
    raw = sqlite3.connect(tmp_path / "d.db")
    assert raw.execute("SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)).fetchone() == (1,)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_reopening_does_not_reapply_migrations(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "d.db")
    Directory.create_tenant(first, TENANT)
    Directory(first, TENANT).create_user("alice")
    first.close()
    again = SQLiteStore(tmp_path / "d.db")
    assert Directory(again, TENANT).get_user("alice").user_name == "alice"
    assert again.schema_version == 1


def test_migrations_only_move_forward(tmp_path: Path) -> None:
    database = Database(tmp_path / "d.db")
    SQLiteStore(database)
    upgraded = (*MIGRATIONS, "ALTER TABLE dir_tenants ADD COLUMN note TEXT")
    database.migrate(COMPONENT, upgraded)
    assert database.schema_version(COMPONENT) == 2
    # This iamguard knows schema 1 only: it refuses a newer file instead of guessing.
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(tmp_path / "d.db")


def test_other_components_share_the_database(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d.db")
    store.database.migrate("credentials", ["CREATE TABLE cred_keys (id TEXT PRIMARY KEY)"])
    assert store.database.schema_version("credentials") == 1
    assert store.database.schema_version(COMPONENT) == 1
    assert SQLiteStore(store.database).database is store.database


def test_every_write_bumps_the_generation_once(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    start = store.generation()
    directory.create_user("alice")
    assert store.generation() == start + 1
    directory.get_user("alice")
    directory.list_users()
    assert store.generation() == start + 1  # reads do not bump
    with directory.batch():
        directory.create_user("bob")
        directory.create_user("carol")
    assert store.generation() > start + 1
    after_batch = store.generation()
    with pytest.raises(EntityAlreadyExistsError):
        directory.create_user("bob")
    assert store.generation() == after_batch  # a refused write does not bump


def test_local_commits_change_with_each_commit(store: DirectoryStore) -> None:
    before = store.local_commits
    Directory.create_tenant(store, TENANT)
    assert store.local_commits != before


def test_a_batch_is_one_transaction_with_atomic_operations_inside(store: DirectoryStore) -> None:
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    with directory.batch():
        directory.create_user("alice")
        with pytest.raises(NoSuchEntityError):
            directory.add_user_to_group("missing", "alice")  # fails alone: a savepoint
        directory.create_group("devs")
        directory.add_user_to_group("devs", "alice")
        assert store.in_write()
    assert not store.in_write()
    assert [group.group_name for group in directory.list_groups_for_user("alice")] == ["devs"]

    with pytest.raises(RuntimeError), directory.batch():
        directory.create_user("bob")
        raise RuntimeError("stop")
    with pytest.raises(NoSuchEntityError):
        directory.get_user("bob")  # the whole batch was undone


def test_a_failed_operation_inside_a_batch_leaves_nothing_behind(store: DirectoryStore) -> None:
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    directory.create_user("alice")
    before = directory.export_tenant()
    with directory.batch():
        with pytest.raises(Exception, match="trusts everyone"):
            directory.create_role("open", trust("*"))
        with pytest.raises(NoSuchEntityError):
            directory.put_user_permissions_boundary("alice", "arn:aws:iam::123456789012:policy/Missing")
    assert directory.export_tenant() == before


def test_memory_store_undoes_nested_failures_exactly() -> None:
    store = MemoryStore()
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    directory.create_user("alice", tags={"a": "1"})
    policy = directory.create_policy("P", allow())
    directory.attach_user_policy("alice", policy.arn)
    before = directory.export_tenant()
    with pytest.raises(ValueError), store.write() as writer:
        writer.detach(directory.get_user("alice").user_id, policy.policy_id)
        writer.delete_inline("nobody", "x")
        writer.put_inline(InlineRecord(directory.get_user("alice").user_id, "New", "{}"))
        raise ValueError("undo everything")
    assert directory.export_tenant() == before


def test_read_transactions_refuse_writes(store: DirectoryStore) -> None:
    Directory.create_tenant(store, TENANT)
    with store.read() as reader, pytest.raises(RuntimeError, match="read-only"):
        reader.delete_tenant(TENANT)  # type: ignore[attr-defined]
    assert Directory.get_tenant(store, TENANT).tenant_id == TENANT
