"""Passwords: the tenant's password policy, login profiles, and login with lockout.

Login failures never tell whether the user exists: an unknown user, a user without a password and
a wrong password give the same error after the same scrypt work (a dummy hash stands in for the
missing one). The failure counter is keyed by the lower-cased user name, not by the user's
existence, so the lockout itself is not an existence oracle either.
"""

from __future__ import annotations

import logging
import math
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from iamguard.clock import Clock
from iamguard.credentials import audit
from iamguard.credentials.config import CredentialsConfig
from iamguard.credentials.errors import (
    AuthenticationFailed,
    EntityAlreadyExists,
    NoSuchEntity,
    PasswordExpired,
    PasswordPolicyViolation,
    Throttled,
)
from iamguard.credentials.hashing import DummyHash, hash_secret, verify_secret
from iamguard.credentials.records import LoginProfile, PasswordPolicy
from iamguard.credentials.store import AlreadyExists, CredentialStore, locked_before

MAX_PASSWORD_LENGTH = 128
# Previous hashes kept per user: enough for IAM's largest reuse prevention (24, counting the
# current password), whatever the policy says today.
HISTORY_KEPT = 23
# IAM's list of symbols for RequireSymbols.
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
_LOGIN_FAILED = "the user name or password is incorrect"


@dataclass(frozen=True)
class LoginProfileInfo:
    user_name: str
    create_date: datetime
    password_last_changed: datetime
    password_reset_required: bool


