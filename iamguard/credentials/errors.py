"""Typed errors of the credentials component, each carrying the IAM/STS error code a client sees.

Messages name what went wrong and where (user names, key ids, serial numbers, claim names), never
a secret: no password, key secret, TOTP seed, code or token text is ever put into a message.
The class tells the web layer how to answer: `TokenError` subclasses are 401 `invalid_token`
(or a bare 401 for `MissingToken`), `Throttled` is 429, the rest map through `status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from iamguard.directory.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
)
from iamguard.errors import Finding, ServiceError


class CredentialError(ServiceError):
    """Base class of every error raised on purpose by iamguard.credentials. The errors it shares
    with the directory (NoSuchEntity, EntityAlreadyExists, ...) are also the directory's classes,
    so `except iamguard.NoSuchEntityError` catches them wherever they come from."""

    code: ClassVar[str] = "CredentialError"


class ValidationError(CredentialError):
    """A request parameter is out of range or badly formed (STS's ValidationError)."""

    code = "ValidationError"


class InvalidInput(CredentialError, InvalidInputError):
    """A request parameter is badly formed (IAM's InvalidInput)."""

    code = "InvalidInput"


class MalformedPolicyDocument(CredentialError, MalformedPolicyDocumentError):
    """A session policy (or a stored trust policy) is not a valid policy document."""

    code = "MalformedPolicyDocument"

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        ServiceError.__init__(self, message)
        self.findings: tuple[Finding, ...] = tuple(findings)


class PackedPolicyTooLarge(CredentialError):
    """Session policies and tags together do not fit in a session token."""

    code = "PackedPolicyTooLarge"


class AccessDenied(CredentialError):
    code = "AccessDenied"
    status = 403


class NoSuchEntity(CredentialError, NoSuchEntityError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(CredentialError, EntityAlreadyExistsError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(CredentialError, DeleteConflictError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(CredentialError, LimitExceededError):
    code = "LimitExceeded"
    status = 409


class PasswordPolicyViolation(CredentialError):
    code = "PasswordPolicyViolation"

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)


class InvalidAuthenticationCode(CredentialError):
    """A TOTP or recovery code was wrong, malformed, out of its window or already used."""

    code = "InvalidAuthenticationCode"
    status = 403


class Throttled(CredentialError):
    """Too many consecutive failures: the subject (user login, MFA device, access key) is locked
    until `retry_after` seconds from now."""

    code = "Throttling"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class AuthenticationFailed(CredentialError):
    """A password login failed. One message for an unknown user, a wrong password and a user
    without a password, so the answer never tells whether the user exists."""

    code = "AuthenticationFailed"
    status = 401


class PasswordExpired(CredentialError):
    """The password is right but past the policy's maximum age: it must be changed first."""

    code = "PasswordExpired"
    status = 401


class InvalidClientTokenId(CredentialError):
    """An access key pair was refused. The same error (and the same work) for an unknown key id,
    a wrong secret and an inactive key."""

    code = "InvalidClientTokenId"
    status = 403


class InvalidIdentityToken(CredentialError):
    """An OpenID Connect token given to AssumeRoleWithWebIdentity was refused."""

    code = "InvalidIdentityToken"


class ExpiredIdentityToken(InvalidIdentityToken):
    code = "ExpiredTokenException"


class IdpCommunicationError(CredentialError):
    """The configured OpenID Connect issuer's JWKS could not be fetched; nothing is accepted."""

    code = "IDPCommunicationError"
    status = 503


class TokenError(CredentialError):
    """A session token was refused. `reason` is one of missing, invalid, expired, revoked."""

    code = "InvalidToken"
    status = 401
    reason: ClassVar[str] = "invalid"


class MissingToken(TokenError):
    code = "MissingAuthenticationToken"
    reason = "missing"


class InvalidToken(TokenError):
    code = "InvalidToken"
    reason = "invalid"


class ExpiredToken(InvalidToken):
    code = "ExpiredToken"
    reason = "expired"


class RevokedToken(InvalidToken):
    code = "RevokedToken"
    reason = "revoked"


class ConfigurationError(CredentialError):
    """The credentials component was configured unsafely (weak HMAC secret, leeway too large...)."""

    code = "ConfigurationError"
    status = 500
