"""Virtual MFA devices: enrolment, verification, replay protection, lockout, recovery codes."""

from __future__ import annotations

import base64
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from iamguard.credentials import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
    RevokedToken,
    Throttled,
    ValidationError,
)
from iamguard.credentials import totp as totp_math
from tests.credentials.conftest import Env


def test_create_returns_a_160_bit_seed_and_an_otpauth_uri(env: Env) -> None:
    env.directory.create_user("alice")
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    assert device.serial_number == "arn:aws:iam::111122223333:mfa/phone"
    assert len(base64.b32decode(device.base32_seed)) == 20
    parts = urlsplit(device.provisioning_uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert parse_qs(parts.query)["secret"] == [device.base32_seed]
    assert device.base32_seed not in repr(device) and "otpauth" not in repr(device)
    listed = env.creds.list_mfa_devices("alice")
    assert [(d.serial_number, d.enabled) for d in listed] == [(device.serial_number, False)]


def test_seed_is_sealed_in_the_store(env: Env) -> None:
    env.directory.create_user("alice")
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    record = env.creds.store.get_mfa_device("111122223333", device.serial_number)
    assert record is not None
    assert device.base32_seed.encode() not in record.sealed_seed
    assert base64.b32decode(device.base32_seed) not in record.sealed_seed


def test_enable_needs_two_consecutive_codes(env: Env) -> None:
    env.directory.create_user("alice")
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    now = env.clock.time()
    first, second = totp_math.code_at(device.base32_seed, now - 30), totp_math.code_at(device.base32_seed, now)
    wrong = next(code for code in ("000000", "111111", "222222") if code not in {first, second})
    for code1, code2 in [(second, first), (first, first), (wrong, second), ("12345", second)]:
        if first == second:  # pragma: no cover - 1e-6 collision: the pairs would be valid
            break
        with pytest.raises(InvalidAuthenticationCode):
            env.creds.enable_mfa_device("alice", device.serial_number, code1, code2)
    env.creds.enable_mfa_device("alice", device.serial_number, first, second)
    assert env.creds.list_mfa_devices("alice")[0].enabled
    with pytest.raises(EntityAlreadyExists):
        env.creds.enable_mfa_device("alice", device.serial_number, first, second)


def test_enrolment_codes_cannot_be_used_to_log_in(env: Env) -> None:
    key = env.user_with_key()
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    now = env.clock.time()
    second = totp_math.code_at(device.base32_seed, now)
    env.creds.enable_mfa_device("alice", device.serial_number, totp_math.code_at(device.base32_seed, now - 30),
                                second)
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.get_session_token(key, mfa_code=second)


def test_a_code_is_accepted_once_and_older_steps_never(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    current = env.code(device)
    env.creds.get_session_token(key, mfa_code=current)
    with pytest.raises(InvalidAuthenticationCode):  # replay within the window
        env.creds.get_session_token(key, mfa_code=current)
    env.clock.advance(30)
    with pytest.raises(InvalidAuthenticationCode):  # the previous step is still in the window, but used
        env.creds.get_session_token(key, mfa_code=env.code(device, -1))
    env.creds.get_session_token(key, mfa_code=env.code(device))


def test_a_future_step_blocks_the_current_one(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    env.creds.get_session_token(key, mfa_code=env.code(device, +1))
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.get_session_token(key, mfa_code=env.code(device))


@pytest.mark.parametrize("offset", [-2, 2, 10])
def test_codes_outside_the_window_are_refused(env: Env, offset: int) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    env.clock.advance(300)
    code = env.code(device, offset)
    if code in {env.code(device, o) for o in (-1, 0, 1)}:  # pragma: no cover - 1e-6 collision
        pytest.skip("code collides with one inside the window")
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.get_session_token(key, mfa_code=code)


def test_malformed_codes_are_refused_and_counted(env: Env) -> None:
    key = env.user_with_key()
    env.enabled_device()
    for bad in ["\u0661\u0662\u0663\u0664\u0665\u0666", " 123456", "12345", "1234567", "abcdef"]:
        with pytest.raises(InvalidAuthenticationCode):
            env.creds.get_session_token(key, mfa_code=bad)
    with pytest.raises(Throttled):  # five failures lock the device, malformed input included
        env.creds.get_session_token(key, mfa_code="123456")


def test_lockout_after_five_failures_is_audited_and_expires(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    good = env.code(device)
    wrong = env.wrong_code(device)
    caplog.set_level(logging.INFO, logger="iamguard.audit")
    for _ in range(5):
        with pytest.raises(InvalidAuthenticationCode):
            env.creds.get_session_token(key, mfa_code=wrong)
    with pytest.raises(Throttled) as locked:
        env.creds.get_session_token(key, mfa_code=good)  # even the right code, while locked
    assert 0 < locked.value.retry_after <= 900
    events = [record.audit["event"] for record in caplog.records if hasattr(record, "audit")]
    assert "mfa_locked" in events and "mfa_attempt_while_locked" in events
    env.clock.advance(901)
    env.creds.get_session_token(key, mfa_code=env.code(device))


def test_lockout_is_shared_by_every_facade_on_the_store(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    other = env.credentials()
    wrong = env.wrong_code(device)
    for facade in [env.creds, other, env.creds, other, env.creds]:
        with pytest.raises(InvalidAuthenticationCode):
            facade.get_session_token(key, mfa_code=wrong)
    with pytest.raises(Throttled):
        other.get_session_token(key, mfa_code=env.code(device))


def test_deactivate_requires_a_valid_code_and_ends_derived_sessions(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    token = env.creds.get_session_token(key, mfa_code=env.code(device)).token
    assert env.creds.authenticate(token).mfa_present
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.deactivate_mfa_device("alice", device.serial_number, env.wrong_code(device))
    env.clock.advance(30)
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
    assert not env.creds.list_mfa_devices("alice")[0].enabled
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)


def test_delete_requires_deactivation_and_frees_the_name(env: Env) -> None:
    env.user_with_key()
    device = env.enabled_device()
    with pytest.raises(DeleteConflict):
        env.creds.delete_virtual_mfa_device(device.serial_number)
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
    env.creds.delete_virtual_mfa_device(device.serial_number)
    assert env.creds.list_mfa_devices("alice") == ()
    with pytest.raises(NoSuchEntity):
        env.creds.delete_virtual_mfa_device(device.serial_number)
    again = env.creds.create_virtual_mfa_device("alice", "phone")
    assert again.base32_seed != device.base32_seed


def test_device_names_are_unique_and_devices_per_user_limited(env: Env) -> None:
    env.directory.create_user("alice")
    env.directory.create_user("bob")
    env.creds.create_virtual_mfa_device("alice", "phone")
    with pytest.raises(EntityAlreadyExists):
        env.creds.create_virtual_mfa_device("bob", "phone")
    limited = env.credentials(max_mfa_devices_per_user=2)
    limited.create_virtual_mfa_device("alice", "tablet")
    with pytest.raises(LimitExceeded):
        limited.create_virtual_mfa_device("alice", "watch")
    with pytest.raises(ValidationError):
        env.creds.create_virtual_mfa_device("bob", "ph\u0430ne")  # Cyrillic a


def test_devices_of_another_user_are_invisible(env: Env) -> None:
    env.directory.create_user("alice")
    env.directory.create_user("bob")
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    now = env.clock.time()
    with pytest.raises(NoSuchEntity):
        env.creds.enable_mfa_device("bob", device.serial_number, totp_math.code_at(device.base32_seed, now - 30),
                                    totp_math.code_at(device.base32_seed, now))


def test_several_devices_need_a_serial_number(env: Env) -> None:
    key = env.user_with_key()
    phone = env.enabled_device(device_name="phone")
    env.enabled_device(device_name="tablet")
    with pytest.raises(ValidationError):
        env.creds.get_session_token(key, mfa_code=env.code(phone))
    env.creds.get_session_token(key, mfa_code=env.code(phone), serial_number=phone.serial_number)


# recovery codes


def test_recovery_codes_are_single_use_hashed_and_regenerable(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = env.creds.store.list_recovery_codes("111122223333", env.directory.get_user("alice").user_id)
    assert all(code not in record.code_hash for record in stored for code in codes)
    token = env.creds.get_session_token(key, recovery_code=codes[0].lower()).token
    assert env.creds.authenticate(token).mfa_present
    assert env.creds.recovery_codes_remaining("alice") == 9
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.get_session_token(key, recovery_code=codes[0])
    env.clock.advance(30)
    fresh = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    with pytest.raises(InvalidAuthenticationCode):  # the old set is gone
        env.creds.get_session_token(key, recovery_code=codes[1])
    env.creds.get_session_token(key, recovery_code=fresh[1])


def test_recovery_codes_need_a_fresh_device_code(env: Env) -> None:
    env.user_with_key()
    device = env.enabled_device()
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.create_recovery_codes("alice", device.serial_number, "12345x")
    assert env.creds.recovery_codes_remaining("alice") == 0


def test_recovery_code_failures_count_toward_the_user_lockout(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    for bad in ["AAAA-BBBB-CCCC-DDDD", "not a code", "AAAA-BBBB-CCCC-DDD\u0661", "", "ZZZZ-ZZZZ-ZZZZ-ZZZZ"]:
        with pytest.raises(InvalidAuthenticationCode):
            env.creds.get_session_token(key, recovery_code=bad)
    with pytest.raises(Throttled):
        env.creds.get_session_token(key, recovery_code=codes[0])


def test_recovery_code_use_is_audited(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    caplog.set_level(logging.INFO, logger="iamguard.audit")
    env.creds.get_session_token(key, recovery_code=codes[3])
    used = [record.audit for record in caplog.records if getattr(record, "audit", {}).get("event") ==
            "recovery_code_used"]
    assert used and used[0]["remaining"] == 9


def test_deactivate_with_a_recovery_code_when_the_device_is_lost(env: Env) -> None:
    env.user_with_key()
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    env.creds.deactivate_mfa_device("alice", device.serial_number, recovery_code=codes[0])
    env.creds.delete_virtual_mfa_device(device.serial_number)
    assert env.creds.recovery_codes_remaining("alice") == 0  # codes go with the last device


# concurrency (MFA-02)


def test_eight_threads_racing_one_code_succeed_once(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    code = env.code(device)
    facades = [env.credentials() for _ in range(8)]
    barrier = threading.Barrier(8)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            facades[index].get_session_token(key, mfa_code=code)
            outcome = "ok"
        except (InvalidAuthenticationCode, Throttled):  # replays count as failures and may lock
            outcome = "refused"
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            outcome = f"error {type(exc).__name__}: {exc}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] + ["refused"] * 7
