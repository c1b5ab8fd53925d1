"""What every command handler receives besides its arguments: input, environment, clock and the
audit log (`--audit-log`), if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iamguard.audit import Auditor
from iamguard.cli.audit_log import AuditLog
from iamguard.cli.sources import InputReader
from iamguard.clock import SYSTEM_CLOCK, Clock


@dataclass
class CliContext:
    reader: InputReader
    environ: Mapping[str, str]
    clock: Clock = field(default=SYSTEM_CLOCK)
    audit_log: AuditLog | None = None

    @property
    def auditor(self) -> Auditor | None:
        """What Directory and Credentials record through (None: the library's default)."""
        return self.audit_log.auditor if self.audit_log is not None else None
