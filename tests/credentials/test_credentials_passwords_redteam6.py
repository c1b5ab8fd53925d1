"""Red-team round 6 on passwords: lone surrogates in passwords, the password policy's value types,
and the hashing work of a login that sends no password text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iamguard.credentials import (
    AuthenticationFailed,
    InvalidInput,
    PasswordPolicy,
    PasswordPolicyViolation,
    hashing,
)
from iamguard.credentials.passwords import policy_problems
from tests.credentials.conftest import Env

GOOD = "Good-Password-1"

# A lone surrogate cannot be encoded as UTF-8 for scrypt: the encoder's UnicodeEncodeError carried
# the whole password in its `object` attribute out of create, update and change.
SURROGATE_PASSWORDS = ["\ud800Password-1", "Password-1\udfff", "Pass\udbffword-1"]


@pytest.mark.parametrize("password", SURROGATE_PASSWORDS)
def test_policy_refuses_lone_surrogates(password: str) -> None:
    problems = policy_problems(password, PasswordPolicy())
    assert any("surrogate" in problem for problem in problems), problems


def _create(env: Env, password: str) -> None:
    env.creds.create_login_profile("carol", password)


def _update(env: Env, password: str) -> None:
    env.creds.create_login_profile("carol", GOOD)
    env.creds.update_login_profile("carol", password=password)


def _change(env: Env, password: str) -> None:
    env.creds.create_login_profile("carol", GOOD)
    env.creds.change_password("carol", GOOD, password)


@pytest.mark.parametrize("password", SURROGATE_PASSWORDS)
@pytest.mark.parametrize("operation", [_create, _update, _change], ids=["create", "update", "change"])
def test_lone_surrogates_are_a_policy_violation_that_keeps_the_password_out(
        env: Env, operation: Callable[[Env, str], None], password: str) -> None:
    env.directory.create_user("carol")
    with pytest.raises(PasswordPolicyViolation) as raised:
        operation(env, password)
    carried = [str(raised.value), repr(raised.value), *map(str, raised.value.args), *raised.value.problems]
    assert all(password not in text for text in carried)
    assert raised.value.__cause__ is None and raised.value.__context__ is None


@pytest.mark.parametrize("settings", [
    {"minimum_length": "8"},
    {"minimum_length": 8.5},
    {"minimum_length": None},
    {"minimum_length": True},
    {"reuse_prevention": 2.5},
    {"reuse_prevention": True},
    {"reuse_prevention": "3"},
    {"max_age_days": None},
    {"max_age_days": 1.5},
    {"require_symbols": "no"},
    {"require_numbers": 1},
    {"require_uppercase": None},
    {"require_lowercase": "true"},
], ids=repr)
def test_policy_values_of_the_wrong_type_are_invalid_input(env: Env, settings: dict[str, Any]) -> None:
    env.creds.update_account_password_policy(minimum_length=10)
    with pytest.raises(InvalidInput) as raised:
        env.creds.update_account_password_policy(**settings)
    assert next(iter(settings)) in str(raised.value)  # names the field (the CLI maps it to its option)
    assert env.creds.get_account_password_policy() == PasswordPolicy(minimum_length=10)  # nothing stored


def test_a_policy_of_whole_numbers_still_governs_password_changes(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.update_account_password_policy(reuse_prevention=2, max_age_days=90, require_numbers=True)
    env.creds.create_login_profile("carol", GOOD)
    env.creds.change_password("carol", GOOD, "Second-Password-2")
    with pytest.raises(PasswordPolicyViolation) as raised:
        env.creds.change_password("carol", "Second-Password-2", GOOD)
    assert any("last 2 passwords" in problem for problem in raised.value.problems)


@pytest.mark.parametrize("password", [None, 12345678, b"bytes-password"], ids=repr)
def test_a_login_without_password_text_costs_the_same_for_known_and_unknown_users(
        env: Env, monkeypatch: pytest.MonkeyPatch, password: object) -> None:
    # A form field left out arrives as None: the known user answered without any hashing while an
    # unknown one paid for the dummy hash, so the response time told whether the user exists.
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", GOOD)
    with pytest.raises(AuthenticationFailed):  # the first check makes the dummy hash, on every path
        env.creds.login("warm-up", "x")
    work: list[str] = []
    original = hashing._scrypt
    monkeypatch.setattr(hashing, "_scrypt", lambda *args: (work.append("scrypt"), original(*args))[1])
    outcomes = []
    for name in ("carol", "ghost"):
        work.clear()
        with pytest.raises(AuthenticationFailed) as raised:
            env.creds.check_password(name, password)  # type: ignore[arg-type]
        outcomes.append((type(raised.value), str(raised.value), len(work)))
    assert outcomes[0] == outcomes[1] and outcomes[0][2] == 1
