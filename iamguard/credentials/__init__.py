"""Credentials, sessions and MFA: how a principal proves who it is.

Passwords (scrypt, policy, lockout), access keys (HMAC verifiers, shown once), session tokens
(JWTs signed with rotating keys, STS-style GetSessionToken / AssumeRole /
AssumeRoleWithWebIdentity), revocation, and TOTP MFA with replay protection and recovery codes.
Start with `Credentials(directory)`.
"""

from iamguard.credentials.access_keys import AccessKey, AccessKeyLastUsed, AccessKeyMetadata
from iamguard.credentials.config import CredentialsConfig, Lockout, ScryptCost
from iamguard.credentials.errors import (
    AccessDenied,
    AuthenticationFailed,
    ConfigurationError,
    CredentialError,
    DeleteConflict,
    EntityAlreadyExists,
    ExpiredIdentityToken,
    ExpiredToken,
    IdpCommunicationError,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
    InvalidIdentityToken,
    InvalidInput,
    InvalidToken,
    LimitExceeded,
    MalformedPolicyDocument,
    MissingToken,
    NoSuchEntity,
    PackedPolicyTooLarge,
    PasswordExpired,
    PasswordPolicyViolation,
    RevokedToken,
    Throttled,
    TokenError,
    ValidationError,
)
from iamguard.credentials.facade import AccessKeyCredentials, Credentials, PasswordCredentials
from iamguard.credentials.memory_store import MemoryCredentialStore
from iamguard.credentials.mfa import MfaDevice, RecoveryCodes, VirtualMfaDevice
from iamguard.credentials.oidc_config import OidcIssuer
from iamguard.credentials.passwords import LoginProfileInfo
from iamguard.credentials.records import PasswordPolicy
from iamguard.credentials.session import Session
from iamguard.credentials.sqlite_store import SQLiteCredentialStore
from iamguard.credentials.store import CredentialStore
from iamguard.credentials.tokens import IssuedToken

__all__ = [
    "AccessDenied",
    "AccessKey",
    "AccessKeyCredentials",
    "AccessKeyLastUsed",
    "AccessKeyMetadata",
    "AuthenticationFailed",
    "ConfigurationError",
    "CredentialError",
    "CredentialStore",
    "Credentials",
    "CredentialsConfig",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredIdentityToken",
    "ExpiredToken",
    "IdpCommunicationError",
    "InvalidAuthenticationCode",
    "InvalidClientTokenId",
    "InvalidIdentityToken",
    "InvalidInput",
    "InvalidToken",
    "IssuedToken",
    "LimitExceeded",
    "Lockout",
    "LoginProfileInfo",
    "MalformedPolicyDocument",
    "MemoryCredentialStore",
    "MfaDevice",
    "MissingToken",
    "NoSuchEntity",
    "OidcIssuer",
    "PackedPolicyTooLarge",
    "PasswordCredentials",
    "PasswordExpired",
    "PasswordPolicy",
    "PasswordPolicyViolation",
    "RecoveryCodes",
    "RevokedToken",
    "SQLiteCredentialStore",
    "ScryptCost",
    "Session",
    "Throttled",
    "TokenError",
    "ValidationError",
    "VirtualMfaDevice",
]
