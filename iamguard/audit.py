"""Audit records for authorization decisions, and the sinks that store them.

Every decision the web layer makes (allows, denies, malformed requests, errors) becomes one
`AuditRecord`. A record is rendered as exactly one line of JSON: `json.dumps(ensure_ascii=True)`
escapes every control character, U+2028/U+2029, bidi controls and all other non-ASCII text, so a
value chosen by a client (a path parameter, a user agent, a session name) can never start a new
line or disguise itself in a log viewer (spec LOG-01).

Records never hold secrets: no token, no Authorization or Cookie header, no TOTP code; a session
is named by its token id (`jti`) only (spec LOG-03).

Sinks implement `AuditSink.emit(record)`. `Auditor` fans a record out to its sinks; a sink that
raises never crashes request handling, and its failure is reported on the `iamguard.audit.failure`
logger together with the record itself, so nothing is dropped silently (spec LOG-04). The caller
learns about the failure from `Auditor.emit`'s return value and decides what to do (the web guard
refuses an allowed request it could not audit).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

AUDIT_LOGGER = "iamguard.audit"
FAILURE_LOGGER = "iamguard.audit.failure"

# Reason codes. Allows carry "allowed" or "public"; every deny carries one of the others.
ALLOWED = "allowed"
PUBLIC = "public"
IMPLICIT_DENY = "implicit_deny"
EXPLICIT_DENY = "explicit_deny"
MFA_REQUIRED = "mfa_required"
MISSING_CREDENTIALS = "missing_credentials"
INVALID_TOKEN = "invalid_token"
INVALID_REQUEST = "invalid_request"
MALFORMED_REQUEST = "malformed_request"
METHOD_NOT_ALLOWED = "method_not_allowed"
UNMAPPED_ROUTE = "unmapped_route"
MAPPING_CONFLICT = "mapping_conflict"
INVALID_PATH_PARAMETER = "invalid_path_parameter"
UNKNOWN_PRINCIPAL = "unknown_principal"
CSRF_FAILED = "csrf_failed"
STORE_UNAVAILABLE = "store_unavailable"
POLICY_LOAD_ERROR = "policy_load_error"
EVALUATION_ERROR = "evaluation_error"
CONTEXT_ERROR = "context_error"
AUTHENTICATION_ERROR = "authentication_error"
AUDIT_UNAVAILABLE = "audit_unavailable"
TIMEOUT = "timeout"
INTERNAL_ERROR = "internal_error"
PREFLIGHT = "preflight"
THROTTLED = "throttled"  # the token endpoints' per-source limit (spec KEY-03)


@dataclass(frozen=True)
class AuditRecord:
    """One authorization decision. Field values are plain data; rendering escapes them."""

    time: datetime
    request_id: str
    effect: str  # "Allow" or "Deny"
    reason: str
    status: int | None = None  # the HTTP status the client got (None: the handler answered)
    principal: str | None = None
    session_id: str | None = None  # the token's jti, never the token
    action: str | None = None
    resource: str | None = None
    statements: tuple[str, ...] = ()
    method: str | None = None
    route: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    latency_ms: float | None = None
    detail: str | None = None  # a short, secret-free description for operators
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "time": _utc_text(self.time),
            "request_id": self.request_id,
            "effect": self.effect,
            "reason": self.reason,
            "status": self.status,
            "principal": self.principal,
            "session_id": self.session_id,
            "action": self.action,
            "resource": self.resource,
            "statements": list(self.statements),
            "method": self.method,
            "route": self.route,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "detail": self.detail,
        }
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    def to_json(self) -> str:
        """One line of JSON with only printable ASCII in it."""
        return json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"), default=str,
                          allow_nan=False)


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@runtime_checkable
class AuditSink(Protocol):
    def emit(self, record: AuditRecord) -> None:
        """Store one record. May raise; the Auditor reports the failure."""
        ...


class LoggingSink:
    """Writes each record as one JSON line to a stdlib logger (default `iamguard.audit`).

    The message is the JSON text itself, so any handler or formatter keeps one record per line.
    """

    def __init__(self, logger: logging.Logger | str = AUDIT_LOGGER, level: int = logging.INFO,
                 deny_level: int = logging.WARNING) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self.deny_level = deny_level

    def wants(self, effect: str) -> bool:
        """False when the logger would discard records of this effect: the caller may then skip
        building them (the hot path of an allowed request with INFO logging off)."""
        return self.logger.isEnabledFor(self.level if effect == "Allow" else self.deny_level)

    def emit(self, record: AuditRecord) -> None:
        level = self.level if record.effect == "Allow" else self.deny_level
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", record.to_json())


class JsonLinesSink:
    """Appends each record as one line to a file. Thread-safe within a process; each record is
    written with a single `write` call on a file opened in append mode, so lines from several
    processes do not interleave for records of ordinary size.

    A write the system cut short (a full disk, a file size limit) is finished or, when that fails
    too, raised, so the Auditor reports the record instead of counting a torn line as delivered;
    the next record then starts on a new line rather than continuing the fragment (LOG-01/04)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._torn = False  # a failed write left an unfinished line at the end of the file

    def emit(self, record: AuditRecord) -> None:
        line = (record.to_json() + "\n").encode("ascii")
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if self._torn:
                    status = os.fstat(descriptor)  # an empty regular file was rotated since
                    if status.st_size or not stat.S_ISREG(status.st_mode):
                        line = b"\n" + line
                self._write_all(descriptor, line)
                if self.fsync:
                    os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def _write_all(self, descriptor: int, line: bytes) -> None:
        written = os.write(descriptor, line)
        while written < len(line):
            self._torn = True  # until the rest is written; raising leaves it set
            more = os.write(descriptor, line[written:])
            if more <= 0:
                raise OSError(errno.EIO, f"could not finish an audit line in {self.path}")
            written += more
        self._torn = False


