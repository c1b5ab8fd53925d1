"""The credential store contract, run against both implementations, and fail-closed behaviour when
the store cannot answer (FAIL-01, FAIL-02)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iamguard.credentials import Lockout, MemoryCredentialStore, RevokedToken, SQLiteCredentialStore
from iamguard.credentials.records import AccessKeyRecord, MfaDeviceRecord, RecoveryCodeRecord, SigningKeyRecord
from iamguard.credentials.store import AlreadyExists, CredentialStore, LimitReached
from iamguard.engine.decision import Effect
from iamguard.store.database import Database, StoreError
from tests.credentials.conftest import Env

T = "tenant-a"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CredentialStore]:
    if request.param == "memory":
        yield MemoryCredentialStore()
    else:
        database = Database(tmp_path / "creds.db")
        yield SQLiteCredentialStore(database)
        database.close()


def device(device_id: str = "d1", user: str = "u1", serial: str = "s1", enabled: bool = True,
           last_step: int | None = None) -> MfaDeviceRecord:
    return MfaDeviceRecord(device_id, T, user, serial, b"sealed", enabled, 0.0, None, last_step)


def test_totp_steps_only_move_forward(store: CredentialStore) -> None:
    store.insert_mfa_device(device(enabled=False), 8)
    assert store.consume_totp_step("d1", 5) is False  # not enabled yet
    assert store.enable_mfa_device("d1", 10, 1.0) is True
    assert store.enable_mfa_device("d1", 11, 1.0) is False  # already enabled
    assert [store.consume_totp_step("d1", step) for step in (10, 9, 11, 11, 13, 12)] == [
        False, False, True, False, True, False]
    assert store.get_mfa_device_by_id("d1").last_step == 13  # type: ignore[union-attr]
    assert store.disable_mfa_device("d1") is True
    assert store.consume_totp_step("d1", 20) is False
    assert store.enable_mfa_device("d1", 13, 2.0) is False  # re-enabling cannot reuse a step
    assert store.enable_mfa_device("d1", 14, 2.0) is True


def test_device_uniqueness_and_limits(store: CredentialStore) -> None:
    store.insert_mfa_device(device("d1", serial="s1"), 2)
    with pytest.raises(AlreadyExists):
        store.insert_mfa_device(device("d2", serial="s1"), 2)
    store.insert_mfa_device(device("d2", serial="s2"), 2)
    with pytest.raises(LimitReached):
        store.insert_mfa_device(device("d3", serial="s3"), 2)
    store.insert_mfa_device(device("d3", user="u2", serial="s3"), 2)
    assert [d.device_id for d in store.list_mfa_devices(T, "u1")] == ["d1", "d2"]


def test_recovery_codes_are_consumed_once_and_go_with_the_last_device(store: CredentialStore) -> None:
    store.insert_mfa_device(device(), 8)
    store.replace_recovery_codes(T, "u1", [RecoveryCodeRecord(f"c{i}", T, "u1", f"h{i}") for i in range(3)])
    assert store.consume_recovery_code("c1") is True
    assert store.consume_recovery_code("c1") is False
    assert sorted(c.code_id for c in store.list_recovery_codes(T, "u1")) == ["c0", "c2"]
    store.replace_recovery_codes(T, "u1", [RecoveryCodeRecord("n0", T, "u1", "h")])
    assert [c.code_id for c in store.list_recovery_codes(T, "u1")] == ["n0"]
    store.delete_mfa_device("d1")
    assert store.list_recovery_codes(T, "u1") == []


def test_failure_counter_locks_and_recovers(store: CredentialStore) -> None:
    lockout = Lockout(3, 100)
    states = [store.record_failure("s", now, lockout) for now in (0.0, 1.0, 2.0)]
    assert [state.failures for state in states[:2]] == [1, 2]
    assert states[2].locked(50.0) and states[2].locked_until == 102.0
    assert store.throttle_state("s").locked(101.0)
    assert not store.throttle_state("s").locked(102.0)
    assert store.record_failure("s", 103.0, lockout).failures == 1  # an expired lock starts over
    assert store.record_failure("s", 300.0, lockout).failures == 1  # so does a quiet period
    store.clear_failures("s")
    assert store.throttle_state("s").failures == 0


def test_access_keys(store: CredentialStore) -> None:
    record = AccessKeyRecord("AKIA1", T, "u1", "v" * 64, "Active", 1.0)
    store.insert_access_key(record, 2)
    with pytest.raises(AlreadyExists):
        store.insert_access_key(record, 2)
    store.insert_access_key(AccessKeyRecord("AKIA2", T, "u1", "v" * 64, "Active", 2.0), 2)
    with pytest.raises(LimitReached):
        store.insert_access_key(AccessKeyRecord("AKIA3", T, "u1", "v" * 64, "Active", 3.0), 2)
    assert store.set_access_key_status("other-tenant", "AKIA1", "Inactive") is False
    assert store.set_access_key_status(T, "AKIA1", "Inactive") is True
    generation = store.generation()
    store.record_access_key_use("AKIA2", 9.0, "s3:GetObject", "192.0.2.1")
    assert store.generation() == generation  # bookkeeping does not invalidate caches
    assert store.get_access_key("AKIA2").last_used_ip == "192.0.2.1"  # type: ignore[union-attr]
    assert store.delete_access_key(T, "AKIA1") is True and store.get_access_key("AKIA1") is None


def test_signing_keys_one_active_at_a_time(store: CredentialStore) -> None:
    first = SigningKeyRecord("k1", "EdDSA", b"x", "{}", 1.0)
    assert store.add_signing_key(first, retire_at=None) is True
    assert store.add_signing_key(SigningKeyRecord("k2", "EdDSA", b"x", "{}", 2.0), retire_at=None) is False
    assert store.add_signing_key(SigningKeyRecord("k3", "EdDSA", b"x", "{}", 3.0), retire_at=3.0) is True
    keys = {key.kid: key for key in store.signing_keys()}
    assert set(keys) == {"k1", "k3"} and keys["k1"].retired_at == 3.0 and keys["k3"].retired_at is None
    assert store.prune_signing_keys(4.0) == 1
    assert [key.kid for key in store.signing_keys()] == ["k3"]


def test_revocations(store: CredentialStore) -> None:
    before = store.generation()
    store.revoke_sessions(T, "u1", 100.0)
    store.revoke_sessions(T, "u1", 50.0)  # never moves backwards
    store.revoke_sessions(T, "r1", 200.0)
    assert store.generation() != before
    assert store.sessions_not_before(T, ["u1"]) == 100.0
    assert store.sessions_not_before(T, ["u1", "r1"]) == 200.0
    assert store.sessions_not_before("other", ["u1"]) is None
    assert store.sessions_not_before(T, []) is None
    store.revoke_token(T, "jti-1", 500.0)
    assert store.token_revoked(T, "jti-1") and not store.token_revoked("other", "jti-1")
    store.prune(now=600.0, horizon=150.0)
    assert not store.token_revoked(T, "jti-1")
    assert store.sessions_not_before(T, ["u1", "r1"]) == 200.0


def test_server_secrets_are_stable(store: CredentialStore) -> None:
    secret = store.server_secret("pepper")
    assert len(secret) == 32 and store.server_secret("pepper") == secret
    assert store.server_secret("other") != secret


# fail closed


def test_a_store_failure_during_authentication_is_a_store_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    session = env.creds.authenticate(token)

    def broken(*args: object, **kwargs: object) -> bool:
        raise StoreError("database is locked")

    monkeypatch.setattr(env.creds.store, "token_revoked", broken)
    env.clock.advance(1)
    env.directory.create_user("someone-else")  # moves the generation: the cached verdict is not reused
    with pytest.raises(StoreError):
        env.creds.authenticate(token)
    decision = env.creds.authorize(session, "s3:GetObject", "arn:aws:s3:::b/k")
    assert decision.effect is Effect.EXPLICIT_DENY and "StoreError" in (decision.error or "")


def test_a_store_failure_while_consuming_a_code_is_not_a_wrong_code(env: Env,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    device_ = env.enabled_device()

    def broken(*args: object) -> bool:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(env.creds.store, "consume_totp_step", broken)
    with pytest.raises(StoreError):
        env.creds.get_session_token(key, mfa_code=env.code(device_))
    assert env.creds.store.throttle_state(f"{env.creds.tenant_id}:mfa-user:"
                                          f"{env.directory.get_user('alice').user_id}").failures == 0


def test_revocation_survives_a_cache_of_earlier_verdicts(env: Env) -> None:
    key = env.user_with_key()
    token = env.creds.get_session_token(key).token
    for _ in range(3):
        env.creds.authenticate(token)  # cached verdict
    env.clock.advance(1)
    env.creds.revoke_sessions(env.directory.get_user("alice").arn)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)
