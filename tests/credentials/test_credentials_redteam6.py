"""Red-team round 6 (credentials): regressions for the defects that round found.

- MFA-09 / JWT-09: a session whose second factor came from a device that was then deactivated
  stayed dead only while the device was off; enabling the same device again brought it back.
- POL-08: a web identity token whose header or claims repeat a name was accepted (the verifier and
  pyjwt keep the last value; another reader may keep the first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from jwt.utils import base64url_encode

from iamguard.credentials import AccessKeyCredentials, InvalidIdentityToken, RevokedToken
from iamguard.credentials import totp as totp_math
from iamguard.credentials.mfa import VirtualMfaDevice
from iamguard.store.database import StoreError
from tests.credentials.conftest import TENANT, Env, build_env
from tests.credentials.test_credentials_oidc import CLIENT, ISSUER, Idp, env_with, web_trust

USER_ARN = f"arn:aws:iam::{TENANT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/deploy"
WEB_ROLE_ARN = f"arn:aws:iam::{TENANT}:role/web"


def _trust_alice() -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole"}]}


def _session_token(env: Env, key: AccessKeyCredentials, device: VirtualMfaDevice) -> str:
    return env.creds.get_session_token(key, mfa_code=env.code(device)).token


def _role_token(env: Env, key: AccessKeyCredentials, device: VirtualMfaDevice) -> str:
    caller = env.creds.authenticate(_session_token(env, key, device))
    return env.creds.assume_role(ROLE_ARN, "chained", caller).token


def _step_up_token(env: Env, key: AccessKeyCredentials, device: VirtualMfaDevice) -> str:
    plain = env.creds.get_session_token(key).token
    return env.creds.step_up(plain, env.code(device)).token


MFA_SESSIONS: dict[str, Callable[[Env, AccessKeyCredentials, VirtualMfaDevice], str]] = {
    "get_session_token with a code": _session_token,
    "role assumed from that session": _role_token,
    "step-up token": _step_up_token,
}


@pytest.mark.parametrize("make", MFA_SESSIONS.values(), ids=MFA_SESSIONS.keys())
def test_enabling_a_deactivated_device_again_does_not_revive_its_sessions(
        env: Env, make: Callable[[Env, AccessKeyCredentials, VirtualMfaDevice], str]) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("deploy", _trust_alice())
    device = env.enabled_device("alice")
    token = make(env, key, device)
    assert env.creds.authenticate(token).mfa_present
    env.clock.advance(30)
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device))
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)
    env.clock.advance(90)
    now = env.clock.time()
    env.creds.enable_mfa_device("alice", device.serial_number, totp_math.code_at(device.base32_seed, now - 30),
                                totp_math.code_at(device.base32_seed, now))
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)
    env.clock.advance(30)
    fresh = env.creds.get_session_token(key, mfa_code=env.code(device)).token
    assert env.creds.authenticate(fresh).mfa_present  # the re-enabled device vouches for new sessions


def _signed(idp: Idp, header: str, payload: str) -> str:
    """A token signed by the issuer's RSA key over exactly these header and payload texts."""
    head = base64url_encode(header.encode()).decode()
    body = base64url_encode(payload.encode()).decode()
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(f"{head}.{body}".encode(),
                                                                                      idp.rsa)
    return f"{head}.{body}.{base64url_encode(signature).decode()}"


HEADER = '{"alg":"RS256","kid":"rsa-1","typ":"JWT"}'
CLAIMS = '"iss":"' + ISSUER + '","aud":"' + CLIENT + '","iat":IAT,"exp":EXP'
REPEATED_NAMES = {
    "sub twice": (HEADER, '{' + CLAIMS + ',"sub":"someone-else","sub":"user-123"}'),
    "iss twice": (HEADER, '{"iss":"https://other.example.com",' + CLAIMS + ',"sub":"user-123"}'),
    "aud twice": (HEADER, '{' + CLAIMS + ',"aud":"' + CLIENT + '","sub":"user-123"}'),
    "kid twice": ('{"alg":"RS256","kid":"unknown","kid":"rsa-1"}', '{' + CLAIMS + ',"sub":"user-123"}'),
}


@pytest.mark.parametrize(("header", "payload"), REPEATED_NAMES.values(), ids=REPEATED_NAMES.keys())
def test_web_identity_tokens_repeating_a_name_are_refused(tmp_path: Path, header: str, payload: str) -> None:
    idp = Idp()
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(condition={"StringEquals": {"idp.example.com:sub": "user-123"}}))
    iat = int(env.clock.time())
    def timed(text: str) -> str:
        return text.replace("IAT", str(iat)).replace("EXP", str(iat + 600))

    unique = _signed(idp, HEADER, timed('{' + CLAIMS + ',"sub":"user-123"}'))
    assert env.creds.assume_role_with_web_identity(WEB_ROLE_ARN, "web-1", unique).token  # the control passes
    with pytest.raises(InvalidIdentityToken, match="unique names"):
        env.creds.assume_role_with_web_identity(WEB_ROLE_ARN, "web-1",
                                                _signed(idp, header, timed(payload)))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_attempt_undone_after_a_store_error_leaves_a_concurrent_failure_counted(tmp_path: Path, kind: str) -> None:
    """MFA counts an attempt before looking at its code and undoes that count when the store
    fails before a verdict. The undo must remove only its own count: a wrong code that another
    request sent meanwhile stays counted towards the lock."""
    env = build_env(kind, tmp_path)
    key = env.user_with_key("alice")
    device = env.enabled_device("alice")
    store = env.creds.store
    claimed: list[str] = []
    real_record, real_consume = store.record_failure, store.consume_totp_step

    def record(subject: str, now: float, lockout: Any) -> Any:
        claimed.append(subject)
        return real_record(subject, now, lockout)

    def concurrent_failure_then_outage(device_id: str, step: int) -> bool:
        for subject in list(claimed):  # another request's wrong code, counted meanwhile
            real_record(subject, env.clock.time(), env.creds.config.mfa_lockout)
        raise StoreError("database is locked")

    store.record_failure = record  # type: ignore[method-assign]
    store.consume_totp_step = concurrent_failure_then_outage  # type: ignore[method-assign]
    try:
        with pytest.raises(StoreError):
            env.creds.get_session_token(key, mfa_code=env.code(device))
    finally:
        store.record_failure, store.consume_totp_step = real_record, real_consume  # type: ignore[method-assign]
    assert len(claimed) == 2  # the device and the user
    # Each holds this attempt's count and the concurrent one's: the undo kept both (fail closed).
    assert [store.throttle_state(subject).failures for subject in claimed] == [2, 2]
