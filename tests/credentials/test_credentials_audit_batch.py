"""Credentials records of store changes made inside a directory write (`Directory.batch()`,
`iamguard init`) go out with that write's records when it commits, and not at all when it rolls
back: the trail never claims a change that did not happen (spec LOG-04). Attempts (a wrong
password) are recorded at once, whatever the transaction around them does; so is every change
to a credentials store in a file of its own, which commits by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iamguard.audit import AuditRecord, MemorySink
from iamguard.credentials import AuthenticationFailed, Credentials
from iamguard.credentials.sqlite_store import SQLiteCredentialStore
from iamguard.directory.errors import AuditUnavailableError
from iamguard.store.database import Database, StoreError
from tests.credentials.conftest import Env, build_env

PASSWORD = "correct horse battery staple 42!"


class Failing(MemorySink):
    def emit(self, record: AuditRecord) -> None:
        raise OSError("disk full")


def events(sink: MemorySink) -> list[str]:
    return [str(record.extra.get("event")) for record in sink.records]


@pytest.fixture
def shared(tmp_path: Path) -> Any:
    """A SQLite store holding the directory and the credentials in one file."""
    env = build_env("sqlite", tmp_path)
    env.directory.create_user("alice")
    yield env
    env.store.close()


def audited(env: Env, sink: Any, **options: Any) -> Credentials:
    return Credentials(env.directory, clock=env.clock, audit=sink, **{**env.settings, **options})


def test_a_change_inside_a_batch_that_rolls_back_leaves_no_record(shared: Env) -> None:
    sink = MemorySink()
    creds = audited(shared, sink)
    with pytest.raises(RuntimeError), shared.directory.batch():
        creds.create_access_key("alice")
        creds.create_login_profile("alice", PASSWORD)
        assert events(sink) == []  # waiting for the commit
        raise RuntimeError("a later step failed")
    assert creds.list_access_keys("alice") == ()
    assert events(sink) == []


def test_a_change_inside_a_batch_is_recorded_when_it_commits(shared: Env) -> None:
    sink = MemorySink()
    creds = audited(shared, sink)
    with shared.directory.batch():
        key = creds.create_access_key("alice")
        creds.update_access_key(key.access_key_id, "Inactive", "alice")
        assert events(sink) == []
    assert events(sink) == ["access_key_created", "access_key_status_changed"]
    creds.delete_access_key(key.access_key_id, "alice")  # outside any batch: at once
    assert events(sink)[-1] == "access_key_deleted"


def test_a_savepoint_undone_inside_a_batch_takes_its_records_with_it(shared: Env) -> None:
    sink = MemorySink()
    creds = audited(shared, sink)
    with shared.directory.batch():
        with pytest.raises(RuntimeError), shared.directory.batch():
            creds.create_access_key("alice")
            raise RuntimeError("the inner step failed")
        creds.create_login_profile("alice", PASSWORD)
    assert events(sink) == ["login_profile_created"]


def test_an_attempt_is_refused_inside_a_batch_whatever_the_secret(shared: Env) -> None:
    """A failed attempt inside a transaction would be undone with it, and the lockout with it: so
    no secret or code is checked there at all (the right password is refused like a wrong one,
    which tells a guesser nothing), and nothing is recorded."""
    sink = MemorySink()
    creds = audited(shared, sink)
    creds.create_login_profile("alice", PASSWORD)
    key = creds.create_access_key("alice")
    device = shared.enabled_device("alice")
    for attempt in (lambda: creds.check_password("alice", "wrong password, but long enough"),
                    lambda: creds.check_password("alice", PASSWORD),
                    lambda: creds.authenticate_access_key(key.access_key_id, key.secret_access_key),
                    lambda: creds.deactivate_mfa_device("alice", device.serial_number, "000000"),
                    lambda: creds.deactivate_mfa_device("alice", device.serial_number,
                                                        recovery_code="AAAA-BBBB-CCCC-DDDD")):
        with pytest.raises(StoreError, match="inside an open store transaction"), shared.directory.batch():
            attempt()
    assert events(sink) == ["login_profile_created", "access_key_created"]
    assert creds.check_password("alice", PASSWORD).user_name == "alice"  # outside: checked as usual
    with pytest.raises(AuthenticationFailed):
        creds.check_password("alice", "wrong password, but long enough")
    assert events(sink)[-1] == "login_failed"


def test_a_record_that_cannot_be_delivered_refuses_the_batch(shared: Env) -> None:
    creds = audited(shared, Failing())
    with pytest.raises(AuditUnavailableError), shared.directory.batch():
        creds.create_access_key("alice")
    assert creds.list_access_keys("alice") == ()  # nothing stored, as for the directory's own changes


def test_a_store_in_a_file_of_its_own_records_at_once(shared: Env, tmp_path: Path) -> None:
    sink = MemorySink()
    database = Database(tmp_path / "credentials.db")
    try:
        creds = audited(shared, sink, store=SQLiteCredentialStore(database))
        with pytest.raises(RuntimeError), shared.directory.batch():
            creds.create_access_key("alice")
            assert events(sink) == ["access_key_created"]  # committed in its own file already
            raise RuntimeError("the directory's batch rolls back")
        assert len(creds.list_access_keys("alice")) == 1
        assert events(sink) == ["access_key_created"]
    finally:
        database.close()
