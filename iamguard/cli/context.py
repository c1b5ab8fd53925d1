"""What every command handler receives besides its arguments: input, environment, clock and the
audit log (`--audit-log`), if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iamguard.audit import Auditor
from iamguard.cli.audit_log import AuditLog, open_audit_log
from iamguard.cli.sources import InputReader
from iamguard.clock import SYSTEM_CLOCK, Clock


@dataclass
class CliContext:
    reader: InputReader
    # The process environment holds the secrets the commands read (IAMGUARD_SECRET_ACCESS_KEY,
    # IAMGUARD_PASSWORD, IAMGUARD_PEPPER, ...): never in a repr, which error reporters print.
    environ: Mapping[str, str] = field(repr=False)
    clock: Clock = field(default=SYSTEM_CLOCK)
    audit_log_path: str | None = None  # what --audit-log or IAMGUARD_AUDIT_LOG names
    audit_log: AuditLog | None = None  # opened on first use

    @property
    def auditor(self) -> Auditor | None:
        """What Directory and Credentials record through (None: the library's default). The log is
        opened, and checked to be appendable, when a command first asks for it: before it builds
        the Directory or Credentials that could change anything, and never for a command that
        opens no store (`validate`, `simulate --policy`)."""
        if self.audit_log is None and self.audit_log_path:
            self.audit_log = open_audit_log(self.audit_log_path)
        return self.audit_log.auditor if self.audit_log is not None else None
