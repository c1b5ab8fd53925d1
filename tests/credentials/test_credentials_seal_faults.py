"""A TOTP seed that does not open (a process configured with another `data_key`) is the server's
fault: the token endpoint answers 503 and the attempts count towards no lock (FAIL-01, MFA-04)."""

from __future__ import annotations

import json
from secrets import token_bytes as random_bytes

import pytest

from iamguard.credentials.sealing import SealError
from iamguard.web.endpoints import AuthEndpoints
from tests.credentials.conftest import Env

JSON = (("content-type", "application/json"),)


def test_a_seed_that_does_not_open_is_503_at_the_token_endpoint(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    misconfigured = AuthEndpoints(env.credentials(data_key=random_bytes(32)))
    body = json.dumps({"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key,
                       "mfa_code": env.code(device)}).encode()
    answer = misconfigured.token(JSON, body, "192.0.2.7")
    assert answer.status == 503
    assert b"SealError" not in answer.body and b"data key" not in answer.body


def test_codes_checked_against_a_seed_that_does_not_open_lock_nobody(env: Env) -> None:
    key = env.user_with_key()
    device = env.enabled_device()
    misconfigured = env.credentials(data_key=random_bytes(32))
    lock_after = env.creds.config.mfa_lockout.max_failures
    for _ in range(lock_after + 1):
        with pytest.raises(SealError):
            misconfigured.get_session_token(key, mfa_code=env.code(device))
    # The correctly configured process still accepts the user's code: neither the device nor the
    # user was locked by the misconfigured one.
    session = env.creds.get_session_token(key, mfa_code=env.code(device))
    assert env.creds.authenticate(session.token).mfa_present
