"""Virtual MFA devices, code verification with replay protection and lockout, recovery codes.

- A device's seed is sealed with the data key; the store never holds it in clear.
- Enrolment needs two consecutive codes, and records the second one's step as used, so the codes
  typed to enrol can never double as the next login's second factor.
- A code is accepted only if its step is newer than every step accepted before on that device;
  the check and the update are one atomic store operation (MFA-01, MFA-02).
- Failures count per device and per user in the store, each attempt counted before its code is
  checked (a success clears the count), so concurrent guesses cannot outrun the threshold; at the
  threshold the device (or user) is locked for the configured period, audited (MFA-04).
- Recovery codes: single-use, stored as salted scrypt hashes, consumed by an atomic delete,
  counted against the same per-user lockout, and every use is audited (MFA-08).
- Recovery codes belong to one MFA configuration (MFA-08, MFA-09): when the user's last enabled
  device is deactivated or deleted they are deleted (audited), so enrolling again never revives
  them; and deactivating or deleting a device or regenerating the codes ends every session whose
  second factor was a recovery code (such a session names no device for liveness to check, so
  the store records the change moment in the same write, see `store.mfa_config_subject`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from iamguard.clock import Clock
from iamguard.credentials import audit, totp
from iamguard.credentials.config import CredentialsConfig
from iamguard.credentials.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
    Throttled,
    ValidationError,
)
from iamguard.credentials.hashing import DummyHash, hash_secret, verify_secret
from iamguard.credentials.records import MfaDeviceRecord, RecoveryCodeRecord, ThrottleState
from iamguard.credentials.sealing import Sealer
from iamguard.credentials.store import AlreadyExists, CredentialStore, LimitReached, locked_before
from iamguard.store.database import StoreError

_SEED_PURPOSE = "totp-seed"
# Crockford's base32 alphabet: no I, L, O or U, so codes survive being read aloud or written down.
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_CODE = re.compile(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}", re.ASCII)
_INVALID_CODE = "the authentication code is not valid"
# (subject, counter state) for each failure counter an attempt was counted against.
_Claims = list[tuple[str, ThrottleState]]


@dataclass(frozen=True)
class VirtualMfaDevice:
    """Returned once by create_virtual_mfa_device: the seed and URI are shown to the user to
    enrol their app and are never retrievable again."""

    serial_number: str
    user_name: str
    base32_seed: str = field(repr=False)
    provisioning_uri: str = field(repr=False)


@dataclass(frozen=True)
class RecoveryCodes:
    """A new set of recovery codes, to show the user once. Iterable and indexable; the codes are
    kept out of repr so that logging the object does not log them."""

    codes: tuple[str, ...] = field(repr=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> str:
        return self.codes[index]


@dataclass(frozen=True)
class MfaDevice:
    serial_number: str
    user_name: str
    enabled: bool
    create_date: datetime
    enable_date: datetime | None


@dataclass(frozen=True)
class MfaVerification:
    """A successful second factor: when, and which device (None for a recovery code)."""

    verified_at: int
    device_id: str | None
    serial_number: str | None


def _when(moment: float | None) -> datetime | None:
    return datetime.fromtimestamp(moment, timezone.utc) if moment is not None else None


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[index:index + 4] for index in range(0, 16, 4))


class MfaService:
    def __init__(self, store: CredentialStore, sealer: Callable[[], Sealer], clock: Clock,
                 config: CredentialsConfig, *, tenant_id: str, partition: str,
                 events: audit.CredentialsAudit | None = None) -> None:
        self._events = events or audit.CredentialsAudit(clock=clock)
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self._config = config
        self._tenant = tenant_id
        self._partition = partition
        self._dummy_recovery = DummyHash(config.recovery_code_cost)

    # subjects of the failure counters

    def _device_subject(self, device: MfaDeviceRecord) -> str:
        return f"{self._tenant}:mfa-device:{device.device_id}"

    def _user_subject(self, user_id: str) -> str:
        return f"{self._tenant}:mfa-user:{user_id}"

    def serial_for(self, device_name: str) -> str:
        return f"arn:{self._partition}:iam::{self._tenant}:mfa/{device_name}"

    # devices

    def create_device(self, user_id: str, user_name: str, device_name: str) -> VirtualMfaDevice:
        from iamguard.credentials.names import device_name as check_name

        name = check_name(device_name)
        serial = self.serial_for(name)
        device_id = "mfa-" + secrets.token_hex(12)
        seed = totp.new_seed()
        sealed = self._sealer().seal(seed.encode("ascii"), purpose=_SEED_PURPOSE, row=device_id)
        record = MfaDeviceRecord(device_id, self._tenant, user_id, serial, sealed, False, self._clock.time())
        try:
            self._store.insert_mfa_device(record, self._config.max_mfa_devices_per_user)
        except AlreadyExists:
            raise EntityAlreadyExists(f"MFA device {serial} already exists") from None
        except LimitReached:
            raise LimitExceeded(f"user {user_name} already has the maximum of "
                                f"{self._config.max_mfa_devices_per_user} MFA devices") from None
        self._events.emit("mfa_device_created", outcome="success", tenant_id=self._tenant, user_id=user_id,
                          serial_number=serial)
        uri = totp.provisioning_uri(seed, user_name, self._config.totp_issuer_name)
        return VirtualMfaDevice(serial, user_name, seed, uri)

    def device(self, user_id: str | None, serial_number: object) -> MfaDeviceRecord:
        if not isinstance(serial_number, str) or not serial_number:
            raise ValidationError("SerialNumber must be a non-empty string")
        record = self._store.get_mfa_device(self._tenant, serial_number)
        if record is None or (user_id is not None and record.user_id != user_id):
            raise NoSuchEntity(f"MFA device {serial_number} does not exist for this user")
        return record

    def list_devices(self, user_id: str, user_name: str) -> tuple[MfaDevice, ...]:
        return tuple(
            MfaDevice(d.serial_number, user_name, d.enabled, datetime.fromtimestamp(d.created_at, timezone.utc),
                      _when(d.enabled_at))
            for d in self._store.list_mfa_devices(self._tenant, user_id))

    def enable(self, user_id: str, serial_number: str, code1: object, code2: object) -> None:
        device = self.device(user_id, serial_number)
        if device.enabled:
            raise EntityAlreadyExists(f"MFA device {serial_number} is already enabled")
        seed = self._seed(device)  # before the attempt is counted: see `verify`
        now = self._clock.time()
        claims = self._check_unlocked(device, user_id, now)
        if not (totp.well_formed(code1) and totp.well_formed(code2)):
            self._fail(device, user_id, now, "malformed_code", claims)
        assert isinstance(code1, str) and isinstance(code2, str)
        step = totp.consecutive_step(seed, code1, code2, now)
        if step is None or not self._store.enable_mfa_device(device.device_id, step, now):
            self._fail(device, user_id, now, "wrong_enrolment_codes", claims)
        self._succeeded(device, user_id)
        self._events.emit("mfa_device_enabled", outcome="success", tenant_id=self._tenant, user_id=user_id,
                          serial_number=serial_number)

    def deactivate(self, user_id: str, serial_number: str, code: object = None,
                   recovery_code: object = None) -> None:
        """Requires a valid code from the device itself, or one of the user's recovery codes."""
        device = self.device(user_id, serial_number)
        if not device.enabled:
            raise NoSuchEntity(f"MFA device {serial_number} is not enabled")
        if recovery_code is not None:
            self.use_recovery_code(user_id, recovery_code)
        else:
            self.verify(device, code)
        codes = self.recovery_codes_left(user_id)
        if not self._store.disable_mfa_device(device.device_id, changed_at=self._clock.time()):
            # Deactivated (or deleted) by a concurrent call since it was read: that call reports it.
            raise NoSuchEntity(f"MFA device {serial_number} is not enabled")
        self._audit_dropped_codes(user_id, codes, "mfa_deactivated")
        self._events.emit("mfa_device_deactivated", outcome="success", tenant_id=self._tenant, user_id=user_id,
                          serial_number=serial_number)

    def delete(self, serial_number: str) -> None:
        device = self.device(None, serial_number)
        if device.enabled:
            raise DeleteConflict(f"MFA device {serial_number} is enabled; deactivate it first")
        codes = self.recovery_codes_left(device.user_id)
        if not self._store.delete_mfa_device(device.device_id, changed_at=self._clock.time()):
            raise NoSuchEntity(f"MFA device {serial_number} does not exist")  # deleted concurrently
        self._audit_dropped_codes(device.user_id, codes, "mfa_device_deleted")
        self._events.emit("mfa_device_deleted", outcome="success", tenant_id=self._tenant, user_id=device.user_id,
                          serial_number=serial_number)

    # verification

    def _seed(self, device: MfaDeviceRecord) -> str:
        return self._sealer().open(device.sealed_seed, purpose=_SEED_PURPOSE, row=device.device_id).decode("ascii")

    def _subjects(self, device: MfaDeviceRecord | None, user_id: str) -> list[str]:
        subjects = [self._user_subject(user_id)]
        if device is not None:
            subjects.insert(0, self._device_subject(device))
        return subjects

    def _check_unlocked(self, device: MfaDeviceRecord | None, user_id: str, now: float) -> _Claims:
        """Refuse while locked; otherwise count this attempt as a failure before its code is looked
        at (MFA-04). Checking first and counting after a wrong code let concurrent guesses all pass
        the check before any was counted; claimed up front, at most `max_failures` codes are ever
        evaluated per lock period. A success clears the counts again (`_succeeded`)."""
        claims: _Claims = []
        for subject in self._subjects(device, user_id):
            state = self._store.throttle_state(subject)
            if not state.locked(now):
                state = self._store.record_failure(subject, now, self._config.mfa_lockout)
                claims.append((subject, state))
                if not locked_before(state, now):
                    continue
            assert state.locked_until is not None
            self._events.emit("mfa_attempt_while_locked", outcome="failure", level=logging.WARNING,
                              tenant_id=self._tenant, user_id=user_id,
                              serial_number=device.serial_number if device else None)
            raise Throttled("too many failed authentication codes; try again later",
                            math.ceil(state.locked_until - now))
        return claims

    def _fail(self, device: MfaDeviceRecord | None, user_id: str, now: float, reason: str,
              claims: _Claims) -> None:
        """Refuse an attempt already counted by `_check_unlocked`; audit a lock that it set."""
        serial = device.serial_number if device else None
        self._events.emit("mfa_code_rejected", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                          user_id=user_id, serial_number=serial, reason=reason)
        for subject, state in claims:
            if state.locked(now):
                self._events.emit("mfa_locked", outcome="failure", level=logging.WARNING, tenant_id=self._tenant,
                                  user_id=user_id, serial_number=serial, subject=subject.split(":", 2)[1],
                                  locked_seconds=self._config.mfa_lockout.lock_seconds)
        raise InvalidAuthenticationCode(_INVALID_CODE)

    def _release(self, claims: _Claims, now: float) -> None:
        """Undo the count of an attempt that ended in a store error rather than a verdict, when it
        was the only one (a store error is not a wrong code); otherwise the count stays (fail closed)."""
        for subject, state in claims:
            if state.failures == 1 and not state.locked(now):
                # If the store is failing anyway, the extra count only errs towards locking. Only
                # while the count is still this attempt's alone: a concurrent attempt's stays.
                with contextlib.suppress(StoreError):
                    self._store.clear_failures(subject, only_if_failures=1)

    def _succeeded(self, device: MfaDeviceRecord | None, user_id: str) -> None:
        for subject in self._subjects(device, user_id):
            self._store.clear_failures(subject)

    def verify(self, device: MfaDeviceRecord, code: object) -> MfaVerification:
        """Accept `code` for an enabled device at most once; raise otherwise."""
        self._store.check_attempts_commit()
        # Opened before the attempt is counted: a seed that does not open (SealError, a process
        # with another data_key) is the server's fault, and no count towards a lock may come of it,
        # whatever counts earlier attempts left (a release undoes only a count that is alone).
        seed = self._seed(device)
        now = self._clock.time()
        claims = self._check_unlocked(device, device.user_id, now)
        if not device.enabled:
            self._fail(device, device.user_id, now, "device_not_enabled", claims)
        if not totp.well_formed(code):
            self._fail(device, device.user_id, now, "malformed_code", claims)
        assert isinstance(code, str)
        steps = totp.matching_steps(seed, code, now)
        if not steps:
            self._fail(device, device.user_id, now, "wrong_code", claims)
        for step in steps:
            try:
                consumed = self._store.consume_totp_step(device.device_id, step)
            except StoreError:
                self._release(claims, now)
                raise
            if consumed:
                self._succeeded(device, device.user_id)
                return MfaVerification(int(now), device.device_id, device.serial_number)
        self._fail(device, device.user_id, now, "otp_replay", claims)
        raise AssertionError("unreachable")  # pragma: no cover

    def verify_for_user(self, user_id: str, code: object, serial_number: str | None = None) -> MfaVerification:
        """Verify against the given device, or the user's only enabled device."""
        if serial_number is not None:
            device = self.device(user_id, serial_number)
        else:
            enabled = [d for d in self._store.list_mfa_devices(self._tenant, user_id) if d.enabled]
            if not enabled:
                now = self._clock.time()
                self._fail(None, user_id, now, "no_enabled_device", self._check_unlocked(None, user_id, now))
            if len(enabled) > 1:
                raise ValidationError("the user has several MFA devices; give SerialNumber")
            device = enabled[0]
        return self.verify(device, code)

    # recovery codes

    def create_recovery_codes(self, user_id: str, serial_number: str, code: object) -> RecoveryCodes:
        """A fresh set of codes (the old set stops working), after a valid code from the device."""
        device = self.device(user_id, serial_number)
        self.verify(device, code)
        codes = tuple(new_recovery_code() for _ in range(self._config.recovery_code_count))
        records = [RecoveryCodeRecord("rc-" + secrets.token_hex(12), self._tenant, user_id,
                                      hash_secret(value, self._config.recovery_code_cost)) for value in codes]
        # Also ends the sessions that a code of the old set vouched for (MFA-09).
        self._store.replace_recovery_codes(self._tenant, user_id, records, changed_at=self._clock.time())
        self._events.emit("recovery_codes_created", outcome="success", tenant_id=self._tenant, user_id=user_id,
                          count=len(codes))
        return RecoveryCodes(codes)

    def _audit_dropped_codes(self, user_id: str, before: int, reason: str) -> None:
        """The store deletes recovery codes with the user's last enabled device; say so when it did."""
        if before and not self.recovery_codes_left(user_id):
            self._events.emit("recovery_codes_deleted", outcome="success", level=logging.WARNING,
                              tenant_id=self._tenant, user_id=user_id, count=before, reason=reason)

    def recovery_codes_left(self, user_id: str) -> int:
        return len(self._store.list_recovery_codes(self._tenant, user_id))

    def use_recovery_code(self, user_id: str, code: object) -> MfaVerification:
        self._store.check_attempts_commit()
        self._dummy_recovery.prime()
        now = self._clock.time()
        claims = self._check_unlocked(None, user_id, now)
        normalized = code.upper() if isinstance(code, str) and code.isascii() else None
        if normalized is None or not _RECOVERY_CODE.fullmatch(normalized):
            self._dummy_recovery.burn("0000-0000-0000-0000")
            self._fail(None, user_id, now, "malformed_recovery_code", claims)
        assert normalized is not None
        matched: RecoveryCodeRecord | None = None
        candidates = self._store.list_recovery_codes(self._tenant, user_id)
        if not any(device.enabled for device in self._store.list_mfa_devices(self._tenant, user_id)):
            # Codes back up an enabled device: once MFA is deactivated they prove nothing.
            candidates = []
        if not candidates:
            self._dummy_recovery.burn(normalized)
        for candidate in candidates:  # no early exit: the time does not tell which code matched
            if verify_secret(normalized, candidate.code_hash) and matched is None:
                matched = candidate
        if matched is None or not self._store.consume_recovery_code(matched.code_id):
            self._fail(None, user_id, now, "wrong_recovery_code", claims)
        assert matched is not None
        self._succeeded(None, user_id)
        self._events.emit("recovery_code_used", outcome="success", level=logging.WARNING, tenant_id=self._tenant,
                          user_id=user_id, remaining=len(candidates) - 1)
        return MfaVerification(int(now), None, None)
