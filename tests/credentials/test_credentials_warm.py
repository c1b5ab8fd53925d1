"""The warm path for tokens seen before: it returns what the full path would, and never outlives a
change (CACHE-01, CACHE-03) or the token's validity window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iamguard.credentials import Credentials, ExpiredToken, InvalidToken, RevokedToken
from iamguard.credentials.warm import WarmSessions
from iamguard.engine.context import Request
from tests.credentials.conftest import TENANT, Env

ALICE = f"arn:aws:iam::{TENANT}:user/alice"
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "orders:Get*", "Resource": "*"}]}


def _warm_token(env: Env) -> str:
    token = env.creds.get_session_token(env.user_with_key(policy=READ)).token
    first = env.creds.authenticate(token)
    assert env.creds.authenticate(token) is first  # the second call is served warm
    return token


def _revoke_this_session(env: Env, token: str) -> None:
    env.creds.revoke_session(env.creds.authenticate(token))


def _revoke_all_sessions(env: Env, token: str) -> None:
    env.clock.advance(5)
    env.creds.revoke_sessions(ALICE)


def _deactivate_key(env: Env, token: str) -> None:
    key_id = env.creds.authenticate(token).access_key_id
    assert key_id is not None
    env.creds.update_access_key(key_id, "Inactive", user_name="alice")


def _delete_and_recreate_user(env: Env, token: str) -> None:
    env.directory.delete_user_policy("alice", "main")
    for key in env.creds.list_access_keys("alice"):
        env.creds.delete_access_key(key.access_key_id, user_name="alice")
    env.directory.delete_user("alice")
    env.directory.create_user("alice")


@pytest.mark.parametrize("change", [_revoke_this_session, _revoke_all_sessions, _deactivate_key,
                                    _delete_and_recreate_user])
def test_a_change_that_kills_the_session_applies_to_the_next_call(env: Env,
                                                                  change: Callable[[Env, str], None]) -> None:
    token = _warm_token(env)
    change(env, token)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)


def test_another_process_sees_a_revocation_within_the_cache_bound(tmp_path: Any) -> None:
    from tests.credentials.conftest import build_env

    env = build_env("sqlite", tmp_path)
    try:
        token = _warm_token(env)
        other = env.credentials()  # another process's view of the same database
        assert other.authenticate(token).principal_arn == ALICE
        assert other.authenticate(token) is other.authenticate(token)
        env.creds.revoke_session(env.creds.authenticate(token))
        env.clock.advance(env.directory.cache_ttl)  # the documented cross-process bound
        with pytest.raises(RevokedToken):
            other.authenticate(token)
    finally:
        env.store.close()


def test_the_validity_window_is_checked_on_every_warm_call(env: Env) -> None:
    token = _warm_token(env)
    session = env.creds.authenticate(token)
    assert session.expires_at is not None
    last_valid = session.expires_at.timestamp() + env.creds.config.leeway_seconds - 1
    env.clock.set(last_valid)
    assert env.creds.authenticate(token) is session
    env.clock.set(last_valid + 1)
    with pytest.raises(ExpiredToken):
        env.creds.authenticate(token)


def test_policies_follow_a_detach_on_the_next_request(env: Env) -> None:
    token = _warm_token(env)
    question = Request(ALICE, "orders:GetOrder", f"arn:app:orders::{TENANT}:order/1", {})
    session = env.creds.authenticate(token)
    policy_set = env.creds.policy_set_for(session)
    assert env.creds.policy_set_for(session) is policy_set  # warm
    assert policy_set.evaluate(question).allowed
    env.directory.delete_user_policy("alice", "main")
    session = env.creds.authenticate(token)
    assert not env.creds.policy_set_for(session).evaluate(question).allowed


def test_a_resource_policy_always_takes_the_full_path(env: Env) -> None:
    token = _warm_token(env)
    session = env.creds.authenticate(token)
    warm = env.creds.policy_set_for(session)
    resource_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "*", "Resource": "*"}]}
    with_resource = env.creds.policy_set_for(session, resource_policy)
    assert with_resource is not warm
    question = Request(ALICE, "orders:GetOrder", f"arn:app:orders::{TENANT}:order/1", {})
    assert warm.evaluate(question).allowed and not with_resource.evaluate(question).allowed


def test_a_forged_token_is_not_served_warm_by_a_matching_prefix(env: Env) -> None:
    token = _warm_token(env)
    header, payload, signature = token.split(".")
    altered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(InvalidToken):
        env.creds.authenticate(altered)


class _Watch:
    def __init__(self) -> None:
        self.value = (1,)

    def current(self) -> tuple[int, ...]:
        return self.value


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


def _claims(issued: int = 1000, not_before: int | None = None, expires: int = 1900) -> Any:
    from iamguard.credentials.tokens import SessionClaims

    return SessionClaims(tenant_id=TENANT, credential_type="session", principal_arn=ALICE, source_arn=ALICE,
                         principal_id="AIDA1", userid="AIDA1", issued_at=issued, expires_at=expires, jti="j1",
                         lineage=("AIDA1",), not_before=not_before)


def _warm(limit: int = 8) -> tuple[WarmSessions, _Watch, _Clock]:
    watch, clock = _Watch(), _Clock()
    return WarmSessions(watch, clock, leeway=30, limit=limit, max_token_bytes=64), watch, clock  # type: ignore[arg-type]


def test_an_entry_made_under_an_older_generation_is_never_used() -> None:
    warm, watch, _ = _warm()
    session: Any = object()
    warm.remember("a.b.c", (0,), _claims(), session)  # a write landed while the full path ran
    assert warm.session("a.b.c") is None
    warm.remember("a.b.c", (1,), _claims(), session)
    assert warm.session("a.b.c") is session
    watch.value = (2,)
    assert warm.session("a.b.c") is None


@pytest.mark.parametrize(("now", "served"), [(939.0, False), (940.0, True), (1929.0, True), (1929.99, True),
                                             (1930.0, False)])
def test_the_window_is_the_full_paths_time_checks(now: float, served: bool) -> None:
    warm, _, clock = _warm()
    session: Any = object()
    warm.remember("a.b.c", (1,), _claims(issued=950, not_before=970), session)  # valid from nbf - leeway
    clock.now = now
    assert (warm.session("a.b.c") is session) is served


def test_entries_are_bounded_and_oversized_or_non_text_tokens_are_never_looked_up() -> None:
    warm, _, _ = _warm(limit=3)
    session: Any = object()
    for index in range(3):
        warm.remember(f"t.{index}.x", (1,), _claims(), session)
    assert warm.session("t.0.x") is session
    warm.remember("t.3.x", (1,), _claims(), session)  # full: emptied, then the new one kept
    assert warm.session("t.0.x") is None and warm.session("t.3.x") is session
    warm.remember("x" * 65, (1,), _claims(), session)
    assert warm.session("x" * 65) is None
    assert warm.session(b"t.3.x") is None


def test_credentials_remember_no_bearer_token(env: Env) -> None:
    token = _warm_token(env)
    warm = env.creds._warm
    assert isinstance(env.creds, Credentials)
    assert all(isinstance(key, bytes) and token.encode() not in key for key in warm._sessions)
    assert token not in repr(warm._sessions)