class MemorySink:
    """Keeps records in a list: for tests and for apps that ship records themselves."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


class Auditor:
    """Sends each record to every sink. Never raises: a failing sink is reported on the
    `iamguard.audit.failure` logger with the record attached, and `emit` returns False."""

    def __init__(self, sinks: Iterable[AuditSink] | AuditSink | None = None) -> None:
        if sinks is None:
            sinks = [LoggingSink()]
        elif isinstance(sinks, AuditSink):
            sinks = [sinks]
        self.sinks: tuple[AuditSink, ...] = tuple(sinks)
        # Each sink's `wants` (None: it keeps everything), looked up once per `sinks` tuple: the
        # guard asks on every request.
        self._wants_of: tuple[tuple[AuditSink, ...], tuple[Any, ...]] = ((), ())
        self.failures = 0
        self._failure_logger = logging.getLogger(FAILURE_LOGGER)

    def wants(self, effect: str) -> bool:
        """Whether any sink keeps records of this effect ("Allow" or "Deny"). Sinks without a
        `wants` method keep everything."""
        sinks, found = self._wants_of
        if sinks is not self.sinks:
            found = tuple(getattr(sink, "wants", None) for sink in self.sinks)
            self._wants_of = (self.sinks, found)
        for wants in found:
            if wants is None or wants(effect):
                return True
        return False

    def emit(self, record: AuditRecord) -> bool:
        delivered = True
        for sink in self.sinks:
            try:
                sink.emit(record)
            except Exception as exc:  # a broken sink must not break request handling
                delivered = False
                self.failures += 1
                self._report(sink, exc, record)
        return delivered

    def _report(self, sink: AuditSink, exc: Exception, record: AuditRecord) -> None:
        try:
            rendered = record.to_json()
        except Exception:  # the record itself cannot be JSON (a NaN or a tuple key in `extra`): still report it
            rendered = json.dumps(repr(record), ensure_ascii=True)
        with contextlib.suppress(Exception):  # the last resort must not raise either
            self._failure_logger.error(
                "audit sink %s failed (%s); undelivered record: %s",
                type(sink).__name__, type(exc).__name__, rendered,
            )


def as_auditor(audit: Auditor | AuditSink | Iterable[AuditSink] | None) -> Auditor:
    if isinstance(audit, Auditor):
        return audit
    return Auditor(audit)


# IAM mutations of the identity directory (spec LOG-02: "every IAM mutation with before/after
# identifiers"). They travel as ordinary AuditRecords, so every sink (and any sink an application
# wrote for AuditRecord) stores them unchanged; what is specific to a mutation sits in `extra`.
IAM_MUTATION = "iam_mutation"
MUTATION_SUCCEEDED = "success"
MUTATION_ROLLED_BACK = "rolled_back"  # emitted after a "success" record whose transaction then failed


def mutation_record(
    *,
    time: datetime,
    request_id: str,
    event: str,
    tenant: str | None,
    target: Mapping[str, Any],
    changes: Iterable[Mapping[str, Any]] = (),
    resources: Iterable[Mapping[str, Any]] = (),
    outcome: str = MUTATION_SUCCEEDED,
    principal: str | None = None,
    summary: Mapping[str, int] | None = None,
    transaction_id: str | None = None,
) -> AuditRecord:
    """The record of one IAM mutation.

    `event` is the IAM API name (CreateUser, AttachRolePolicy, ...): `action` becomes
    "iam:<event>" and `resource` the target's ARN. `target` and each of `resources` identify an
    entity ({"kind", "name", "arn", "id"}); each change carries "op", "kind" and "before"/"after"
    identifiers. Callers pass identifiers and content digests only, never a document or a secret.
    `summary` replaces the per-change list when a mutation changed too much to list (an import).
    """
    extra: dict[str, Any] = {
        "component": "directory",
        "event": event,
        "outcome": outcome,
        "tenant": tenant,
        "target": dict(target),
        "resources": [dict(item) for item in resources],
        "changes": [dict(item) for item in changes],
    }
    if summary is not None:
        extra["summary"] = dict(summary)
    if transaction_id is not None:
        extra["transaction_id"] = transaction_id
    arn = target.get("arn")
    return AuditRecord(
        time=time,
        request_id=request_id,
        effect="Allow",
        reason=IAM_MUTATION,
        principal=principal,
        action=f"iam:{event}",
        resource=arn if isinstance(arn, str) else None,
        detail=f"{event} {outcome}",
        extra=extra,
    )


# Security events of the credentials component (logins, lockouts, MFA, access keys, sessions):
# spec LOG-02, including OTP replay attempts (ASVS 2.8.5). Like mutations they are ordinary
# AuditRecords, so one Auditor can keep the web decisions, the directory's mutations and the
# credentials events in one trail; what is specific to the event sits in `extra`.
CREDENTIALS_EVENT = "credentials_event"
EVENT_FAILED = "failure"  # the record is a Deny: a refused login, code, key or role assumption

AuditOption = Auditor | AuditSink | Iterable[AuditSink] | None


def credentials_record(
    *,
    time: datetime,
    request_id: str,
    event: str,
    outcome: str,
    fields: Mapping[str, Any],
    severity: str = "info",
) -> AuditRecord:
    """The record of one credentials event.

    `fields` are identifiers only (tenant_id, user_id, access_key_id, serial_number, jti,
    principal_arn, reason, counts): never a password, secret, seed, code or token. They land in
    `extra` next to "component", "event", "outcome" and "severity" (the logging level name, in
    lower case); a `principal_arn` also fills `principal`, and a `jti` fills `session_id`.
    """
    extra: dict[str, Any] = {"component": "credentials", "event": event, "outcome": outcome,
                             "severity": severity}
    extra.update(fields)
    principal = fields.get("principal_arn")
    jti = fields.get("jti")
    return AuditRecord(
        time=time,
        request_id=request_id,
        effect="Deny" if outcome == EVENT_FAILED else "Allow",
        reason=CREDENTIALS_EVENT,
        principal=principal if isinstance(principal, str) else None,
        session_id=jti if isinstance(jti, str) else None,
        detail=f"{event} {outcome}",
        extra=extra,
    )
