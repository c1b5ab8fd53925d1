"""Passwords: policy, login profiles, login without an existence oracle, lockout, expiry, reuse."""

from __future__ import annotations

import pytest

from iamguard.credentials import (
    AuthenticationFailed,
    EntityAlreadyExists,
    InvalidInput,
    NoSuchEntity,
    PasswordExpired,
    PasswordPolicy,
    PasswordPolicyViolation,
    Throttled,
    hashing,
)
from iamguard.credentials.passwords import policy_problems
from tests.credentials.conftest import Env

STRICT = PasswordPolicy(minimum_length=12, require_symbols=True, require_numbers=True, require_uppercase=True,
                        require_lowercase=True)


@pytest.mark.parametrize(("password", "problem"), [
    ("Short1!", "at least 12"),
    ("alllowercase1!", "uppercase"),
    ("ALLUPPERCASE1!", "lowercase"),
    ("NoDigitsHere!!", "digit"),
    ("NoSymbols12345", "symbol"),
    ("\u00dcn\u00efc\u00f6d\u00e9-only1A", None),
    ("x" * 129 + "A1!", "at most 128"),
    ("Tab\there1234A!", "control"),
    ("Good-Password1", None),
])
def test_policy_rules(password: str, problem: str | None) -> None:
    problems = policy_problems(password, STRICT)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in item for item in problems), problems
        assert all(password not in item for item in problems)  # never echoed


def test_policy_values_are_checked() -> None:
    for bad in ({"minimum_length": 5}, {"reuse_prevention": 25}, {"max_age_days": 2000}):
        with pytest.raises(InvalidInput):
            PasswordPolicy(**bad)


def test_login_profile_lifecycle(env: Env) -> None:
    env.directory.create_user("carol")
    info = env.creds.create_login_profile("carol", "first password", password_reset_required=False)
    assert info.user_name == "carol" and not info.password_reset_required
    with pytest.raises(EntityAlreadyExists):
        env.creds.create_login_profile("carol", "another password")
    env.creds.login("carol", "first password")
    env.creds.update_login_profile("carol", password="second password")
    with pytest.raises(AuthenticationFailed):
        env.creds.login("carol", "first password")
    env.creds.login("carol", "second password")
    env.creds.delete_login_profile("carol")
    with pytest.raises(NoSuchEntity):
        env.creds.get_login_profile("carol")
    with pytest.raises(AuthenticationFailed):
        env.creds.login("carol", "second password")


def test_password_is_stored_as_a_salted_scrypt_hash(env: Env) -> None:
    env.directory.create_user("carol")
    env.directory.create_user("dave")
    env.creds.create_login_profile("carol", "same password")
    env.creds.create_login_profile("dave", "same password")
    stored = [env.creds.store.get_login_profile("111122223333", env.directory.get_user(name).user_id)
              for name in ("carol", "dave")]
    assert all(profile is not None and profile.password_hash.startswith("scrypt$") for profile in stored)
    assert stored[0].password_hash != stored[1].password_hash  # type: ignore[union-attr]
    assert all("same password" not in repr(profile) for profile in stored)


def test_policy_applies_to_new_passwords(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.update_account_password_policy(minimum_length=12, require_numbers=True)
    assert env.creds.get_account_password_policy().minimum_length == 12
    with pytest.raises(PasswordPolicyViolation) as raised:
        env.creds.create_login_profile("carol", "short")
    assert "short" not in str(raised.value) and len(raised.value.problems) == 2
    env.creds.create_login_profile("carol", "long enough 1")
    env.creds.delete_account_password_policy()
    assert env.creds.get_account_password_policy() == PasswordPolicy()


def test_unknown_user_and_wrong_password_look_the_same(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.directory.create_user("carol")
    env.directory.create_user("nopass")
    env.creds.create_login_profile("carol", "the password")
    with pytest.raises(AuthenticationFailed):  # the first check also makes the dummy hash, on every path
        env.creds.login("warm-up", "x")
    work: list[str] = []
    original = hashing._scrypt
    monkeypatch.setattr(hashing, "_scrypt", lambda *args: (work.append("scrypt"), original(*args))[1])
    outcomes = []
    for name, password in [("carol", "wrong"), ("ghost", "wrong"), ("nopass", "wrong"), ("bad name!", "x")]:
        work.clear()
        with pytest.raises(AuthenticationFailed) as raised:
            env.creds.login(name, password)
        outcomes.append((type(raised.value), str(raised.value), len(work)))
    assert len(set(outcomes)) == 1 and outcomes[0][2] == 1  # same error, same hashing work


def test_lockout_counts_by_name_whether_or_not_the_user_exists(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "the password")
    for name in ("carol", "ghost"):
        for _ in range(5):
            with pytest.raises(AuthenticationFailed):
                env.creds.login(name, "wrong")
        with pytest.raises(Throttled) as raised:
            env.creds.login(name, "the password")
        assert raised.value.retry_after == 900
    env.clock.advance(901)
    env.creds.login("carol", "the password")


def test_a_success_resets_the_failure_count(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "the password")
    for _ in range(3):
        for _ in range(4):
            with pytest.raises(AuthenticationFailed):
                env.creds.login("carol", "wrong")
        env.creds.login("carol", "the password")


def test_name_case_shares_one_counter(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "the password")
    for name in ("carol", "CAROL", "Carol", "cArol", "caroL"):
        with pytest.raises(AuthenticationFailed):
            env.creds.login(name, "wrong")
    with pytest.raises(Throttled):
        env.creds.login("carol", "the password")


def test_reset_required_and_max_age(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "temporary one", password_reset_required=True)
    with pytest.raises(PasswordExpired):
        env.creds.login("carol", "temporary one")
    env.creds.change_password("carol", "temporary one", "my own password")
    env.creds.login("carol", "my own password")
    env.creds.update_account_password_policy(max_age_days=90)
    env.clock.advance(91 * 86400)
    with pytest.raises(PasswordExpired):
        env.creds.login("carol", "my own password")
    with pytest.raises(AuthenticationFailed):  # the old password is checked even when expired
        env.creds.change_password("carol", "not it", "another password")
    env.creds.change_password("carol", "my own password", "another password")
    env.creds.login("carol", "another password")


def test_reuse_prevention(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.update_account_password_policy(reuse_prevention=3)
    env.creds.create_login_profile("carol", "password one")
    env.creds.update_login_profile("carol", password="password two")
    env.creds.update_login_profile("carol", password="password three")
    for reused in ("password one", "password two", "password three"):
        with pytest.raises(PasswordPolicyViolation):
            env.creds.update_login_profile("carol", password=reused)
    env.creds.update_login_profile("carol", password="password four")
    env.creds.update_login_profile("carol", password="password one")  # four changes ago: allowed again


def test_flag_only_updates_do_not_touch_the_history(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.update_account_password_policy(reuse_prevention=2)
    env.creds.create_login_profile("carol", "password one")
    for _ in range(3):
        env.creds.update_login_profile("carol", password_reset_required=True)
    env.creds.update_login_profile("carol", password="password two")
    with pytest.raises(PasswordPolicyViolation):
        env.creds.update_login_profile("carol", password="password one")
