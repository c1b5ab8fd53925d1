"""`--audit-log FILE` (or $IAMGUARD_AUDIT_LOG): keep the command's audit records in a file.

Every IAM mutation the command makes through the directory and every credentials event (access
key created, login profile changed, MFA device enabled, session token issued, ...) is appended
to FILE as one JSON line: the same `iamguard.audit.AuditRecord` lines the web layer writes.

The file is opened for appending before the command runs, so an unwritable log stops the command
before it changes anything. Should a record still fail later (a full disk), a directory mutation
is refused and rolled back by the directory itself (spec LOG-04); a credentials event is reported
as an error after the command's output, whose secret (a new access key) would otherwise be lost.
Without the option the command keeps the library's default: records go to the `iamguard.audit`
logger, which a standalone run does not show.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iamguard.audit import Auditor, AuditRecord, JsonLinesSink
from iamguard.cli.errors import CliError

AUDIT_LOG_VARIABLE = "IAMGUARD_AUDIT_LOG"


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audit-log", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"append a JSON line per IAM change and credentials event to FILE "
                             f"(default: ${AUDIT_LOG_VARIABLE}; unset: not kept)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


class _RememberingSink(JsonLinesSink):
    """A JsonLinesSink that remembers why its last write failed, for the command's error line."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.last_error: str | None = None

    def emit(self, record: AuditRecord) -> None:
        try:
            super().emit(record)
        except Exception as exc:
            self.last_error = _reason(exc)
            raise


@dataclass
class AuditLog:
    """The opened audit log of one command: `auditor` goes to every Directory and Credentials."""

    path: Path
    _sink: _RememberingSink = field(init=False, repr=False)
    auditor: Auditor = field(init=False)

    def __post_init__(self) -> None:
        self._sink = _RememberingSink(self.path)
        self.auditor = Auditor(self._sink)

    @property
    def failures(self) -> int:
        return self.auditor.failures

    def describe_failure(self) -> str:
        reason = self._sink.last_error or "unknown error"
        return f"--audit-log {self.path}: could not append an audit record ({reason})"


def requested_path(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """The audit log the option or the variable names, if any."""
    return getattr(args, "audit_log", None) or environ.get(AUDIT_LOG_VARIABLE) or None


def open_audit_log(text: str) -> AuditLog:
    """The log at `text`, checked to be appendable (created with mode 0600 if missing)."""
    path = Path(text).expanduser()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CliError(f"--audit-log {path}: cannot append to the audit log ({_reason(exc)}); nothing was "
                       "changed") from None
    os.close(descriptor)
    return AuditLog(path)
