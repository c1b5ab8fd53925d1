"""The credential store interface. Two implementations pass the same tests: `MemoryCredentialStore`
(one process) and `SQLiteCredentialStore` (the directory's SQLite file, shared by processes).

Operations whose atomicity matters are single store calls, never read-then-write in Python:
- `consume_totp_step` advances a device's last accepted step only if it grows (one conditional
  UPDATE in SQL), so a code is accepted once across threads and processes (MFA-02);
- `consume_recovery_code` deletes one code and reports whether it was still there;
- `record_failure` increments a failure counter and sets the lock in one transaction;
- `insert_access_key` and `insert_mfa_device` count and insert in one transaction, so two
  concurrent creations cannot exceed the per-user limit;
- a change of a user's MFA configuration (`disable_mfa_device`, `delete_mfa_device`,
  `replace_recovery_codes` with `changed_at`) drops the recovery codes that no longer back an
  enabled device and ends the recovery-code sessions verified before it, in the same write
  (MFA-08, MFA-09); `enable_mfa_device` drops codes left over from a time without an enabled
  device, so they can never start working again.
Every write that can change an authentication or authorization outcome bumps the generation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from iamguard.credentials.config import Lockout
from iamguard.credentials.records import (
    AccessKeyRecord,
    LoginProfile,
    MfaDeviceRecord,
    PasswordPolicy,
    RecoveryCodeRecord,
    SigningKeyRecord,
    ThrottleState,
)


class LimitReached(Exception):
    """Raised by inserts that would exceed a per-user limit (translated by the caller)."""


class AlreadyExists(Exception):
    """Raised by inserts whose unique name is taken (translated by the caller)."""


def next_failure_state(state: ThrottleState, now: float, lockout: Lockout) -> ThrottleState:
    """The counter after one more failure (both stores apply exactly this rule)."""
    expired_lock = state.locked_until is not None and now >= state.locked_until
    quiet = state.last_failure is not None and now - state.last_failure >= lockout.lock_seconds
    if expired_lock or quiet:
        state = ThrottleState(0, None, None)
    if state.locked(now):
        # Counted, so that a caller can tell an attempt made while locked (failures > 0) from the
        # one that set the lock (failures == 0); the lock itself is not extended.
        return ThrottleState(state.failures + 1, state.locked_until, now)
    failures = state.failures + 1
    if failures >= lockout.max_failures:
        return ThrottleState(0, now + lockout.lock_seconds, now)
    return ThrottleState(failures, None, now)


def locked_before(state: ThrottleState, now: float) -> bool:
    """Given the state `record_failure` returned, whether the subject was already locked before
    that failure (rather than locked by it)."""
    return state.locked(now) and state.failures > 0


def access_key_subject(access_key_id: str) -> str:
    """The revocation subject (see `revoke_sessions`) of the sessions derived from an access key:
    deactivating the key moves it to that moment. The prefix cannot collide with a unique id, and no
    caller can revoke it by ARN."""
    return f"access-key:{access_key_id}"


def mfa_config_subject(user_id: str) -> str:
    """The revocation subject (see `revoke_sessions`) of a user's MFA configuration: sessions whose
    second factor was a recovery code, which names no device, end when it moves past their
    `mfa_time`. The prefix cannot collide with a unique id, and no caller can revoke it by ARN."""
    return f"mfa-config:{user_id}"


def throttle_stale(state: ThrottleState, horizon: float) -> bool:
    last = max(state.locked_until or 0.0, state.last_failure or 0.0)
    return last < horizon


class CredentialStore(ABC):
    # -- bookkeeping -------------------------------------------------------------------------

    @abstractmethod
    def generation(self) -> int:
        """Changes whenever an authorization-relevant credential write commits (any process for
        SQLite). Caches key on it."""

    @property
    @abstractmethod
    def local_commits(self) -> int:
        """Changes whenever a write commits through this process (cheap to read on every call)."""

    @abstractmethod
    def server_secret(self, name: str) -> bytes:
        """32 random bytes kept under `name`, created atomically on first use. Used only when the
        configuration does not supply the pepper or data key."""

    # -- password policy and login profiles ----------------------------------------------------

    @abstractmethod
    def get_password_policy(self, tenant_id: str) -> PasswordPolicy | None: ...

    @abstractmethod
    def put_password_policy(self, tenant_id: str, policy: PasswordPolicy | None) -> None: ...

    @abstractmethod
    def get_login_profile(self, tenant_id: str, user_id: str) -> LoginProfile | None: ...

    @abstractmethod
    def create_login_profile(self, profile: LoginProfile) -> None:
        """Raises AlreadyExists when the user has one."""

    @abstractmethod
    def replace_password(self, profile: LoginProfile, history_limit: int, *, archive: bool = True) -> bool:
        """Replace the user's profile. With `archive`, the previous hash goes into the history
        (at most `history_limit` kept). False when the user has no profile."""

    @abstractmethod
    def delete_login_profile(self, tenant_id: str, user_id: str) -> bool: ...

    @abstractmethod
    def password_history(self, tenant_id: str, user_id: str) -> list[str]:
        """Previous password hashes, newest first."""

    # -- access keys ---------------------------------------------------------------------------

    @abstractmethod
    def insert_access_key(self, record: AccessKeyRecord, limit: int) -> None:
        """Raises LimitReached when the user already has `limit` keys."""

    @abstractmethod
    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    @abstractmethod
    def list_access_keys(self, tenant_id: str, user_id: str) -> list[AccessKeyRecord]: ...

    @abstractmethod
    def set_access_key_status(self, tenant_id: str, access_key_id: str, status: str, *,
                              changed_at: float | None = None) -> bool:
        """Set the key's status. With `changed_at`, also end for good the sessions derived from the
        key issued before it (`access_key_subject`), so that activating the key again does not
        bring them back (KEY-04). One write; False (and nothing changed) when there is no such key."""

    @abstractmethod
    def delete_access_key(self, tenant_id: str, access_key_id: str) -> bool: ...

    @abstractmethod
    def record_access_key_use(self, access_key_id: str, at: float, action: str | None, ip: str | None) -> None:
        """Last-used bookkeeping; not authorization-relevant, so the generation is not bumped."""

    # -- MFA devices and recovery codes --------------------------------------------------------

    @abstractmethod
    def insert_mfa_device(self, record: MfaDeviceRecord, limit: int) -> None:
        """Raises AlreadyExists when the serial number is taken in the tenant, LimitReached when
        the user already has `limit` devices."""

    @abstractmethod
    def get_mfa_device(self, tenant_id: str, serial_number: str) -> MfaDeviceRecord | None: ...

    @abstractmethod
    def get_mfa_device_by_id(self, device_id: str) -> MfaDeviceRecord | None: ...

    @abstractmethod
    def list_mfa_devices(self, tenant_id: str, user_id: str) -> list[MfaDeviceRecord]: ...

    @abstractmethod
    def enable_mfa_device(self, device_id: str, step: int, at: float) -> bool:
        """Enable a disabled device and record `step` as used, only if `step` is newer than any
        step used before. False when not applied. When no other device of the user is enabled,
        recovery codes still stored for the user are deleted: they were issued for an earlier
        configuration (or raced its end) and must not come back to life."""

    @abstractmethod
    def disable_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        """Disable an enabled device; when no device of the user stays enabled, delete their
        recovery codes. With `changed_at`, also end the user's recovery-code sessions verified
        before it (`mfa_config_subject`). One write; False (and nothing changed) when the device
        was not enabled."""

    @abstractmethod
    def delete_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        """Delete the device; when no device of the user stays enabled, their recovery codes go
        too. `changed_at` as for `disable_mfa_device`."""

    @abstractmethod
    def consume_totp_step(self, device_id: str, step: int) -> bool:
        """Atomically record `step` as used if it is greater than the last used step of an
        enabled device. True exactly once per (device, step), across threads and processes."""

    @abstractmethod
    def replace_recovery_codes(self, tenant_id: str, user_id: str, codes: Iterable[RecoveryCodeRecord], *,
                               changed_at: float | None = None) -> None:
        """Replace the user's whole set. `changed_at` as for `disable_mfa_device`."""

    @abstractmethod
    def list_recovery_codes(self, tenant_id: str, user_id: str) -> list[RecoveryCodeRecord]: ...

    @abstractmethod
    def consume_recovery_code(self, code_id: str) -> bool:
        """Delete one code; True only for the caller that removed it."""

    # -- failure counters ----------------------------------------------------------------------

    def check_attempts_commit(self) -> None:
        """Raise StoreError when what an attempt writes (failure counters, used TOTP steps and
        recovery codes) would join a transaction opened around it: undone with that transaction,
        it would take the lockout and the replay protection along (wrong guesses inside a
        `Directory.batch()` that ends in an exception would never count). A store whose writes
        always commit at once has nothing to check."""
        return None

    @abstractmethod
    def throttle_state(self, subject: str) -> ThrottleState: ...

    @abstractmethod
    def record_failure(self, subject: str, now: float, lockout: Lockout) -> ThrottleState:
        """Count one consecutive failure; at the threshold, lock until now + lock period and
        restart the count. A lock that has run out is cleared first."""

    @abstractmethod
    def clear_failures(self, subject: str, *, only_if_failures: int | None = None) -> None:
        """Forget the subject's failures; with `only_if_failures`, only while the count is exactly
        that (one step: an attempt undoing its own count never wipes a concurrent one's)."""

    # -- signing keys --------------------------------------------------------------------------

    @abstractmethod
    def signing_keys(self) -> list[SigningKeyRecord]:
        """Every stored key, newest first."""

    @abstractmethod
    def add_signing_key(self, record: SigningKeyRecord, *, retire_at: float | None) -> bool:
        """Add a key that becomes the active one. With `retire_at` (rotation) every other active
        key is retired at that time; without it the key is added only if no active key exists
        (first start, possibly racing other processes) and the result says whether it was."""

    @abstractmethod
    def prune_signing_keys(self, retired_before: float) -> int: ...

    # -- revocation ----------------------------------------------------------------------------

    @abstractmethod
    def revoke_sessions(self, tenant_id: str, principal_id: str, before: float) -> None:
        """Sessions of the principal (or derived from it) issued before `before` are revoked.
        Keeps the latest moment when called twice."""

    @abstractmethod
    def sessions_not_before(self, tenant_id: str, principal_ids: Iterable[str]) -> float | None:
        """The latest revocation moment among the principals, or None."""

    @abstractmethod
    def revoke_token(self, tenant_id: str, jti: str, expires_at: float) -> None: ...

    @abstractmethod
    def token_revoked(self, tenant_id: str, jti: str) -> bool: ...

    @abstractmethod
    def prune(self, now: float, horizon: float) -> None:
        """Forget what can no longer matter: token revocations past the token's expiry, session
        revocations older than `horizon` (every token issued before it has expired) and failure
        counters untouched since `horizon`."""

    # -- dependents of a user (the directory refuses DeleteUser while any exist) ---------------

    def tenant_dependents(self, tenant_id: str, _tenant_id: str) -> list[str]:
        """What DeleteTenant must refuse over: state keyed by the tenant id alone, which a tenant
        created later under the same id would otherwise inherit (security spec APP-04)."""
        return ["an account password policy"] if self.get_password_policy(tenant_id) is not None else []

    def user_dependents(self, tenant_id: str, user_id: str) -> list[str]:
        found: list[str] = []
        if self.get_login_profile(tenant_id, user_id) is not None:
            found.append("login profile (password)")
        found.extend(f"access key {key.access_key_id}" for key in self.list_access_keys(tenant_id, user_id))
        found.extend(f"MFA device {device.serial_number}" for device in self.list_mfa_devices(tenant_id, user_id))
        return found
