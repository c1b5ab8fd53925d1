"""Red-team regressions for credentials, sessions and MFA: each test failed before its fix.

- JWT-09: pruning forgot a revoked jti at `exp`, while the token is accepted until `exp + leeway`.
- JWT-06 (OIDC): a NaN time claim compares false with everything, so it slipped past every check.
- MFA-04: the lockout was checked before and counted after a guess, so concurrent guesses all
  passed the check; passwords had the same race.
- MFA-08: recovery codes kept proving MFA after the user's only device was deactivated.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iamguard.credentials import (
    AuthenticationFailed,
    Credentials,
    InvalidAuthenticationCode,
    InvalidIdentityToken,
    OidcIssuer,
    RevokedToken,
    Throttled,
)
from tests.credentials.conftest import Env, build_env
from tests.credentials.test_credentials_oidc import CLIENT, ISSUER, ROLE_ARN, Idp, web_trust

THREADS = 24


def test_pruning_keeps_a_revoked_token_refused_through_the_leeway(env: Env) -> None:
    key = env.user_with_key()
    issued = env.creds.get_session_token(key, duration=900)
    env.creds.revoke_session(env.creds.authenticate(issued.token))
    env.clock.advance(900 + env.creds.config.leeway_seconds - 1)  # past exp, still inside the leeway
    env.creds.prune()
    for facade in (env.creds, env.credentials()):  # this process, and one with cold caches
        with pytest.raises(RevokedToken):
            facade.authenticate(issued.token)


@pytest.mark.parametrize("claims", [
    {"exp": float("nan")},
    {"iat": float("nan")},
    {"nbf": float("nan")},
])
def test_oidc_time_claims_must_be_finite(tmp_path: Path, claims: dict[str, float]) -> None:
    idp = Idp()
    env = build_env("memory", tmp_path, oidc_issuers=(OidcIssuer(ISSUER, CLIENT, jwks=idp.jwks()),))
    env.directory.create_role("web", web_trust())
    token = idp.token(env.clock.time(), **claims)
    with pytest.raises(InvalidIdentityToken, match="finite"):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "session", token)


def _gate_counter_writes(monkeypatch: pytest.MonkeyPatch, store: Any, marker: str, count: int) -> None:
    """Hold every attempt at its first failure-counter write until all `count` attempts are there,
    so that each has read its lockout state before any counts: the worst interleaving, made
    deterministic. A guard that reads the state and counts only after a wrong answer then lets
    every attempt through; one that counts atomically before answering lets `max_failures` through."""
    gate = threading.Barrier(count, timeout=10)
    write = store.record_failure

    def gated(subject: str, now: float, lockout: Any) -> Any:
        if marker in subject:
            gate.wait()
        return write(subject, now, lockout)

    monkeypatch.setattr(store, "record_failure", gated)


def _race(attempt: Callable[[int], object], count: int) -> collections.Counter[str]:
    """Run `attempt(index)` in `count` threads released together; count the outcomes by class."""
    barrier = threading.Barrier(count)
    outcomes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            attempt(index)
            outcome = "accepted"
        except Exception as exc:  # the outcome class is what the test counts
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_wrong_codes_cannot_outrun_the_mfa_lockout(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    caller = env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    valid = {env.code(device, offset) for offset in (-1, 0, 1)}
    wrong = [code for code in (f"{index:06d}" for index in range(100, 200)) if code not in valid][:THREADS]
    _gate_counter_writes(monkeypatch, env.creds.store, ":mfa-device:", THREADS)
    outcomes = _race(lambda index: env.creds.get_session_token(caller, mfa_code=wrong[index]), THREADS)
    limit = env.creds.config.mfa_lockout.max_failures
    assert outcomes == {InvalidAuthenticationCode.__name__: limit, Throttled.__name__: THREADS - limit}


def test_concurrent_wrong_passwords_cannot_outrun_the_login_lockout(env: Env,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    env.directory.create_user("alice")
    env.creds.create_login_profile("alice", "Correct-horse-1")
    _gate_counter_writes(monkeypatch, env.creds.store, ":login:", THREADS)
    outcomes = _race(lambda index: env.creds.check_password("alice", f"wrong-{index}"), THREADS)
    limit = env.creds.config.login_lockout.max_failures
    assert outcomes == {AuthenticationFailed.__name__: limit, Throttled.__name__: THREADS - limit}


@pytest.mark.parametrize("kind", ["code", "password"])
def test_a_success_on_the_last_allowed_attempt_is_accepted_and_clears_the_count(env: Env, kind: str) -> None:
    """Attempts are now counted before they are checked; a right answer must still win and reset."""
    key = env.user_with_key()
    env.creds.create_login_profile("alice", "Correct-horse-1")
    device = env.enabled_device()

    def attempt(creds: Credentials, right: bool) -> object:
        if kind == "code":
            return creds.get_session_token(key, mfa_code=env.code(device) if right else env.wrong_code(device))
        return creds.check_password("alice", "Correct-horse-1" if right else "wrong")

    failure = InvalidAuthenticationCode if kind == "code" else AuthenticationFailed
    for _ in range(4):
        with pytest.raises(failure):
            attempt(env.creds, False)
    assert attempt(env.creds, True) is not None  # the fifth attempt, right: accepted
    env.clock.advance(30)
    for _ in range(4):  # the count started over: four more failures do not lock
        with pytest.raises(failure):
            attempt(env.creds, False)
    assert attempt(env.creds, True) is not None


def test_recovery_codes_stop_proving_mfa_once_the_device_is_deactivated(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    codes = env.creds.create_recovery_codes("alice", device.serial_number, env.code(device))
    env.clock.advance(30)
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.get_session_token(key, recovery_code=codes[0])
