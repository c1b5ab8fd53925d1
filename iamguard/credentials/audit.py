"""Security events of the credentials component, delivered as `iamguard.audit.AuditRecord`s.

Logins, lockouts, rejected MFA codes (an OTP replay among them, spec LOG-02), recovery-code use,
access keys, sessions and role assumptions each become one record built by
`iamguard.audit.credentials_record` and sent through an `Auditor`: the same records, sinks and
failure reporting as the web layer's decisions and the directory's mutations. By default the
records go to the `iamguard.audit` logger as one JSON line each (`CredentialsLoggingSink`); give
`Credentials(..., audit=...)` the Auditor (or sinks) the rest of the application uses to keep one
trail.

Callers pass only identifiers (tenant, user id, key id, serial number, jti, reason): never a
password, secret, seed, code or token (spec LOG-03). Values are clipped and their control, line
and paragraph separator and bidi characters replaced here; the JSON rendering then escapes all
non-ASCII text, so a caller-chosen name can neither forge nor split a line (spec LOG-01).
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from iamguard.audit import (
    AUDIT_LOGGER,
    AuditOption,
    Auditor,
    AuditRecord,
    LoggingSink,
    as_auditor,
    credentials_record,
)
from iamguard.clock import SYSTEM_CLOCK, Clock

LOGGER_NAME = AUDIT_LOGGER
_MAX_VALUE = 256
# Cc/Cf/Cs/Co/Cn (controls, bidi and other format characters, surrogates, unassigned) and the
# line and paragraph separators U+2028/U+2029, which some log viewers treat as line breaks.
_UNSAFE_CATEGORIES = frozenset({"Zl", "Zp"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
           "critical": logging.CRITICAL}


def _safe(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] != "C" and category not in _UNSAFE_CATEGORIES


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = "".join(char if _safe(char) else "?" for char in str(value))
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 3] + "..."


class CredentialsLoggingSink(LoggingSink):
    """`LoggingSink` for credentials events: the message is the record's JSON line, logged at the
    event's own severity, and the log record also carries the event's details as the mapping
    `record.audit` (event, outcome, component and the identifiers), as earlier versions did."""

    def emit(self, record: AuditRecord) -> None:
        severity = record.extra.get("severity")
        default = self.level if record.effect == "Allow" else self.deny_level
        level = _LEVELS.get(severity, default) if isinstance(severity, str) else default
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", record.to_json(), extra={"audit": dict(record.extra)})


def default_auditor() -> Auditor:
    return Auditor(CredentialsLoggingSink())


# Events that record a change to the credentials store (the rest record attempts, refusals and
# tokens handed out, which happened whether or not a surrounding transaction commits).
STORE_CHANGES = frozenset({
    "access_key_created", "access_key_status_changed", "access_key_deleted",
    "login_profile_created", "login_profile_updated", "login_profile_deleted",
    "mfa_device_created", "mfa_device_enabled", "mfa_device_deactivated", "mfa_device_deleted",
    "recovery_codes_created", "recovery_codes_deleted", "sessions_revoked", "session_revoked",
})

Pending = list[tuple[Auditor, AuditRecord]]


class CredentialsAudit:
    """Builds and delivers the credentials component's records. `audit` is an Auditor, a sink or
    sinks (None: `CredentialsLoggingSink` on the `iamguard.audit` logger).

    `batch`, when given, names the records of an open directory write whose transaction holds the
    credentials store's changes too (`iamguard.directory.auditing.batch_records`): a store change
    made inside one is recorded with that write's records, delivered when it commits and dropped
    if it rolls back, as the directory's own are; outside one it is delivered at once, as every
    other event is."""

    def __init__(self, audit: AuditOption = None, clock: Clock | None = None,
                 batch: Callable[[], Pending | None] | None = None) -> None:
        self.auditor: Auditor = default_auditor() if audit is None else as_auditor(audit)
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.batch = batch

    def emit(self, event: str, *, outcome: str, level: int = logging.INFO, **fields: Any) -> bool:
        """Record one event. `outcome` is "success", "failure" or "info". Never raises: returns
        False when the record could not be built or delivered (the Auditor reports a failed sink
        on the `iamguard.audit.failure` logger), so a broken sink cannot break authentication.
        A store change inside an open directory write waits for it (see `batch`): True then."""
        try:
            record = credentials_record(
                time=self.clock.now(), request_id=f"cred-{secrets.token_hex(8)}", event=event,
                outcome=outcome, fields=cleaned(fields), severity=logging.getLevelName(level).lower(),
            )
        except Exception:
            logging.getLogger(__name__).exception("could not build the audit record of event %s", _clean(event))
            return False
        pending = self.batch() if self.batch is not None and event in STORE_CHANGES else None
        if pending is not None:
            pending.append((self.auditor, record))
            return True
        return self.auditor.emit(record)


def cleaned(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _clean(value) for key, value in fields.items() if value is not None}


_DEFAULT: CredentialsAudit | None = None


def emit(event: str, *, outcome: str, level: int = logging.INFO, **fields: Any) -> bool:
    """Record one event through the default (logging) auditor: for code that has no Credentials
    at hand. Components of a `Credentials` use the one it was built with."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = CredentialsAudit()
    return _DEFAULT.emit(event, outcome=outcome, level=level, **fields)
