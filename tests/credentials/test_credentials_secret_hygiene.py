"""No secret (password, key secret, TOTP seed, code, recovery code, token, server key) appears in a
log line, an audit record, an exception message or a repr (LOG-03, MFA-10, KEY-01)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from iamguard.credentials import AccessKeyCredentials, CredentialsConfig
from tests.credentials.conftest import TENANT, Env


def test_secrets_never_leak(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = []
    texts: list[str] = []

    def attempt(action: Callable[[], Any]) -> Any:
        try:
            result = action()
        except Exception as exc:
            texts.extend([str(exc), repr(exc), repr(exc.args)])
            return None
        texts.append(repr(result))
        return result

    creds = env.creds
    env.directory.create_user("alice")
    env.directory.put_user_policy("alice", "all", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    password = "Correct-Horse-Battery-42"
    secrets_seen.append(password)
    attempt(lambda: creds.create_login_profile("alice", password))
    attempt(lambda: creds.update_login_profile("alice", password="Xy1!" + password))  # succeeds, not reused
    secrets_seen.append("Xy1!" + password)
    attempt(lambda: creds.create_login_profile("alice", password))  # already exists
    attempt(lambda: creds.update_account_password_policy(minimum_length=40))
    attempt(lambda: creds.update_login_profile("alice", password="TooShort-but-secret-1"))
    secrets_seen.append("TooShort-but-secret-1")
    attempt(lambda: creds.delete_account_password_policy())
    for wrong in ("wrong-password-1", "wrong-password-2"):
        secrets_seen.append(wrong)
        attempt(lambda wrong=wrong: creds.login("alice", wrong))
        attempt(lambda wrong=wrong: creds.login("ghost", wrong))

    key = attempt(lambda: creds.create_access_key("alice"))
    secrets_seen.append(key.secret_access_key)
    pair = AccessKeyCredentials(key.access_key_id, key.secret_access_key)
    texts.append(repr(pair))
    attempt(lambda: creds.authenticate_access_key(key.access_key_id, key.secret_access_key + "x"))
    attempt(lambda: creds.authenticate_access_key(key.access_key_id, key.secret_access_key))

    device = attempt(lambda: creds.create_virtual_mfa_device("alice", "phone"))
    secrets_seen.extend([device.base32_seed, device.provisioning_uri])
    first, second = env.code(device, -1), env.code(device)
    attempt(lambda: creds.enable_mfa_device("alice", device.serial_number, second, first))  # wrong order
    attempt(lambda: creds.enable_mfa_device("alice", device.serial_number, first, second))
    env.clock.advance(30)
    code = env.code(device)
    token = attempt(lambda: creds.get_session_token(pair, mfa_code=code))
    attempt(lambda: creds.get_session_token(pair, mfa_code=code))  # replay
    recovery = attempt(lambda: creds.create_recovery_codes("alice", device.serial_number, env.code(device, 1)))
    secrets_seen.extend(recovery)
    attempt(lambda: creds.get_session_token(pair, recovery_code=recovery[0]))
    attempt(lambda: creds.get_session_token(pair, recovery_code=recovery[0]))  # reused
    attempt(lambda: creds.get_session_token(pair, recovery_code="ABCD-EFGH-JKMN-PQRS"))
    secrets_seen.append(token.token)
    secrets_seen.append(token.token.split(".")[2])
    session = attempt(lambda: creds.authenticate(token.token))
    attempt(lambda: creds.authenticate(token.token[:-4] + "AAAA"))
    attempt(lambda: creds.authenticate(token.token + "x" * 9000))
    attempt(lambda: creds.step_up(session, "000000"))
    texts.extend([repr(creds), repr(creds.config), repr(session), repr(session.claims), repr(env.settings.keys())])
    for record in (creds.store.get_access_key(key.access_key_id),
                   creds.store.get_mfa_device(TENANT, device.serial_number),
                   creds.store.get_login_profile(TENANT, env.directory.get_user("alice").user_id),
                   *creds.store.signing_keys(),
                   *creds.store.list_recovery_codes(TENANT, env.directory.get_user("alice").user_id)):
        texts.append(repr(record))
    texts.append(repr(creds._keys.active()))
    server_keys = [env.settings["data_key"], env.settings["pepper"]]
    secrets_seen.extend(value.hex() for value in server_keys)
    texts.append(repr(CredentialsConfig(data_key=server_keys[0], pepper=server_keys[1])))

    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(getattr(record, "audit", "")))
        if record.exc_text:
            texts.append(record.exc_text)
    haystack = "\n".join(texts)
    assert "audit" in repr([r.__dict__.keys() for r in caplog.records])  # audit records were captured
    for secret in secrets_seen:
        assert secret not in haystack, f"a secret leaked: {secret[:6]}..."
    for value in server_keys:
        assert repr(value) not in haystack
    for digits in {first, second, code}:  # six-digit codes, as whole numbers
        assert not re.search(rf"(?<![0-9]){digits}(?![0-9])", haystack)
