"""Red-team checks of credentials records joining an open directory write (spec LOG-04): a write
opened through another store object over the same Database, a commit that fails after the
records went out, and two facades over one directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import Credentials
from iamguard.directory import Directory
from iamguard.store.base import DirectoryWriter
from iamguard.store.database import Database, StoreError
from iamguard.store.sqlite import SQLiteStore
from tests.credentials.conftest import TENANT, cheap_settings


def outcomes(sink: MemorySink) -> list[tuple[str, str]]:
    return [(str(record.extra.get("event")), str(record.extra.get("outcome"))) for record in sink.records]


class CommitFails(SQLiteStore):
    """Fails the outermost write after its body (and so its audit) ran: the commit never happens."""

    fail = False

    @contextmanager
    def write(self) -> Iterator[DirectoryWriter]:
        outermost = not self.in_write()
        with super().write() as writer:
            yield writer
            if self.fail and outermost:
                raise StoreError("cannot write the directory: disk I/O error")


@pytest.mark.parametrize("commits", [False, True])
def test_a_write_opened_through_another_store_object_over_the_database_holds_the_record(
        tmp_path: Path, commits: bool) -> None:
    clock, sink = FrozenClock(), MemorySink()
    database = Database(tmp_path / "iamguard.db")
    try:
        opener, other = SQLiteStore(database), SQLiteStore(database)
        Directory.create_tenant(opener, TENANT, clock=clock)
        Directory(opener, TENANT, clock=clock).create_user("alice")
        creds = Credentials(Directory(other, TENANT, clock=clock), clock=clock, audit=sink, **cheap_settings())
        batch = Directory(opener, TENANT, clock=clock).batch()
        with nullcontext() if commits else pytest.raises(RuntimeError), batch:
            creds.create_access_key("alice")  # written on the batch's connection, inside its transaction
            assert outcomes(sink) == []
            if not commits:
                raise RuntimeError("the batch rolls back")
        stored = len(creds.list_access_keys("alice"))
        assert (stored, outcomes(sink)) == ((1, [("access_key_created", "success")]) if commits else (0, []))
    finally:
        database.close()


def test_a_commit_that_fails_after_delivery_retracts_the_credentials_record_too(tmp_path: Path) -> None:
    clock, sink = FrozenClock(), MemorySink()
    store = CommitFails(tmp_path / "iamguard.db")
    try:
        Directory.create_tenant(store, TENANT, clock=clock)
        directory = Directory(store, TENANT, clock=clock, audit=sink)
        directory.create_user("alice")
        creds = Credentials(directory, clock=clock, audit=sink, **cheap_settings())
        sink.clear()
        store.fail = True
        with pytest.raises(StoreError), directory.batch():
            creds.create_access_key("alice")
            directory.create_group("ops")
        store.fail = False
        assert outcomes(sink) == [("access_key_created", "success"), ("CreateGroup", "success"),
                                  ("access_key_created", "rolled_back"), ("CreateGroup", "rolled_back")]
        assert len({record.request_id for record in sink.records}) == 2  # each retraction names its record
        assert creds.list_access_keys("alice") == ()
    finally:
        store.close()


def test_two_facades_over_one_directory_each_record_once_at_the_commit(tmp_path: Path) -> None:
    clock, first, second = FrozenClock(), MemorySink(), MemorySink()
    store = SQLiteStore(tmp_path / "iamguard.db")
    try:
        Directory.create_tenant(store, TENANT, clock=clock)
        directory = Directory(store, TENANT, clock=clock)
        directory.create_user("alice")
        settings = cheap_settings()
        one = Credentials(directory, clock=clock, audit=first, **settings)
        two = Credentials(directory, clock=clock, audit=second, **settings)
        with directory.batch():
            one.create_access_key("alice")
            two.create_login_profile("alice", "correct horse battery staple 42!")
            assert (first.records, second.records) == ([], [])
        assert (outcomes(first), outcomes(second)) == ([("access_key_created", "success")],
                                                       [("login_profile_created", "success")])
    finally:
        store.close()
