"""Hardening of the credentials component after review: recovery codes and recovery-code sessions
follow the MFA configuration (MFA-08, MFA-09), and an unknown `kid` cannot force a re-read of the
signing keys on every token (JWT-04, DOS-05)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials
from iamguard.credentials.errors import InvalidAuthenticationCode, InvalidToken, RevokedToken
from iamguard.credentials.memory_store import MemoryCredentialStore
from iamguard.credentials.mfa import RecoveryCodes, VirtualMfaDevice
from iamguard.credentials.records import MfaDeviceRecord, RecoveryCodeRecord
from iamguard.credentials.sealing import Sealer
from iamguard.credentials.signing import KEY_REFRESH_INTERVAL, KeyManager
from iamguard.credentials.sqlite_store import SQLiteCredentialStore
from iamguard.credentials.store import CredentialStore
from iamguard.credentials.tokens import TOKEN_TYPE
from iamguard.store.database import Database
from tests.credentials.conftest import TENANT, Env

ALICE_ARN = f"arn:aws:iam::{TENANT}:user/alice"


def deactivate(env: Env, device: VirtualMfaDevice) -> None:
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))


def enable_again(env: Env, device: VirtualMfaDevice) -> None:
    env.clock.advance(90)  # past every step the device has used
    env.creds.enable_mfa_device("alice", device.serial_number, env.code(device, -1), env.code(device))
    env.clock.advance(30)


# MFA-08: recovery codes do not outlive the MFA configuration they were issued for


def test_recovery_codes_go_with_the_last_enabled_device_and_never_revive(env: Env,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    key = env.user_with_key()
    phone = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", phone.serial_number, env.code(phone))
    caplog.set_level(logging.INFO, logger="iamguard.audit")
    env.clock.advance(30)
    deactivate(env, phone)
    assert env.creds.recovery_codes_remaining("alice") == 0
    deleted = [record.audit for record in caplog.records
               if getattr(record, "audit", {}).get("event") == "recovery_codes_deleted"]
    assert len(deleted) == 1 and deleted[0]["count"] == 10 and deleted[0]["reason"] == "mfa_deactivated"
    enable_again(env, phone)
    with pytest.raises(InvalidAuthenticationCode):  # re-enabling does not bring the old set back
        env.creds.get_session_token(key, recovery_code=codes[1])


@pytest.fixture(params=["memory", "sqlite"])
def raw_store(request: pytest.FixtureRequest, tmp_path: Path) -> CredentialStore:
    if request.param == "memory":
        return MemoryCredentialStore()
    return SQLiteCredentialStore(Database(tmp_path / "creds.db"))


def _device(device_id: str, serial: str, enabled: bool) -> MfaDeviceRecord:
    return MfaDeviceRecord(device_id, TENANT, "u1", serial, b"sealed", enabled, 0.0, None, None)


def test_codes_left_over_without_an_enabled_device_are_dropped_when_one_is_enabled(raw_store: CredentialStore
                                                                                 ) -> None:
    # Codes written while no device was enabled (a regeneration racing the last deactivation, or
    # data from an earlier version) must not start working when a device is enabled.
    raw_store.insert_mfa_device(_device("d1", "s1", False), 8)
    raw_store.replace_recovery_codes(TENANT, "u1", [RecoveryCodeRecord("c0", TENANT, "u1", "h0")])
    assert raw_store.enable_mfa_device("d1", 10, 1.0) is True
    assert raw_store.list_recovery_codes(TENANT, "u1") == []
    # ...but a set issued while a device is enabled survives enabling a second one
    raw_store.replace_recovery_codes(TENANT, "u1", [RecoveryCodeRecord("c1", TENANT, "u1", "h1")])
    raw_store.insert_mfa_device(_device("d2", "s2", False), 8)
    assert raw_store.enable_mfa_device("d2", 10, 2.0) is True
    assert [code.code_id for code in raw_store.list_recovery_codes(TENANT, "u1")] == ["c1"]


def test_store_records_an_mfa_change_in_the_same_write(raw_store: CredentialStore) -> None:
    from iamguard.credentials.store import mfa_config_subject

    raw_store.insert_mfa_device(_device("d1", "s1", False), 8)
    raw_store.enable_mfa_device("d1", 10, 1.0)
    raw_store.replace_recovery_codes(TENANT, "u1", [RecoveryCodeRecord("c0", TENANT, "u1", "h0")], changed_at=5.0)
    assert raw_store.sessions_not_before(TENANT, [mfa_config_subject("u1")]) == 5.0
    generation = raw_store.generation()
    assert raw_store.disable_mfa_device("d1", changed_at=7.0) is True
    assert raw_store.generation() != generation
    assert raw_store.sessions_not_before(TENANT, [mfa_config_subject("u1")]) == 7.0
    assert raw_store.list_recovery_codes(TENANT, "u1") == []
    assert raw_store.delete_mfa_device("d1", changed_at=9.0) is True
    assert raw_store.sessions_not_before(TENANT, [mfa_config_subject("u1")]) == 9.0
    assert raw_store.sessions_not_before(TENANT, ["u1"]) is None  # the user's other sessions are untouched


# MFA-09: a session whose second factor was a recovery code ends when the MFA configuration changes


Change = Callable[[Env, VirtualMfaDevice, VirtualMfaDevice], RecoveryCodes | None]


def _deactivate_one(env: Env, phone: VirtualMfaDevice, tablet: VirtualMfaDevice) -> RecoveryCodes | None:
    deactivate(env, phone)
    return None  # the tablet is still enabled, so the rest of the set still backs it up


def _regenerate(env: Env, phone: VirtualMfaDevice, tablet: VirtualMfaDevice) -> RecoveryCodes | None:
    return env.creds.create_recovery_codes("alice", phone.serial_number, env.code(phone))


def _deactivate_and_delete_other(env: Env, phone: VirtualMfaDevice, tablet: VirtualMfaDevice
                                 ) -> RecoveryCodes | None:
    env.creds.deactivate_mfa_device("alice", tablet.serial_number, env.code(tablet))
    env.creds.delete_virtual_mfa_device(tablet.serial_number)
    return None


CHANGES: list[tuple[str, Change]] = [
    ("deactivate a device", _deactivate_one),
    ("regenerate the codes", _regenerate),
    ("deactivate and delete another device", _deactivate_and_delete_other),
]


@pytest.mark.parametrize(("label", "change"), CHANGES, ids=[label for label, _ in CHANGES])
def test_recovery_code_sessions_end_when_the_mfa_configuration_changes(env: Env, label: str,
                                                                      change: Change) -> None:
    key = env.user_with_key()
    env.directory.create_role("admin", assume_role_policy_document={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ALICE_ARN}, "Action": "sts:AssumeRole"}]})
    phone = env.enabled_device(device_name="phone")
    tablet = env.enabled_device(device_name="tablet")
    codes = env.creds.create_recovery_codes("alice", phone.serial_number, env.code(phone))
    recovered = env.creds.get_session_token(key, recovery_code=codes[0]).token
    plain = env.creds.get_session_token(key).token
    kept_device = tablet if change is not _deactivate_and_delete_other else phone
    env.clock.advance(30)  # the phone's current step went into creating the codes
    with_totp = env.creds.get_session_token(key, mfa_code=env.code(kept_device),
                                            serial_number=kept_device.serial_number).token
    session = env.creds.authenticate(recovered)  # warm: the verdict is cached before the change
    assert session.mfa_present
    role = env.creds.assume_role(f"arn:aws:iam::{TENANT}:role/admin", "ops", session).token
    env.creds.authenticate(role)
    env.clock.advance(30)
    fresh = change(env, phone, tablet)
    for token in (recovered, role):
        with pytest.raises(RevokedToken):
            env.creds.authenticate(token)
    # Only what the second factor vouched for ends: no MFA, or a device the change left alone.
    assert env.creds.authenticate(plain).user_name == "alice"
    assert env.creds.authenticate(with_totp).mfa_present
    # A recovery code used after the change starts a session that lives, here and in another process.
    env.clock.advance(1)
    later = env.creds.get_session_token(key, recovery_code=(fresh or codes)[1]).token
    assert env.creds.authenticate(later).mfa_present
    assert env.credentials().authenticate(later).mfa_present


# JWT-04 / DOS-05: unknown kids cannot force a re-read and unseal of every signing key


class CountingStore(MemoryCredentialStore):
    def __init__(self) -> None:
        super().__init__()
        self.key_reads = 0

    def signing_keys(self):  # type: ignore[no-untyped-def]
        self.key_reads += 1
        return super().signing_keys()


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _manager(store: CredentialStore, sealer: Sealer, ticks: Ticks, watched: list[int] | None = None) -> KeyManager:
    # `watched` stands in for the generation watch, which sees another process's write only after
    # its cache bound: until it moves, only a forced re-read can find a key rotated in elsewhere.
    generation = (lambda: watched[0]) if watched is not None else None
    return KeyManager(store, lambda: sealer, FrozenClock(), algorithm="EdDSA", hmac_secret=None,
                      max_token_lifetime=43200, leeway=30, generation=generation, monotonic=ticks)


def test_unknown_kids_re_read_the_keys_at_most_once_per_interval() -> None:
    store, sealer, ticks, watched = CountingStore(), Sealer(secrets.token_bytes(32)), Ticks(), [0]
    here = _manager(store, sealer, ticks, watched)
    elsewhere = _manager(store, sealer, Ticks())  # another process sharing the store
    first = elsewhere.active()  # the deployment's key, made by the other process
    assert here.active().kid == first.kid
    baseline = store.key_reads
    assert [here.lookup(f"eddsa-{index:016x}") for index in range(200)] == [None] * 200
    assert store.key_reads - baseline == 1  # one re-read for the whole flood, not 200
    rotated = elsewhere.rotate()
    assert here.lookup(rotated) is None  # inside the interval: refused without a re-read
    assert store.key_reads - baseline == 1
    ticks.now += KEY_REFRESH_INTERVAL
    found = here.lookup(rotated)  # a genuine rotation is found once the interval has passed
    assert found is not None and found.kid == rotated
    assert store.key_reads - baseline == 2


def test_a_kid_flood_does_not_slow_the_issuing_process(mem_env: Env) -> None:
    env = mem_env
    key = env.user_with_key()
    env.creds.get_session_token(key)
    reads: list[int] = []
    original = env.creds.store.signing_keys

    def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        return original()

    env.creds.store.signing_keys = counted  # type: ignore[method-assign]
    attacker = Ed25519PrivateKey.generate()
    for index in range(50):
        forged = jwt.encode({"sub": "x"}, attacker, algorithm="EdDSA",
                            headers={"kid": f"eddsa-{index:016x}", "typ": TOKEN_TYPE})
        with pytest.raises(InvalidToken):
            env.creds.authenticate(forged)
    assert len(reads) <= 1
    # This process's own new key is known at once: its write moved the generation it watches.
    new_kid = env.creds.rotate_signing_key()
    token = env.creds.get_session_token(AccessKeyCredentials(key.access_key_id, key.secret_access_key)).token
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert env.creds.authenticate(token).user_name == "alice"


@pytest.mark.parametrize("operation", ["deactivate", "delete"])
def test_an_mfa_change_lost_to_a_concurrent_one_is_refused_not_reported_as_done(
        env: Env, operation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between reading the device and writing, another call deactivates (or deletes) it: the
    store's write finds nothing to change, and this call raises instead of claiming success."""
    from iamguard.credentials.errors import NoSuchEntity

    env.user_with_key()
    device = env.enabled_device()
    store = env.creds.store
    if operation == "delete":
        env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
        env.clock.advance(30)
    name = "disable_mfa_device" if operation == "deactivate" else "delete_mfa_device"
    real = getattr(store, name)

    def raced(device_id: str, **options: object) -> bool:
        assert real(device_id, **options) is True  # the concurrent call wins
        return bool(real(device_id, **options))  # this one finds nothing left to change

    monkeypatch.setattr(store, name, raced)
    with pytest.raises(NoSuchEntity):
        if operation == "deactivate":
            env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
        else:
            env.creds.delete_virtual_mfa_device(device.serial_number)


@pytest.mark.parametrize("before", [float("nan"), float("inf"), float("-inf")])
def test_revoke_sessions_refuses_a_time_that_is_not_finite(env: Env, before: float) -> None:
    from iamguard.credentials.errors import ValidationError

    env.user_with_key()
    arn = env.directory.get_user("alice").arn
    generation = env.store.generation()
    with pytest.raises(ValidationError):
        env.creds.revoke_sessions(arn, before=before)
    assert env.store.generation() == generation  # nothing stored
