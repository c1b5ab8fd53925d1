"""Plain records the credential stores keep. Secrets appear only as hashes, verifiers or sealed
bytes, and even those are left out of `repr`."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVE = "Active"
INACTIVE = "Inactive"
KEY_STATUSES = (ACTIVE, INACTIVE)


@dataclass(frozen=True)
class PasswordPolicy:
    """A tenant's password rules (IAM's account password policy)."""

    minimum_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    reuse_prevention: int = 0  # how many previous passwords may not be reused (0: no check)
    max_age_days: int = 0  # 0: passwords do not expire

    def __post_init__(self) -> None:
        from iamguard.credentials.errors import InvalidInput

        # Types first: a float reuse_prevention was stored and then broke every password change,
        # a string raised a bare TypeError, and a truthy string passed as a yes.
        for name in ("minimum_length", "reuse_prevention", "max_age_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{name} must be a whole number")
        for name in ("require_symbols", "require_numbers", "require_uppercase", "require_lowercase"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(f"{name} must be true or false")
        if not 6 <= self.minimum_length <= 128:
            raise InvalidInput("minimum_length must be between 6 and 128")
        if not 0 <= self.reuse_prevention <= 24:
            raise InvalidInput("reuse_prevention must be between 0 and 24")
        if not 0 <= self.max_age_days <= 1095:
            raise InvalidInput("max_age_days must be between 0 and 1095")


@dataclass(frozen=True)
class LoginProfile:
    tenant_id: str
    user_id: str
    password_hash: str = field(repr=False)
    created_at: float
    changed_at: float
    reset_required: bool = False


@dataclass(frozen=True)
class AccessKeyRecord:
    access_key_id: str
    tenant_id: str
    user_id: str
    verifier: str = field(repr=False)
    status: str
    created_at: float
    last_used_at: float | None = None
    last_used_action: str | None = None
    last_used_ip: str | None = None


@dataclass(frozen=True)
class MfaDeviceRecord:
    device_id: str  # random and never reused: sessions bind to it, not to the serial number
    tenant_id: str
    user_id: str
    serial_number: str
    sealed_seed: bytes = field(repr=False)
    enabled: bool
    created_at: float
    enabled_at: float | None = None
    last_step: int | None = None


@dataclass(frozen=True)
class RecoveryCodeRecord:
    code_id: str
    tenant_id: str
    user_id: str
    code_hash: str = field(repr=False)


@dataclass(frozen=True)
class SigningKeyRecord:
    kid: str
    algorithm: str
    sealed_private: bytes = field(repr=False)
    public_jwk: str | None  # None for HS256: a symmetric key is never published
    created_at: float
    retired_at: float | None = None  # no longer signs; verifies until every token it signed expired


@dataclass(frozen=True)
class ThrottleState:
    """Consecutive failures of one subject. A count goes stale after a quiet period as long as
    the lock period, so guesses stay bounded per period without old slips adding up forever."""

    failures: int
    locked_until: float | None
    last_failure: float | None = None

    def locked(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until
