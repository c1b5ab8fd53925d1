"""Regression tests for problems found in the review of the audit-trail changes (directory
mutation audit, `--audit-log`): each failed before its fix."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from iamguard.audit import MemorySink
from iamguard.cli import main
from iamguard.clock import FrozenClock
from iamguard.directory import AuditUnavailableError, Directory, NoSuchEntityError
from iamguard.directory.auditing import MAX_LISTED_CHANGES
from iamguard.store.base import DirectoryStore
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore

TENANT = "123456789012"
KEY = base64.b64encode(bytes(range(32))).decode()


def _audit_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()] if path.exists() else []


@pytest.mark.parametrize(("env", "expected_code", "expected_actions"), [
    # A bad data key fails the command after the tenant, policy and user were made in its transaction:
    # all of it is rolled back, so the log must not claim any of it happened.
    ({"IAMGUARD_DATA_KEY": "not-a-key"}, 2, []),
    ({"IAMGUARD_DATA_KEY": KEY, "IAMGUARD_PEPPER": KEY}, 0,
     ["iam:CreateTenant", "iam:CreatePolicy", "iam:CreateUser", "iam:AttachUserPolicy"]),
])
def test_init_logs_only_the_changes_it_committed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 env: dict[str, str], expected_code: int,
                                                 expected_actions: list[str]) -> None:
    log, store_path = tmp_path / "audit.jsonl", tmp_path / "iamguard.db"
    code = main(["init", "--tenant-id", TENANT, "--audit-log", str(log)],
                environ={"IAMGUARD_STORE": str(store_path), **env}, clock=FrozenClock())
    capsys.readouterr()
    assert code == expected_code
    mutations = [line["action"] for line in _audit_lines(log) if line["reason"] == "iam_mutation"]
    assert mutations == expected_actions
    assert [tenant.tenant_id for tenant in Directory.list_tenants(SQLiteStore(store_path))] == \
        ([TENANT] if expected_actions else [])


def _sqlite_transaction(store: DirectoryStore) -> AbstractContextManager[object]:
    assert isinstance(store, SQLiteStore)
    return store.database.transaction()


def _bare_write(store: DirectoryStore) -> AbstractContextManager[object]:
    return store.write()


def _memory(tmp_path: Path) -> DirectoryStore:
    return MemoryStore()


def _sqlite(tmp_path: Path) -> DirectoryStore:
    return SQLiteStore(tmp_path / "d.db")


@pytest.mark.parametrize(("make_store", "foreign"), [
    (_memory, _bare_write),
    (_sqlite, _bare_write),
    (_sqlite, _sqlite_transaction),  # what `iamguard init` used to do
])
def test_a_change_inside_a_transaction_the_directory_did_not_open_is_refused_unrecorded(
        tmp_path: Path, make_store: Callable[[Path], DirectoryStore],
        foreign: Callable[[DirectoryStore], AbstractContextManager[object]]) -> None:
    store, clock, sink = make_store(tmp_path), FrozenClock(), MemorySink()
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=sink)
    with pytest.raises(AuditUnavailableError, match="did not open"), foreign(store):
        directory.create_user("bob")
    assert sink.records == []
    with pytest.raises(NoSuchEntityError):
        directory.get_user("bob")
    directory.create_user("bob")  # outside such a transaction the change goes through, audited
    assert [record.action for record in sink.records] == ["iam:CreateUser"]
    store.close()


def test_an_import_record_stays_bounded_however_many_links_it_has() -> None:
    source = MemoryStore()
    Directory.create_tenant(source, TENANT)
    directory = Directory(source, TENANT)
    users = 3 * MAX_LISTED_CHANGES
    with directory.batch():
        directory.create_group("staff")
        for index in range(users):
            directory.create_user(f"user{index}")
            directory.add_user_to_group("staff", f"user{index}")
    sink = MemorySink()
    Directory.import_tenant(MemoryStore(), directory.export_tenant(), audit=sink)
    [record] = sink.records
    assert record.extra["summary"]["add membership"] == users
    # Each listed change names at most two entities; the links past the list are only counted.
    assert len(record.extra["resources"]) <= 2 * MAX_LISTED_CHANGES
