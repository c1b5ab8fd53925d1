"""The exception hierarchy. Every error iamguard raises on purpose derives from IamGuardError."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar


class IamGuardError(Exception):
    """Base class of every error raised by iamguard."""


@dataclass(frozen=True)
class Finding:
    """One problem in a policy document, located by a JSON pointer (RFC 6901)."""

    pointer: str
    message: str
    code: str = "InvalidPolicy"

    def __str__(self) -> str:
        # A pointer holds the document's own key text, and a message may quote a value: neither may
        # start a line of its own in an error message or a log line.
        return printable(f"{self.pointer or '/'}: {self.message}")


def printable(text: str) -> str:
    """`text` with control characters escaped (`\\n` as the two characters `\\n`): a value quoted
    in an explanation, a finding or a log line must not forge a line of its own."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def escape_pointer_token(token: object) -> str:
    """Escape one reference token of a JSON pointer ('~' and '/' per RFC 6901)."""
    text = str(token)
    if "~" not in text and "/" not in text:
        return text
    return text.replace("~", "~0").replace("/", "~1")


def join_pointer(base: str, *tokens: object) -> str:
    for token in tokens:
        base = f"{base}/{escape_pointer_token(token)}"
    return base


class PolicyError(IamGuardError, ValueError):
    """A policy document is malformed or invalid. Carries every finding at once."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings: tuple[Finding, ...] = tuple(findings)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.findings) == 1:
            return f"invalid policy: {self.findings[0]}"
        lines = [f"invalid policy ({len(self.findings)} problems):"]
        lines.extend(f"  {finding}" for finding in self.findings)
        return "\n".join(lines)


class ServiceError(IamGuardError):
    """An operation of the directory or credentials API was refused. `code` is the error code the
    IAM or STS API returns for it and `status` the HTTP status an admin API would answer with;
    nothing was changed (every operation is one transaction)."""

    code: ClassVar[str] = "ServiceFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EvaluationError(IamGuardError):
    """A condition could not be evaluated against the request (for example an unparsable value).

    Never escapes the evaluator: an Allow statement that errors does not apply, a Deny statement
    that errors denies.
    """
