"""Opening a store that is in use takes no write lock: a reader (a worker starting, a read-only
CLI command) is not held up, or refused after the timeout, by another process's long write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamguard.credentials import Credentials
from iamguard.directory import Directory
from iamguard.store.database import StoreError
from iamguard.store.sqlite import SQLiteStore
from tests.credentials.conftest import cheap_settings

TENANT = "111122223333"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "iam.db"
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    directory.create_user("alice")
    Credentials(directory, **cheap_settings())  # its tables too
    store.database.close()
    return path


@pytest.fixture
def writer_holding_the_lock(store_path: Path) -> Iterator[sqlite3.Connection]:
    writer = sqlite3.connect(store_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    yield writer
    writer.execute("ROLLBACK")
    writer.close()


def test_a_store_in_use_opens_and_reads_while_another_connection_writes(
        store_path: Path, writer_holding_the_lock: sqlite3.Connection) -> None:
    store = SQLiteStore(store_path, timeout=0.2)
    directory = Directory(store, TENANT)
    Credentials(directory, **cheap_settings())
    assert directory.get_user("alice").user_name == "alice"
    # A write still waits for the lock, and says so when it cannot have it.
    with pytest.raises(StoreError):
        directory.create_user("bob")


def test_a_new_store_is_still_created_with_its_schema(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "new.db")
    Directory.create_tenant(store, TENANT)
    assert store.database.schema_version("directory") > 0
    assert [tenant.tenant_id for tenant in Directory.list_tenants(store)] == [TENANT]
