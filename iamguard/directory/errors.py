"""Errors raised by the identity directory. Each carries the error code IAM's API would return, so
an HTTP admin API can pass the code through unchanged."""

from __future__ import annotations

from collections.abc import Iterable

from iamguard.errors import Finding, ServiceError
from iamguard.store.database import StoreError


class IamError(ServiceError):
    """An IAM operation was refused. Nothing was changed: every operation is one transaction."""


class EntityAlreadyExistsError(IamError):
    code = "EntityAlreadyExists"
    status = 409


class NoSuchEntityError(IamError):
    code = "NoSuchEntity"
    status = 404


class DeleteConflictError(IamError):
    """The entity still has dependents (group memberships, policies, keys, MFA devices, ...)."""

    code = "DeleteConflict"
    status = 409

    def __init__(self, message: str, dependents: Iterable[str] = ()) -> None:
        self.dependents: tuple[str, ...] = tuple(dependents)
        if self.dependents:
            message = f"{message}: {'; '.join(self.dependents)}"
        super().__init__(message)


class LimitExceededError(IamError):
    code = "LimitExceeded"
    status = 409


class MalformedPolicyDocumentError(IamError):
    """A policy document failed validation. `findings` locate every problem by JSON pointer."""

    code = "MalformedPolicyDocument"

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        self.findings: tuple[Finding, ...] = tuple(findings)
        if self.findings:
            message = f"{message}: " + "; ".join(str(finding) for finding in self.findings)
        super().__init__(message)


class InvalidInputError(IamError, ValueError):
    code = "InvalidInput"


class AuditUnavailableError(IamError):
    """The mutation could not be audited, so it was refused and nothing was stored (security spec
    LOG-04: an IAM change without an audit trail must not happen). Either a sink failed to take the
    record (which is then on the `iamguard.audit.failure` logger: retry once the sink works again),
    or the write was started inside a transaction the directory did not open, whose outcome it
    could not record (group such writes with `Directory.batch()` instead)."""

    code = "ServiceFailure"
    status = 503


__all__ = [
    "AuditUnavailableError",
    "DeleteConflictError",
    "EntityAlreadyExistsError",
    "IamError",
    "InvalidInputError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "NoSuchEntityError",
    "StoreError",
]
