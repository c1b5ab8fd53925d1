"""Red-team regressions: store faults through the real Starlette example app (FAIL-01, CACHE-02)
and the audit trail of guesses against a locked access key (KEY-03, LOG-02)."""

from __future__ import annotations

import logging
import os
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iamguard import audit as codes
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import Throttled
from iamguard.credentials.config import Lockout
from iamguard.store.database import Database, StoreError
from tests.credentials.conftest import build_env

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from examples.common import seed
from examples.starlette_app import create_app

Fault = Callable[[Path], None]


def _sql(*statements: str) -> Fault:
    def run(path: Path) -> None:
        other = sqlite3.connect(path)
        with other:
            for statement in statements:
                other.execute(statement)
        other.close()
    return run


def _replace_file(path: Path) -> None:
    """An operator restores a copy over the live file: the running process still has the old
    inode open, and another process revokes in the new file."""
    copy = path.with_name("restored.db")
    source = sqlite3.connect(path)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    for suffix in ("-wal", "-shm"):  # the restore brings its own journal state
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    os.replace(copy, path)
    _sql("DELETE FROM dir_attachments", "UPDATE generation SET value = value + 1")(path)


FAULTS: list[tuple[str, Fault]] = [
    ("generation row deleted", _sql("DELETE FROM generation")),
    ("generation table dropped", _sql("DROP TABLE generation")),
    ("file replaced while open", _replace_file),
    ("policy document corrupted", _sql("UPDATE dir_policy_versions SET document = '{not json'",
                                       "UPDATE generation SET value = value + 1")),
]


@pytest.mark.parametrize(("name", "fault"), FAULTS, ids=[name for name, _ in FAULTS])
def test_a_store_fault_after_warm_up_denies_with_503_and_is_audited(tmp_path: Path, name: str, fault: Fault) -> None:
    clock = FrozenClock()
    seeded = seed(tmp_path / "shop.db", clock=clock)
    calls: list[str] = []
    sink = MemorySink()
    app = create_app(seeded.path, clock=clock, audit=sink, on_call=lambda handler, params: calls.append(handler))
    admin = seeded.users["admin"]
    with TestClient(app) as client:
        answer = client.post("/auth/token", json={"access_key_id": admin.access_key_id,
                                                  "secret_access_key": admin.secret_access_key})
        headers = {"authorization": f"Bearer {answer.json()['token']}"}
        for _ in range(3):  # warm: the session and its policies are now on the warm path
            assert client.get("/orders", headers=headers).status_code == 200
        calls.clear()
        fault(seeded.path)
        clock.advance(2)  # past the cross-process bound (cache_ttl, 1 s): the generation is re-read
        statuses = [client.get(path, headers=headers).status_code for path in ("/orders", "/orders/1001")]
    assert statuses == [503, 503]
    assert calls == []
    # A document that no longer parses is the spec's partial policy load (FAIL-06), named as such.
    reason = codes.POLICY_LOAD_ERROR if name == "policy document corrupted" else codes.STORE_UNAVAILABLE
    assert [record.reason for record in sink.records[-2:]] == [reason] * 2


def test_a_missing_generation_row_is_a_store_error(tmp_path: Path) -> None:
    database = Database(tmp_path / "g.db")
    assert database.generation() == 0
    _sql("DELETE FROM generation")(tmp_path / "g.db")
    with pytest.raises(StoreError, match="generation row is missing"):
        database.generation()


def test_a_store_file_removed_while_open_is_a_store_error(tmp_path: Path) -> None:
    database = Database(tmp_path / "g.db")
    assert database.generation() == 0
    os.remove(tmp_path / "g.db")
    with pytest.raises(StoreError, match="replaced or removed"):
        database.generation()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_wrong_secret_during_a_key_lock_is_audited(tmp_path: Path, kind: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    env = build_env(kind, tmp_path)
    key = env.user_with_key()
    lock = Lockout(3, 600)
    limited = env.credentials(access_key_lockout=lock)
    for _ in range(lock.max_failures):
        with pytest.raises(Exception, match="invalid"):
            limited.authenticate_access_key(key.access_key_id, "a-stranger's-guess")
    caplog.clear()
    caplog.set_level(logging.INFO, logger="iamguard.audit")
    with pytest.raises(Throttled):
        limited.authenticate_access_key(key.access_key_id, "guess-during-the-lock")
    events: list[dict[str, Any]] = [record.audit for record in caplog.records if hasattr(record, "audit")]
    assert [event["event"] for event in events] == ["access_key_attempt_while_locked"]
    assert "guess-during-the-lock" not in caplog.text
