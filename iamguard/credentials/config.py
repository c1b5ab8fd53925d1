"""Configuration of the credentials component: one frozen value, checked once at construction.

Anything unsafe (a leeway above 60 s, an unknown signing algorithm, a short key) is refused here,
so a misconfiguration stops the application at startup instead of weakening every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iamguard.credentials.errors import ConfigurationError
from iamguard.credentials.oidc_config import OidcIssuer

SIGNING_ALGORITHMS = ("EdDSA", "ES256", "HS256")
MAX_LEEWAY_SECONDS = 60
MIN_SESSION_SECONDS = 900  # STS's floor for every session duration
CHAINED_ROLE_MAX_SECONDS = 3600  # STS caps role chaining at one hour
DEFAULT_ROLE_SESSION_SECONDS = 3600
DEFAULT_SESSION_TOKEN_SECONDS = 43200


@dataclass(frozen=True)
class ScryptCost:
    """scrypt work factors. The default (n=2**15, r=8) costs about 32 MiB and tens of milliseconds;
    tests use a tiny cost so the suite stays fast."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ConfigurationError(f"scrypt n must be a power of two greater than 1, not {self.n}")
        if self.r < 1 or self.p < 1:
            raise ConfigurationError("scrypt r and p must be at least 1")

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * self.p + 1024 * 1024


@dataclass(frozen=True)
class Lockout:
    """After `max_failures` consecutive failures the subject is locked for `lock_seconds`."""

    max_failures: int
    lock_seconds: int

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.lock_seconds < 1:
            raise ConfigurationError("lockout thresholds and periods must be positive")


@dataclass(frozen=True)
class CredentialsConfig:
    issuer: str = "iamguard"
    audience: str = "iamguard"
    signing_algorithm: str = "EdDSA"
    # HS256 only: a random secret of at least 32 bytes. When None, one is generated and kept in
    # the store (sealed with data_key).
    hmac_secret: bytes | None = field(default=None, repr=False)
    leeway_seconds: int = 30
    max_token_lifetime: int = 43200
    max_token_bytes: int = 8192
    session_token_default_seconds: int = DEFAULT_SESSION_TOKEN_SECONDS
    role_session_default_seconds: int = DEFAULT_ROLE_SESSION_SECONDS
    # Keyed hash for access-key verifiers. When None, a random pepper is generated and kept in the
    # store, which protects less: configure one from your secret manager.
    pepper: bytes | None = field(default=None, repr=False)
    # AES-256-GCM key sealing TOTP seeds and signing keys at rest. When None, a random key is
    # generated and kept in the store (beside, not in, the sealed tables): configure one.
    data_key: bytes | None = field(default=None, repr=False)
    password_cost: ScryptCost = ScryptCost()
    recovery_code_cost: ScryptCost = ScryptCost(n=2**14)
    login_lockout: Lockout = Lockout(5, 900)
    mfa_lockout: Lockout = Lockout(5, 900)
    access_key_lockout: Lockout = Lockout(100, 3600)
    max_access_keys_per_user: int = 2
    max_mfa_devices_per_user: int = 8
    recovery_code_count: int = 10
    totp_issuer_name: str = "iamguard"
    oidc_issuers: tuple[OidcIssuer, ...] = ()
    cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.signing_algorithm not in SIGNING_ALGORITHMS:
            raise ConfigurationError(
                f"signing_algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}, not {self.signing_algorithm!r}")
        # Whole seconds: token lifetimes then change only at a second's start, which the guard's
        # VerdictMemo relies on (a fraction would expire a token in the middle of a second).
        if isinstance(self.leeway_seconds, bool) or not isinstance(self.leeway_seconds, int) or \
                not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(
                f"leeway_seconds must be a whole number of seconds between 0 and {MAX_LEEWAY_SECONDS}")
        if not self.issuer or not self.audience:
            raise ConfigurationError("issuer and audience must be non-empty strings")
        if self.max_token_lifetime < MIN_SESSION_SECONDS:
            raise ConfigurationError(f"max_token_lifetime must be at least {MIN_SESSION_SECONDS} seconds")
        if not 1024 <= self.max_token_bytes <= 8192:
            raise ConfigurationError("max_token_bytes must be between 1024 and 8192")
        for name in ("session_token_default_seconds", "role_session_default_seconds"):
            value = getattr(self, name)
            if not MIN_SESSION_SECONDS <= value <= self.max_token_lifetime:
                raise ConfigurationError(f"{name} must be between {MIN_SESSION_SECONDS} and max_token_lifetime")
        for name in ("pepper", "data_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, bytes) or len(value) != 32):
                raise ConfigurationError(f"{name} must be exactly 32 random bytes")
        if self.hmac_secret is not None:
            if self.signing_algorithm != "HS256":
                raise ConfigurationError("hmac_secret is only used with signing_algorithm='HS256'")
            from iamguard.credentials.signing import check_hmac_secret

            check_hmac_secret(self.hmac_secret)
        if not 1 <= self.max_access_keys_per_user <= 10 or not 1 <= self.max_mfa_devices_per_user <= 32:
            raise ConfigurationError("per-user limits for access keys (1-10) or MFA devices (1-32) are out of range")
        if not 5 <= self.recovery_code_count <= 32:
            raise ConfigurationError("recovery_code_count must be between 5 and 32")
        issuers = [issuer.issuer for issuer in self.oidc_issuers]
        if len(set(issuers)) != len(issuers):
            raise ConfigurationError("each OpenID Connect issuer may be configured only once")
