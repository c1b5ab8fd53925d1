"""Errors raised by the identity directory. Each carries the error code IAM's API would return, so
an HTTP admin API can pass the code through unchanged."""

from __future__ import annotations

from collections.abc import Iterable

from iamguard.errors import Finding, IamGuardError
from iamguard.store.database import StoreError


class IamError(IamGuardError):
    """An IAM operation was refused. Nothing was changed: every operation is one transaction."""

    code = "ServiceFailure"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EntityAlreadyExistsError(IamError):
    code = "EntityAlreadyExists"


class NoSuchEntityError(IamError):
    code = "NoSuchEntity"


class DeleteConflictError(IamError):
    """The entity still has dependents (group memberships, policies, keys, MFA devices, ...)."""

    code = "DeleteConflict"

    def __init__(self, message: str, dependents: Iterable[str] = ()) -> None:
        self.dependents: tuple[str, ...] = tuple(dependents)
        if self.dependents:
            message = f"{message}: {'; '.join(self.dependents)}"
        super().__init__(message)


class LimitExceededError(IamError):
    code = "LimitExceeded"


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


__all__ = [
    "DeleteConflictError",
    "EntityAlreadyExistsError",
    "IamError",
    "InvalidInputError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "NoSuchEntityError",
    "StoreError",
]
