"""Red-team round 6 (consistency across processes and threads): regression tests.

CACHE-03 / FAIL-05: answers derived inside a store transaction (a `Directory.batch()`) read
uncommitted state, and the generation read there is either the committed one (memory store) or a
number that a rollback hands back to a later, different commit (SQLite). Nothing derived there may
be kept under it: a grant written in a batch that rolled back must never be served afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from iamguard.credentials import AccessKeyCredentials
from iamguard.directory import Directory
from iamguard.engine.decision import Effect
from iamguard.store.database import StoreError
from iamguard.store.sqlite import SQLiteStore
from tests.credentials.conftest import ALLOW_ALL, Env, build_env


class _Abort(Exception):
    pass


def _alice_session(env: Env) -> object:
    env.directory.create_user("alice")
    key = env.creds.create_access_key("alice")
    issued = env.creds.get_session_token(AccessKeyCredentials(key.access_key_id, key.secret_access_key))
    return env.creds.authenticate(issued.token)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_grant_seen_inside_a_rolled_back_batch_is_never_served(kind: str, tmp_path: Path) -> None:
    env = build_env(kind, tmp_path)
    session = _alice_session(env)
    env.clock.advance(5)  # past the cache TTL: the generation is read again, inside the batch
    with pytest.raises(_Abort), env.directory.batch():
        env.directory.put_user_policy("alice", "grant", ALLOW_ALL)
        inside = env.creds.authorize(session, "s3:GetObject", "*")  # sees its own uncommitted write
        raise _Abort
    assert inside.effect is Effect.ALLOW
    assert env.directory.list_user_policies("alice").items == ()

    outcomes = [env.creds.authorize(session, "s3:GetObject", "*").effect]  # right after the rollback
    env.clock.advance(5)
    env.directory.create_group("unrelated")  # commits the generation number the batch had reached
    outcomes.append(env.creds.authorize(session, "s3:GetObject", "*").effect)
    env.clock.advance(60)
    outcomes.append(env.creds.authorize(session, "s3:GetObject", "*").effect)
    assert outcomes == [Effect.IMPLICIT_DENY] * 3
    env.store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_generation_read_inside_a_transaction_matches_no_other_read(kind: str, tmp_path: Path) -> None:
    env = build_env(kind, tmp_path)
    watch = env.creds.generation_watch
    outside = watch.current()
    with env.directory.batch():
        env.directory.create_group("staff")
        first, second = watch.current(), watch.current()
        window = watch.snapshot()
    after = watch.current()
    seen = [outside, first, second, after]
    assert len(set(seen)) == 4, seen
    assert window.until <= window.checked_at  # nothing may be remembered in a window opened there
    env.store.close()


# FAIL-01 (clear errors): an in-memory SQLite database belongs to the connection that created it. A
# second thread (a web server's pool) used to open a new, empty database and fail every request with
# "no such table: generation"; it is now refused with an error that says what to use instead.


def _from_another_thread(store: SQLiteStore) -> BaseException | None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            store.generation()
        except BaseException as exc:  # handed back to the test
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return failure[0] if failure else None


def _after_close(store: SQLiteStore) -> BaseException | None:
    store.close()
    try:
        store.generation()
    except BaseException as exc:  # handed back to the test
        return exc
    return None


@pytest.mark.parametrize("path", [":memory:", ""])
@pytest.mark.parametrize("reopen", [_from_another_thread, _after_close])
def test_a_private_sqlite_database_is_not_silently_reopened_empty(
        path: str, reopen: Callable[[SQLiteStore], BaseException | None]) -> None:
    store = SQLiteStore(path)
    Directory.create_tenant(store, "111122223333")
    assert store.generation() == 1  # the creating thread keeps working
    failure = reopen(store)
    assert isinstance(failure, StoreError)
    assert "private to the connection that created it" in str(failure)
