"""Access keys: format, shown-once secrets, verifiers, limits, status, uniform failures, lockout."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from iamguard.credentials import (
    InvalidClientTokenId,
    LimitExceeded,
    Lockout,
    NoSuchEntity,
    Throttled,
    ValidationError,
)
from iamguard.credentials import access_keys as access_keys_module
from tests.credentials.conftest import TENANT, Env


def test_create_returns_the_secret_once(env: Env) -> None:
    env.directory.create_user("alice")
    key = env.creds.create_access_key("alice")
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key.access_key_id)
    assert len(key.secret_access_key) == 40 and key.secret_access_key not in repr(key)
    listed = env.creds.list_access_keys("alice")
    assert [(item.access_key_id, item.status) for item in listed] == [(key.access_key_id, "Active")]
    assert not hasattr(listed[0], "secret_access_key")
    record = env.creds.store.get_access_key(key.access_key_id)
    assert record is not None
    assert key.secret_access_key not in repr(record) and key.secret_access_key not in record.verifier
    assert len(record.verifier) == 64  # an HMAC-SHA-256 verifier, not the secret


def test_secrets_are_high_entropy() -> None:
    secrets_seen = [access_keys_module.new_secret() for _ in range(200)]
    assert len(set(secrets_seen)) == 200
    counts = Counter("".join(secrets_seen))
    total = sum(counts.values())
    entropy_per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    assert entropy_per_char * 40 >= 160


def test_at_most_two_keys_per_user(env: Env) -> None:
    env.directory.create_user("alice")
    env.creds.create_access_key("alice")
    second = env.creds.create_access_key("alice")
    with pytest.raises(LimitExceeded):
        env.creds.create_access_key("alice")
    env.creds.delete_access_key(second.access_key_id, user_name="alice")
    env.creds.create_access_key("alice")


def test_authentication_and_last_used(env: Env) -> None:
    key = env.user_with_key()
    assert env.creds.get_access_key_last_used(key.access_key_id).last_used_date is None
    env.clock.advance(100)
    session = env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key, action="s3:GetObject",
                                                source_ip="203.0.113.7")
    assert session.principal_arn == f"arn:aws:iam::{TENANT}:user/alice" and session.access_key_id == key.access_key_id
    used = env.creds.get_access_key_last_used(key.access_key_id)
    assert used.last_used_date == env.clock.now()
    assert (used.last_used_action, used.last_used_source_ip) == ("s3:GetObject", "203.0.113.7")


def test_unknown_wrong_and_inactive_fail_identically(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    env.directory.create_user("bob")
    inactive = env.creds.create_access_key("bob")
    env.creds.update_access_key(inactive.access_key_id, "Inactive")
    hmac_calls: list[str] = []
    original = access_keys_module.key_verifier
    monkeypatch.setattr(access_keys_module, "key_verifier",
                        lambda *args: (hmac_calls.append("hmac"), original(*args))[1])
    attempts = [
        ("AKIAAAAAAAAAAAAAAAAA", key.secret_access_key),  # unknown id
        (key.access_key_id, key.secret_access_key[:-1] + ("A" if key.secret_access_key[-1] != "A" else "B")),
        (inactive.access_key_id, inactive.secret_access_key),  # inactive key, right secret
        ("not-a-key-id", "x"),
        (key.access_key_id, None),
    ]
    outcomes = []
    for key_id, secret in attempts:
        hmac_calls.clear()
        with pytest.raises(InvalidClientTokenId) as raised:
            env.creds.authenticate_access_key(key_id, secret)  # type: ignore[arg-type]
        outcomes.append((type(raised.value), str(raised.value), raised.value.status, len(hmac_calls)))
    assert len(set(outcomes)) == 1 and outcomes[0][3] == 1


def test_status_changes(env: Env) -> None:
    key = env.user_with_key()
    env.creds.update_access_key(key.access_key_id, "Inactive", user_name="alice")
    assert env.creds.list_access_keys("alice")[0].status == "Inactive"
    with pytest.raises(InvalidClientTokenId):
        env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    env.creds.update_access_key(key.access_key_id, "Active")
    env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    for bad in ("active", "Disabled", None):
        with pytest.raises(ValidationError):
            env.creds.update_access_key(key.access_key_id, bad)  # type: ignore[arg-type]


def test_keys_are_scoped_to_their_user_and_tenant(env: Env) -> None:
    key = env.user_with_key()
    env.directory.create_user("bob")
    with pytest.raises(NoSuchEntity):
        env.creds.delete_access_key(key.access_key_id, user_name="bob")
    with pytest.raises(NoSuchEntity):
        env.creds.update_access_key("AKIAAAAAAAAAAAAAAAAA", "Inactive")
    with pytest.raises(ValidationError):
        env.creds.delete_access_key("akia-lowercase")


def test_failed_attempts_lock_the_key_id(env: Env) -> None:
    key = env.user_with_key()
    limited = env.credentials(access_key_lockout=Lockout(3, 600))
    for _ in range(3):
        with pytest.raises(InvalidClientTokenId):
            limited.authenticate_access_key(key.access_key_id, "wrong")
    with pytest.raises(Throttled):  # a wrong secret while locked; the right one still works (KEY-03)
        limited.authenticate_access_key(key.access_key_id, "wrong")
    env.clock.advance(601)
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)


def test_a_deleted_user_s_key_stops_working(env: Env) -> None:
    key = env.user_with_key()
    user_id = env.directory.get_user("alice").user_id
    env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    # bypass the dependents check to simulate a user removed behind our back
    with env.directory.store.write() as writer:
        writer.delete_inline(user_id, "main")
        writer.delete_entity(user_id)
    with pytest.raises(InvalidClientTokenId):
        env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