def policy_problems(password: object, policy: PasswordPolicy) -> list[str]:
    """Why `password` breaks the policy (empty when it does not). Never echoes the password."""
    if not isinstance(password, str):
        return ["the password must be a string"]
    problems = []
    if len(password) < policy.minimum_length:
        problems.append(f"the password must be at least {policy.minimum_length} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in password):
        problems.append("the password must not contain control characters")
    if any(0xD800 <= ord(char) <= 0xDFFF for char in password):
        # A lone surrogate cannot be encoded for hashing; refused here, the encoder's
        # UnicodeEncodeError would carry the whole password in its `object` attribute.
        problems.append("the password must be valid Unicode text (no lone surrogate code points)")
    if policy.require_symbols and not any(char in SYMBOLS for char in password):
        problems.append("the password must contain a symbol (one of " + "".join(sorted(SYMBOLS)) + ")")
    if policy.require_numbers and not any(char in string.digits for char in password):
        problems.append("the password must contain a digit (0-9)")
    if policy.require_uppercase and not any(char in string.ascii_uppercase for char in password):
        problems.append("the password must contain an uppercase ASCII letter (A-Z)")
    if policy.require_lowercase and not any(char in string.ascii_lowercase for char in password):
        problems.append("the password must contain a lowercase ASCII letter (a-z)")
    return problems


class PasswordService:
    def __init__(self, store: CredentialStore, clock: Clock, config: CredentialsConfig, *, tenant_id: str,
                 events: audit.CredentialsAudit | None = None) -> None:
        self._events = events or audit.CredentialsAudit(clock=clock)
        self._store = store
        self._clock = clock
        self._config = config
        self._tenant = tenant_id
        self._dummy = DummyHash(config.password_cost)

    # policy

    def policy(self) -> PasswordPolicy:
        return self._store.get_password_policy(self._tenant) or PasswordPolicy()

    def set_policy(self, policy: PasswordPolicy | None) -> None:
        self._store.put_password_policy(self._tenant, policy)

    def _checked_hash(self, user_id: str, password: object, *, check_history: bool) -> str:
        policy = self.policy()
        problems = policy_problems(password, policy)
        # policy_problems names a password that is not text, so past this check it is a str.
        if not problems and isinstance(password, str) and check_history and policy.reuse_prevention:
            current = self._store.get_login_profile(self._tenant, user_id)
            previous = [current.password_hash] if current else []
            previous += self._store.password_history(self._tenant, user_id)
            if any(verify_secret(password, old) for old in previous[:policy.reuse_prevention]):
                problems.append(f"the password must differ from the last {policy.reuse_prevention} passwords")
        if problems:
            raise PasswordPolicyViolation("the password does not meet the password policy: " + "; ".join(problems),
                                          problems)
        assert isinstance(password, str)
        return hash_secret(password, self._config.password_cost)

    # login profiles

    def create(self, user_id: str, user_name: str, password: object, reset_required: bool = False) -> LoginProfileInfo:
        hashed = self._checked_hash(user_id, password, check_history=False)
        now = self._clock.time()
        profile = LoginProfile(self._tenant, user_id, hashed, now, now, bool(reset_required))
        try:
            self._store.create_login_profile(profile)
        except AlreadyExists:
            raise EntityAlreadyExists(f"user {user_name} already has a login profile") from None
        self._events.emit("login_profile_created", outcome="success", tenant_id=self._tenant, user_id=user_id)
        return self._info(profile, user_name)

    def get(self, user_id: str, user_name: str) -> LoginProfileInfo:
        profile = self._store.get_login_profile(self._tenant, user_id)
        if profile is None:
            raise NoSuchEntity(f"user {user_name} has no login profile")
        return self._info(profile, user_name)

    def update(self, user_id: str, user_name: str, password: object | None = None,
               reset_required: bool | None = None) -> None:
        current = self._store.get_login_profile(self._tenant, user_id)
        if current is None:
            raise NoSuchEntity(f"user {user_name} has no login profile")
        hashed = self._checked_hash(user_id, password, check_history=True) if password is not None \
            else current.password_hash
        changed_at = self._clock.time() if password is not None else current.changed_at
        flag = current.reset_required if reset_required is None else bool(reset_required)
        updated = LoginProfile(self._tenant, user_id, hashed, current.created_at, changed_at, flag)
        if not self._store.replace_password(updated, HISTORY_KEPT, archive=password is not None):
            raise NoSuchEntity(f"user {user_name} has no login profile")
        self._events.emit("login_profile_updated", outcome="success", tenant_id=self._tenant, user_id=user_id,
                          password_changed=password is not None)

    def delete(self, user_id: str, user_name: str) -> None:
        if not self._store.delete_login_profile(self._tenant, user_id):
            raise NoSuchEntity(f"user {user_name} has no login profile")
        self._events.emit("login_profile_deleted", outcome="success", tenant_id=self._tenant, user_id=user_id)

    def _info(self, profile: LoginProfile, user_name: str) -> LoginProfileInfo:
        return LoginProfileInfo(user_name, datetime.fromtimestamp(profile.created_at, timezone.utc),
                                datetime.fromtimestamp(profile.changed_at, timezone.utc), profile.reset_required)

    # login

    def _subject(self, user_name: object) -> str:
        name = user_name.lower() if isinstance(user_name, str) and user_name.isascii() else "?"
        return f"{self._tenant}:login:{name[:128]}"

    def check(self, user_name: object, user_id: str | None, password: object, *, allow_expired: bool = False) -> None:
        """Verify a login. `user_id` is None when no such user exists: the same work is done and
        the same error raised. Raises Throttled while the name is locked out."""
        self._store.check_attempts_commit()
        self._dummy.prime()
        now = self._clock.time()
        subject = self._subject(user_name)
        state = self._store.throttle_state(subject)
        locked = state.locked(now)
        if not locked:
            # Counted before the password is checked, not after a wrong one: otherwise concurrent
            # guesses all pass this check before any is counted. A success clears the count.
            state = self._store.record_failure(subject, now, self._config.login_lockout)
            locked = locked_before(state, now)
        if locked:
            assert state.locked_until is not None
            self._events.emit("login_while_locked", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                              user_id=user_id)
            raise Throttled("too many failed logins; try again later", math.ceil(state.locked_until - now))
        profile = self._store.get_login_profile(self._tenant, user_id) if user_id is not None else None
        text = password if isinstance(password, str) else ""
        if profile is None:
            self._dummy.burn(text)
            ok = False
        else:
            # The hash work is done whatever the type of `password`, so that a missing password (None
            # from a form) costs the same for an existing user as for an unknown one (KEY-02).
            ok = verify_secret(text, profile.password_hash) and isinstance(password, str)
        if not ok:
            self._events.emit("login_failed", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                              user_id=user_id, locked=state.locked(now))
            raise AuthenticationFailed(_LOGIN_FAILED)
        assert profile is not None
        self._store.clear_failures(subject)
        if allow_expired:
            return
        policy = self.policy()
        if profile.reset_required:
            raise PasswordExpired("the password must be changed before signing in (reset required)")
        if policy.max_age_days and now - profile.changed_at > policy.max_age_days * 86400:
            raise PasswordExpired(f"the password is older than {policy.max_age_days} days and must be changed")

    def change(self, user_name: str, user_id: str | None, old_password: object, new_password: object) -> None:
        """Self-service change: the old password is checked (with lockout) even when expired."""
        self.check(user_name, user_id, old_password, allow_expired=True)
        assert user_id is not None
        self.update(user_id, user_name, new_password, reset_required=False)
