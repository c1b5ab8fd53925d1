"""An in-process credential store: dictionaries behind one lock. Every method holds the lock for
its whole read-modify-write, which gives the same atomicity the SQLite store gets from
conditional UPDATEs. For tests, demos and single-process apps."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import replace

from iamguard.credentials.config import Lockout
from iamguard.credentials.records import (
    ACTIVE,
    AccessKeyRecord,
    LoginProfile,
    MfaDeviceRecord,
    PasswordPolicy,
    RecoveryCodeRecord,
    SigningKeyRecord,
    ThrottleState,
)
from iamguard.credentials.store import (
    AlreadyExists,
    CredentialStore,
    LimitReached,
    access_key_subject,
    mfa_config_subject,
    next_failure_state,
    throttle_stale,
)

_UNLOCKED = ThrottleState(0, None)


class MemoryCredentialStore(CredentialStore):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._generation = 0
        self._secrets: dict[str, bytes] = {}
        self._password_policies: dict[str, PasswordPolicy] = {}
        self._profiles: dict[tuple[str, str], LoginProfile] = {}
        self._history: dict[tuple[str, str], list[str]] = {}
        self._keys: dict[str, AccessKeyRecord] = {}
        self._devices: dict[str, MfaDeviceRecord] = {}
        self._recovery: dict[str, RecoveryCodeRecord] = {}
        self._throttle: dict[str, ThrottleState] = {}
        self._signing: dict[str, SigningKeyRecord] = {}
        self._not_before: dict[tuple[str, str], float] = {}
        self._revoked_tokens: dict[tuple[str, str], float] = {}

    def _bump(self) -> None:
        self._generation += 1

    def generation(self) -> int:
        return self._generation

    @property
    def local_commits(self) -> int:
        return self._generation

    def server_secret(self, name: str) -> bytes:
        with self._lock:
            value = self._secrets.get(name)
            if value is None:
                value = self._secrets[name] = secrets.token_bytes(32)
            return value

    # password policy and login profiles

    def get_password_policy(self, tenant_id: str) -> PasswordPolicy | None:
        with self._lock:
            return self._password_policies.get(tenant_id)

    def put_password_policy(self, tenant_id: str, policy: PasswordPolicy | None) -> None:
        with self._lock:
            if policy is None:
                self._password_policies.pop(tenant_id, None)
            else:
                self._password_policies[tenant_id] = policy
            self._bump()

    def get_login_profile(self, tenant_id: str, user_id: str) -> LoginProfile | None:
        with self._lock:
            return self._profiles.get((tenant_id, user_id))

    def create_login_profile(self, profile: LoginProfile) -> None:
        key = (profile.tenant_id, profile.user_id)
        with self._lock:
            if key in self._profiles:
                raise AlreadyExists(profile.user_id)
            self._profiles[key] = profile
            self._bump()

    def replace_password(self, profile: LoginProfile, history_limit: int, *, archive: bool = True) -> bool:
        key = (profile.tenant_id, profile.user_id)
        with self._lock:
            old = self._profiles.get(key)
            if old is None:
                return False
            if archive:
                history = [old.password_hash, *self._history.get(key, [])]
                self._history[key] = history[:max(history_limit, 0)]
            self._profiles[key] = profile
            self._bump()
            return True

    def delete_login_profile(self, tenant_id: str, user_id: str) -> bool:
        with self._lock:
            self._history.pop((tenant_id, user_id), None)
            found = self._profiles.pop((tenant_id, user_id), None) is not None
            if found:
                self._bump()
            return found

    def password_history(self, tenant_id: str, user_id: str) -> list[str]:
        with self._lock:
            return list(self._history.get((tenant_id, user_id), []))

    # access keys

    def insert_access_key(self, record: AccessKeyRecord, limit: int) -> None:
        with self._lock:
            if len(self.list_access_keys(record.tenant_id, record.user_id)) >= limit:
                raise LimitReached(record.user_id)
            if record.access_key_id in self._keys:
                raise AlreadyExists(record.access_key_id)
            self._keys[record.access_key_id] = record
            self._bump()

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        with self._lock:
            return self._keys.get(access_key_id)

    def list_access_keys(self, tenant_id: str, user_id: str) -> list[AccessKeyRecord]:
        with self._lock:
            found = [key for key in self._keys.values() if key.tenant_id == tenant_id and key.user_id == user_id]
        return sorted(found, key=lambda key: (key.created_at, key.access_key_id))

    def set_access_key_status(self, tenant_id: str, access_key_id: str, status: str, *,
                              changed_at: float | None = None) -> bool:
        with self._lock:
            record = self._keys.get(access_key_id)
            if record is None or record.tenant_id != tenant_id:
                return False
            self._keys[access_key_id] = replace(record, status=status)
            if changed_at is not None:
                self._sessions_end(tenant_id, access_key_subject(access_key_id), changed_at)
            self._bump()
            return True

    def delete_access_key(self, tenant_id: str, access_key_id: str) -> bool:
        with self._lock:
            record = self._keys.get(access_key_id)
            if record is None or record.tenant_id != tenant_id:
                return False
            del self._keys[access_key_id]
            self._bump()
            return True

    def record_access_key_use(self, access_key_id: str, at: float, action: str | None, ip: str | None) -> None:
        with self._lock:
            record = self._keys.get(access_key_id)
            if record is not None and record.status == ACTIVE:
                self._keys[access_key_id] = replace(
                    record, last_used_at=at, last_used_action=action, last_used_ip=ip)

    # MFA devices and recovery codes

    def insert_mfa_device(self, record: MfaDeviceRecord, limit: int) -> None:
        with self._lock:
            if self.get_mfa_device(record.tenant_id, record.serial_number) is not None:
                raise AlreadyExists(record.serial_number)
            if len(self.list_mfa_devices(record.tenant_id, record.user_id)) >= limit:
                raise LimitReached(record.user_id)
            self._devices[record.device_id] = record
            self._bump()

    def get_mfa_device(self, tenant_id: str, serial_number: str) -> MfaDeviceRecord | None:
        with self._lock:
            for device in self._devices.values():
                if device.tenant_id == tenant_id and device.serial_number == serial_number:
                    return device
            return None

    def get_mfa_device_by_id(self, device_id: str) -> MfaDeviceRecord | None:
        with self._lock:
            return self._devices.get(device_id)

    def list_mfa_devices(self, tenant_id: str, user_id: str) -> list[MfaDeviceRecord]:
        with self._lock:
            found = [d for d in self._devices.values() if d.tenant_id == tenant_id and d.user_id == user_id]
        return sorted(found, key=lambda device: (device.created_at, device.serial_number))

    def _drop_unbacked_codes(self, tenant_id: str, user_id: str) -> None:
        """Recovery codes back an enabled device: with none, they go (MFA-08). Caller holds the lock."""
        if not any(device.enabled for device in self.list_mfa_devices(tenant_id, user_id)):
            for code_id in [code.code_id for code in self.list_recovery_codes(tenant_id, user_id)]:
                del self._recovery[code_id]

    def _sessions_end(self, tenant_id: str, subject: str, before: float) -> None:
        """As the SQLite store's: the latest moment is kept. Caller holds the lock."""
        key = (tenant_id, subject)
        self._not_before[key] = max(before, self._not_before.get(key, before))

    def _mfa_changed(self, tenant_id: str, user_id: str, at: float | None) -> None:
        if at is not None:
            self._sessions_end(tenant_id, mfa_config_subject(user_id), at)

    def enable_mfa_device(self, device_id: str, step: int, at: float) -> bool:
        with self._lock:
            device = self._devices.get(device_id)
            if device is None or device.enabled or (device.last_step is not None and device.last_step >= step):
                return False
            # Codes stored while no device was enabled belong to no live configuration.
            self._drop_unbacked_codes(device.tenant_id, device.user_id)
            self._devices[device_id] = replace(device, enabled=True, enabled_at=at, last_step=step)
            self._bump()
            return True

    def disable_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        with self._lock:
            device = self._devices.get(device_id)
            if device is None or not device.enabled:
                return False
            self._devices[device_id] = replace(device, enabled=False, enabled_at=None)
            self._drop_unbacked_codes(device.tenant_id, device.user_id)
            self._mfa_changed(device.tenant_id, device.user_id, changed_at)
            self._bump()
            return True

    def delete_mfa_device(self, device_id: str, *, changed_at: float | None = None) -> bool:
        with self._lock:
            device = self._devices.pop(device_id, None)
            if device is None:
                return False
            self._drop_unbacked_codes(device.tenant_id, device.user_id)
            self._mfa_changed(device.tenant_id, device.user_id, changed_at)
            self._bump()
            return True

    def consume_totp_step(self, device_id: str, step: int) -> bool:
        with self._lock:
            device = self._devices.get(device_id)
            if device is None or not device.enabled or (device.last_step is not None and device.last_step >= step):
                return False
            self._devices[device_id] = replace(device, last_step=step)
            return True

    def replace_recovery_codes(self, tenant_id: str, user_id: str, codes: Iterable[RecoveryCodeRecord], *,
                               changed_at: float | None = None) -> None:
        with self._lock:
            for old in self.list_recovery_codes(tenant_id, user_id):
                del self._recovery[old.code_id]
            for code in codes:
                self._recovery[code.code_id] = code
            if changed_at is not None:
                self._mfa_changed(tenant_id, user_id, changed_at)
                self._bump()

    def list_recovery_codes(self, tenant_id: str, user_id: str) -> list[RecoveryCodeRecord]:
        with self._lock:
            return [c for c in self._recovery.values() if c.tenant_id == tenant_id and c.user_id == user_id]

    def consume_recovery_code(self, code_id: str) -> bool:
        with self._lock:
            return self._recovery.pop(code_id, None) is not None

    # failure counters

    def throttle_state(self, subject: str) -> ThrottleState:
        with self._lock:
            return self._throttle.get(subject, _UNLOCKED)

    def record_failure(self, subject: str, now: float, lockout: Lockout) -> ThrottleState:
        with self._lock:
            state = next_failure_state(self._throttle.get(subject, _UNLOCKED), now, lockout)
            self._throttle[subject] = state
            return state

    def clear_failures(self, subject: str, *, only_if_failures: int | None = None) -> None:
        with self._lock:
            state = self._throttle.get(subject)
            if state is not None and (only_if_failures is None or state.failures == only_if_failures):
                del self._throttle[subject]

    # signing keys

    def signing_keys(self) -> list[SigningKeyRecord]:
        with self._lock:
            return sorted(self._signing.values(), key=lambda key: (key.created_at, key.kid), reverse=True)

    def add_signing_key(self, record: SigningKeyRecord, *, retire_at: float | None) -> bool:
        with self._lock:
            active = [key for key in self._signing.values() if key.retired_at is None]
            if retire_at is None and active:
                return False
            for key in active:
                self._signing[key.kid] = replace(key, retired_at=retire_at)
            self._signing[record.kid] = record
            self._bump()
            return True

    def prune_signing_keys(self, retired_before: float) -> int:
        with self._lock:
            stale = [kid for kid, key in self._signing.items()
                     if key.retired_at is not None and key.retired_at < retired_before]
            for kid in stale:
                del self._signing[kid]
            if stale:
                self._bump()
            return len(stale)

    # revocation

    def revoke_sessions(self, tenant_id: str, principal_id: str, before: float) -> None:
        with self._lock:
            self._sessions_end(tenant_id, principal_id, before)
            self._bump()

    def sessions_not_before(self, tenant_id: str, principal_ids: Iterable[str]) -> float | None:
        with self._lock:
            moments = [self._not_before[(tenant_id, pid)] for pid in principal_ids
                       if (tenant_id, pid) in self._not_before]
        return max(moments) if moments else None

    def revoke_token(self, tenant_id: str, jti: str, expires_at: float) -> None:
        with self._lock:
            self._revoked_tokens[(tenant_id, jti)] = expires_at
            self._bump()

    def token_revoked(self, tenant_id: str, jti: str) -> bool:
        with self._lock:
            return (tenant_id, jti) in self._revoked_tokens

    def prune(self, now: float, horizon: float) -> None:
        with self._lock:
            for key in [k for k, expires in self._revoked_tokens.items() if expires < now]:
                del self._revoked_tokens[key]
            for key in [k for k, moment in self._not_before.items() if moment < horizon]:
                del self._not_before[key]
            for subject in [s for s, state in self._throttle.items() if throttle_stale(state, horizon)]:
                del self._throttle[subject]
