"""Red-team regressions for STS: revoking one session ends the sessions derived from it (ROLE-06,
JWT-09), and a caller a role does not trust cannot learn anything about that role (ROLE-01)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iamguard.credentials import AccessDenied, AccessKeyCredentials, RevokedToken, Session
from tests.credentials.conftest import TENANT, Env
from tests.credentials.test_credentials_oidc import Idp, env_with, web_trust

USER_ARN = f"arn:aws:iam::{TENANT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/deploy"
NEXT_ARN = f"arn:aws:iam::{TENANT}:role/next"


def trust(principal: Any, action: str = "sts:AssumeRole") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": action}]}


def caller(env: Env, key: AccessKeyCredentials) -> Session:
    return env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)


@pytest.fixture
def alice(env: Env) -> AccessKeyCredentials:
    key = env.user_with_key("alice")
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.directory.create_role("next", trust({"AWS": ROLE_ARN}))
    return key


# Each case: (parent session, session derived from it), built from alice's key.
def _role_then_chained(env: Env, key: AccessKeyCredentials) -> tuple[str, str]:
    parent = env.creds.assume_role(ROLE_ARN, "s1", caller(env, key)).token
    return parent, env.creds.assume_role(NEXT_ARN, "s2", env.creds.authenticate(parent)).token


def _session_token_then_role(env: Env, key: AccessKeyCredentials) -> tuple[str, str]:
    parent = env.creds.get_session_token(key).token
    return parent, env.creds.assume_role(ROLE_ARN, "s1", env.creds.authenticate(parent)).token


def _session_token_then_two_hops(env: Env, key: AccessKeyCredentials) -> tuple[str, str]:
    parent, child = _session_token_then_role(env, key)
    return parent, env.creds.assume_role(NEXT_ARN, "s2", env.creds.authenticate(child)).token


def _session_then_step_up(env: Env, key: AccessKeyCredentials) -> tuple[str, str]:
    device = env.enabled_device()
    parent = env.creds.get_session_token(key).token
    return parent, env.creds.step_up(parent, env.code(device)).token


@pytest.mark.parametrize("derive", [_role_then_chained, _session_token_then_role, _session_token_then_two_hops,
                                    _session_then_step_up])
def test_revoking_a_session_ends_the_sessions_derived_from_it(
        env: Env, alice: AccessKeyCredentials, derive: Callable[[Env, AccessKeyCredentials], tuple[str, str]]) -> None:
    parent, derived = derive(env, alice)
    unrelated = env.creds.get_session_token(alice).token
    env.creds.authenticate(derived)  # alive (and warm) before the revocation
    env.creds.revoke_session(env.creds.authenticate(parent))
    for token in (parent, derived):
        with pytest.raises(RevokedToken):
            env.creds.authenticate(token)
    assert env.creds.authenticate(unrelated).principal_arn == USER_ARN  # only that lineage of tokens died


def test_revoking_a_derived_session_leaves_its_parent_alive(env: Env, alice: AccessKeyCredentials) -> None:
    parent, derived = _session_token_then_role(env, alice)
    env.creds.revoke_session(env.creds.authenticate(derived))
    with pytest.raises(RevokedToken):
        env.creds.authenticate(derived)
    assert env.creds.authenticate(parent).principal_arn == USER_ARN


# A role that does not trust the caller answers exactly as a role that does not exist.


@pytest.mark.parametrize("options", [{}, {"duration": 7201}, {"duration": 7200}, {"duration": 100},
                                     {"mfa_code": "wrong"}, {"serial_number": "arn:aws:iam::1:mfa/x"}])
def test_an_untrusted_caller_cannot_tell_a_role_exists(env: Env, options: dict[str, Any]) -> None:
    key = env.user_with_key("alice")
    env.directory.create_user("bob")
    env.directory.create_role("admin", trust({"AWS": f"arn:aws:iam::{TENANT}:user/bob"}), max_session_duration=7200)
    device = env.enabled_device()
    if options.get("mfa_code") == "wrong":
        options = {"mfa_code": env.wrong_code(device)}
    messages = []
    for role in ("admin", "missing"):
        arn = f"arn:aws:iam::{TENANT}:role/{role}"
        with pytest.raises(AccessDenied) as denied:
            env.creds.assume_role(arn, "s1", caller(env, key), **options)
        messages.append(str(denied.value).replace(arn, "<role>"))
    assert messages[0] == messages[1]


def test_a_code_is_not_spent_on_a_role_that_refuses_the_caller(env: Env) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("own", trust({"AWS": USER_ARN}))
    env.directory.create_role("nobody", trust({"AWS": USER_ARN}))
    env.directory.create_role("admin", trust({"AWS": f"arn:aws:iam::{TENANT}:role/nobody"}))
    device = env.enabled_device()
    code = env.code(device)
    with pytest.raises(AccessDenied):
        env.creds.assume_role(f"arn:aws:iam::{TENANT}:role/admin", "s1", caller(env, key), mfa_code=code)
    issued = env.creds.assume_role(f"arn:aws:iam::{TENANT}:role/own", "s1", caller(env, key), mfa_code=code)
    assert env.creds.authenticate(issued.token).mfa_age(env.clock.now()) == 0


@pytest.mark.parametrize("duration", [7201, 100])
def test_a_web_identity_the_role_does_not_trust_learns_nothing_about_it(tmp_path: Path, duration: int) -> None:
    idp = Idp()
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(condition={"StringEquals": {"idp.example.com:sub": "someone-else"}}),
                              max_session_duration=7200)
    messages = []
    for role in ("web", "missing"):
        arn = f"arn:aws:iam::{TENANT}:role/{role}"
        with pytest.raises(AccessDenied) as denied:
            env.creds.assume_role_with_web_identity(arn, "web-1", idp.token(env.clock.time()), duration=duration)
        messages.append(str(denied.value).replace(arn, "<role>"))
    assert messages[0] == messages[1]
