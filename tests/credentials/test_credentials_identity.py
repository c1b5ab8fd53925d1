"""Credentials bind to unique ids (ROLE-04, KEY-04): deleting a user needs its credentials gone
first, and a user recreated under the same name inherits no key, session or MFA device."""

from __future__ import annotations

import pytest

from iamguard.credentials import InvalidClientTokenId, RevokedToken
from iamguard.directory import DeleteConflictError
from tests.credentials.conftest import TENANT, Env


def test_delete_user_is_refused_while_credentials_exist(env: Env) -> None:
    key = env.user_with_key(policy=None)
    env.creds.create_login_profile("alice", "a password")
    device = env.creds.create_virtual_mfa_device("alice", "phone")
    with pytest.raises(DeleteConflictError) as refused:
        env.directory.delete_user("alice")
    text = str(refused.value)
    assert key.access_key_id in text and device.serial_number in text and "login profile" in text
    env.creds.delete_access_key(key.access_key_id)
    env.creds.delete_login_profile("alice")
    env.creds.delete_virtual_mfa_device(device.serial_number)
    env.directory.delete_user("alice")


def test_dependents_are_registered_once_however_many_facades(env: Env) -> None:
    env.user_with_key(policy=None)
    env.credentials()
    env.credentials()
    with pytest.raises(DeleteConflictError) as refused:
        env.directory.delete_user("alice")
    assert len(refused.value.dependents) == 1


def test_recreated_user_inherits_nothing(env: Env) -> None:
    key = env.user_with_key(policy=None)
    device = env.enabled_device()
    token = env.creds.get_session_token(key, mfa_code=env.code(device)).token
    env.creds.authenticate(token)
    env.creds.deactivate_mfa_device("alice", device.serial_number, env.code(device, 1))
    env.creds.delete_virtual_mfa_device(device.serial_number)
    env.creds.delete_access_key(key.access_key_id)
    env.directory.delete_user("alice")
    env.directory.create_user("alice")
    assert env.creds.list_access_keys("alice") == ()
    assert env.creds.list_mfa_devices("alice") == ()
    with pytest.raises(InvalidClientTokenId):
        env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)


def test_a_session_of_a_deleted_user_dies_even_without_a_key(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "a password")
    token = env.creds.login("carol", "a password").token
    env.creds.delete_login_profile("carol")
    env.directory.delete_user("carol")
    env.directory.create_user("carol")
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)


def test_renamed_user_keeps_keys(env: Env) -> None:
    key = env.user_with_key(policy=None)
    env.directory.update_user("alice", new_user_name="alicia")
    session = env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    assert session.principal_arn == f"arn:aws:iam::{TENANT}:user/alicia"


def test_facade_construction_errors(env: Env) -> None:
    from iamguard.credentials import ConfigurationError, Credentials

    with pytest.raises(ConfigurationError):
        Credentials(env.directory, signing_algoritm="EdDSA")  # misspelled setting
    with pytest.raises(ConfigurationError):
        Credentials(env.store)  # a store needs tenant_id
    with pytest.raises(ConfigurationError):
        Credentials("not a directory")  # type: ignore[arg-type]
    by_store = Credentials(env.store, tenant_id=TENANT, clock=env.clock, **env.settings)
    assert by_store.tenant_id == TENANT and by_store.partition == "aws"
