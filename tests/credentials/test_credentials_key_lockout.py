"""KEY-03: the per-key-id lock cannot be turned into a denial of service.

Key ids are not secret, so anyone can send wrong secrets for one. The lock they set refuses wrong
secrets (Throttled, 429 at the endpoint) but never the right one, which also clears it: a machine
credential keeps working however long a third party keeps guessing. Every pair is still compared
in constant time, and a key without recent failures costs no throttle write on success.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from iamguard.credentials import AccessKeyCredentials, Credentials, InvalidClientTokenId, Throttled
from iamguard.credentials import access_keys as access_keys_module
from iamguard.credentials.config import Lockout
from iamguard.web.endpoints import AuthEndpoints
from tests.credentials.conftest import Env

LOCK = Lockout(3, 600)


def _locked(env: Env, key: AccessKeyCredentials) -> Credentials:
    """A facade whose key lock is 3 failures / 10 minutes, with `key`'s id locked by a stranger."""
    limited = env.credentials(access_key_lockout=LOCK)
    for _ in range(LOCK.max_failures):
        with pytest.raises(InvalidClientTokenId):
            limited.authenticate_access_key(key.access_key_id, "a-stranger's-guess")
    return limited


def test_a_stranger_cannot_keep_a_key_locked_out(env: Env) -> None:
    key = env.user_with_key()
    for _ in range(5):  # hour after hour of a third party re-locking the key id
        limited = _locked(env, key)
        env.clock.advance(100)
        with pytest.raises(Throttled) as refused:
            limited.authenticate_access_key(key.access_key_id, "another-guess")
        assert refused.value.retry_after == LOCK.lock_seconds - 100
        session = limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
        assert (session.user_name, session.access_key_id) == ("alice", key.access_key_id)
        # The right secret cleared the lock and the count: the next slip is an ordinary refusal.
        for _ in range(LOCK.max_failures - 1):
            with pytest.raises(InvalidClientTokenId):
                limited.authenticate_access_key(key.access_key_id, "slip")
        limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
        env.clock.advance(3600)


def test_a_lock_still_refuses_an_inactive_key_with_throttled(env: Env) -> None:
    key = env.user_with_key()
    limited = _locked(env, key)
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
    limited = _locked(env, key)
    env.creds.update_access_key(key.access_key_id, "Inactive")
    with pytest.raises(Throttled):  # the right secret of an inactive key is a refusal like any other
        limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
    env.creds.update_access_key(key.access_key_id, "Active")
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)


def _spy(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, calls: list[str]) -> None:
    original: Callable[..., Any] = getattr(target, name)

    def spied(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, spied)


def test_throttle_writes_happen_only_when_there_is_something_to_record_or_clear(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    limited = env.credentials(access_key_lockout=LOCK)
    writes: list[str] = []
    for name in ("record_failure", "clear_failures"):
        _spy(monkeypatch, limited.store, name, writes)
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
    assert writes == []  # a clean key: no throttle write on success
    _locked(env, key)
    writes.clear()
    with pytest.raises(Throttled):
        limited.authenticate_access_key(key.access_key_id, "guess")
    assert writes == []  # a guess during the lock neither extends it nor queues on the writer
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
    assert writes == ["clear_failures"]


def test_a_locked_key_still_compares_in_constant_time(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    limited = _locked(env, key)
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(left: bytes, right: bytes) -> bool:
        compared.append((left, right))
        return hmac.compare_digest(left, right)

    monkeypatch.setattr(access_keys_module, "hmac", SimpleNamespace(compare_digest=compare_digest))
    with pytest.raises(Throttled):
        limited.authenticate_access_key(key.access_key_id, "guess")
    limited.authenticate_access_key(key.access_key_id, key.secret_access_key)
    # Both pairs went through the constant-time comparison of two full-length hex verifiers.
    assert len(compared) == 2 and all(len(left) == len(right) == 64 for left, right in compared)


def test_the_token_endpoint_lets_the_right_secret_through_a_lock(env: Env) -> None:
    key = env.user_with_key()
    endpoints = AuthEndpoints(_locked(env, key))
    headers = (("content-type", "application/json"),)

    def exchange(secret: str) -> tuple[int, dict[str, str], Any]:
        body = json.dumps({"access_key_id": key.access_key_id, "secret_access_key": secret}).encode()
        answer = endpoints.token(headers, body, "192.0.2.10")
        return answer.status, dict(answer.headers), answer.json()

    status, answer_headers, body = exchange("guess")
    assert (status, answer_headers["retry-after"], body["error"]) == (429, "600", "Throttling")
    status, _, body = exchange(key.secret_access_key)
    assert status == 200 and body["token_type"] == "Bearer"
