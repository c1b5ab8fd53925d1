"""Red-team regressions for multi-tenant isolation (security spec APP-04): two tenants on one
SQLite store, each with its own Directory and Credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials, Credentials, ScryptCost
from iamguard.credentials.errors import AccessDenied, InvalidClientTokenId, InvalidToken
from iamguard.directory import Directory
from iamguard.directory.errors import DeleteConflictError
from iamguard.store.sqlite import SQLiteStore

TENANT_A, TENANT_B = "111111111111", "222222222222"
CHEAP = ScryptCost(n=16, r=1, p=1)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass
class Tenants:
    clock: FrozenClock
    store: SQLiteStore
    settings: dict[str, Any]
    directories: dict[str, Directory]
    credentials: dict[str, Credentials]
    keys: dict[str, AccessKeyCredentials]

    def add_tenant(self, tenant_id: str) -> Credentials:
        Directory.create_tenant(self.store, tenant_id, clock=self.clock)
        directory = Directory(self.store, tenant_id, clock=self.clock)
        self.directories[tenant_id] = directory
        self.credentials[tenant_id] = Credentials(directory, clock=self.clock, **self.settings)
        return self.credentials[tenant_id]


@pytest.fixture
def tenants(tmp_path: Path) -> Tenants:
    settings = {"password_cost": CHEAP, "recovery_code_cost": CHEAP, "data_key": secrets.token_bytes(32),
                "pepper": secrets.token_bytes(32)}
    env = Tenants(FrozenClock(), SQLiteStore(tmp_path / "iamguard.db"), settings, {}, {}, {})
    for tenant_id in (TENANT_A, TENANT_B):
        credentials = env.add_tenant(tenant_id)
        env.directories[tenant_id].create_user("alice")  # the same name in both tenants
        env.directories[tenant_id].put_user_policy("alice", "all", ALLOW_ALL)
        key = credentials.create_access_key("alice")
        env.keys[tenant_id] = AccessKeyCredentials(key.access_key_id, key.secret_access_key)
    return env


def test_another_tenant_s_access_key_session_cannot_mint_a_session_token(tenants: Tenants) -> None:
    """B's GetSessionToken used to mint a token with B's tid and A's user as subject."""
    key = tenants.keys[TENANT_A]
    a_session = tenants.credentials[TENANT_A].authenticate_access_key(key.access_key_id, key.secret_access_key)
    with pytest.raises(AccessDenied):
        tenants.credentials[TENANT_B].get_session_token(a_session)
    # the same Session still works in its own tenant
    token = tenants.credentials[TENANT_A].get_session_token(a_session).token
    assert tenants.credentials[TENANT_A].authenticate(token).principal_arn == f"arn:aws:iam::{TENANT_A}:user/alice"


def test_a_held_access_key_session_whose_key_died_cannot_mint_a_session_token(tenants: Tenants) -> None:
    credentials, key = tenants.credentials[TENANT_A], tenants.keys[TENANT_A]
    held = credentials.authenticate_access_key(key.access_key_id, key.secret_access_key)
    credentials.update_access_key(key.access_key_id, "Inactive", user_name="alice")
    with pytest.raises(InvalidClientTokenId):
        credentials.get_session_token(held)


def test_revoking_another_tenant_s_session_is_refused_not_silently_ignored(tenants: Tenants) -> None:
    """The revocation used to be stored under B's tenant id, where A never looks: a silent no-op."""
    credentials_a = tenants.credentials[TENANT_A]
    token = credentials_a.get_session_token(tenants.keys[TENANT_A]).token
    session = credentials_a.authenticate(token)
    with pytest.raises(InvalidToken):
        tenants.credentials[TENANT_B].revoke_session(session)
    credentials_a.revoke_session(session)
    tenants.clock.advance(1)
    with pytest.raises(InvalidToken):  # RevokedToken is an InvalidToken
        credentials_a.authenticate(token)


def _empty_tenant(tenants: Tenants, tenant_id: str) -> None:
    credentials = tenants.credentials[tenant_id]
    credentials.delete_access_key(tenants.keys[tenant_id].access_key_id, user_name="alice")
    tenants.directories[tenant_id].delete_user_policy("alice", "all")
    tenants.directories[tenant_id].delete_user("alice")


@pytest.mark.parametrize(("set_policy", "refused"), [(True, True), (False, False)])
def test_a_tenant_with_a_password_policy_is_not_deleted_so_its_id_cannot_inherit_it(
        tenants: Tenants, set_policy: bool, refused: bool) -> None:
    """The password policy, keyed by tenant id alone, used to outlive DeleteTenant and apply to a
    new tenant created under the same id."""
    tenants.credentials[TENANT_B].update_account_password_policy(minimum_length=20)
    if set_policy:
        tenants.credentials[TENANT_A].update_account_password_policy(minimum_length=30)
    _empty_tenant(tenants, TENANT_A)

    def delete() -> None:
        Directory.delete_tenant(tenants.store, TENANT_A, clock=tenants.clock)

    if refused:
        with pytest.raises(DeleteConflictError) as raised:
            delete()
        assert "password policy" in str(raised.value)
        tenants.credentials[TENANT_A].delete_account_password_policy()
    delete()
    recreated = tenants.add_tenant(TENANT_A)
    assert recreated.get_account_password_policy().minimum_length == 8  # the default, nothing inherited
    assert tenants.credentials[TENANT_B].get_account_password_policy().minimum_length == 20
