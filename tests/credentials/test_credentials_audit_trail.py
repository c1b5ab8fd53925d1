"""Credentials security events as structured audit records (spec LOG-01..04, MFA-01/LOG-02 replay)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from iamguard.audit import CREDENTIALS_EVENT, FAILURE_LOGGER, Auditor, AuditRecord, MemorySink
from iamguard.credentials import (
    AccessKeyCredentials,
    AuthenticationFailed,
    Credentials,
    InvalidAuthenticationCode,
    InvalidClientTokenId,
)
from iamguard.credentials import audit as credentials_audit
from iamguard.credentials.audit import CredentialsAudit, CredentialsLoggingSink
from tests.credentials.conftest import ALLOW_ALL, Env

PASSWORD = "correct horse battery staple 42!"


def audited(env: Env, sink: Any) -> Credentials:
    return Credentials(env.directory, clock=env.clock, audit=sink, **env.settings)


def events(sink: MemorySink) -> list[str]:
    return [str(record.extra.get("event")) for record in sink.records]


def printable_ascii_line(text: str) -> bool:
    return all(0x20 <= ord(char) <= 0x7E for char in text)


@pytest.fixture
def logged_lines() -> Iterator[io.StringIO]:
    """What a plain stdlib handler on the `iamguard.audit` logger writes: the message only."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("iamguard.audit")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def test_an_otp_replay_is_recorded_as_a_deny_without_the_code(env: Env) -> None:
    sink = MemorySink()
    creds = audited(env, sink)
    env.directory.create_user("alice")
    env.directory.put_user_policy("alice", "main", ALLOW_ALL)
    issued = creds.create_access_key("alice")
    key = AccessKeyCredentials(issued.access_key_id, issued.secret_access_key)
    device = env.enabled_device()
    code = env.code(device)
    creds.get_session_token(key, mfa_code=code)
    sink.clear()
    with pytest.raises(InvalidAuthenticationCode):
        creds.get_session_token(key, mfa_code=code)  # the same code again, within its window
    rejected = [record for record in sink.records if record.extra.get("event") == "mfa_code_rejected"]
    assert len(rejected) == 1
    record = rejected[0]
    assert (record.effect, record.reason, record.extra["outcome"]) == ("Deny", CREDENTIALS_EVENT, "failure")
    assert record.extra["reason"] == "otp_replay"
    assert record.extra["serial_number"] == device.serial_number
    assert record.extra["severity"] == "warning"
    line = record.to_json()
    assert code not in line and device.base32_seed not in line and issued.secret_access_key not in line


@pytest.mark.parametrize(("operation", "event", "effect"), [
    ("create_access_key", "access_key_created", "Allow"),
    ("deactivate_access_key", "access_key_status_changed", "Allow"),
    ("delete_access_key", "access_key_deleted", "Allow"),
    ("wrong_secret", "access_key_rejected", "Deny"),
    ("create_login_profile", "login_profile_created", "Allow"),
    ("wrong_password", "login_failed", "Deny"),
    ("login", "get_session_token", "Allow"),
    ("revoke_sessions", "sessions_revoked", "Allow"),
    ("revoke_session", "session_revoked", "Allow"),
])
def test_each_operation_leaves_its_event(mem_env: Env, operation: str, event: str, effect: str) -> None:
    sink = MemorySink()
    creds = audited(mem_env, sink)
    user = mem_env.directory.create_user("alice")
    mem_env.directory.put_user_policy("alice", "main", ALLOW_ALL)
    key = creds.create_access_key("alice")
    creds.create_login_profile("alice", PASSWORD)
    sink.clear()
    if operation == "create_access_key":
        creds.create_access_key("alice")
    elif operation == "deactivate_access_key":
        creds.update_access_key(key.access_key_id, "Inactive", "alice")
    elif operation == "delete_access_key":
        creds.delete_access_key(key.access_key_id, "alice")
    elif operation == "wrong_secret":
        with pytest.raises(InvalidClientTokenId):
            creds.authenticate_access_key(key.access_key_id, "x" * 40)
    elif operation == "create_login_profile":
        creds.delete_login_profile("alice")
        sink.clear()
        creds.create_login_profile("alice", PASSWORD)
    elif operation == "wrong_password":
        with pytest.raises(AuthenticationFailed):
            creds.login("alice", "not the password at all")
    elif operation == "login":
        creds.login("alice", PASSWORD)
    elif operation == "revoke_sessions":
        creds.revoke_sessions(user.arn)
    elif operation == "revoke_session":
        creds.revoke_session(creds.authenticate(creds.login("alice", PASSWORD).token))
    matching = [record for record in sink.records if record.extra.get("event") == event]
    assert matching, events(sink)
    record = matching[-1]
    assert record.effect == effect and record.reason == CREDENTIALS_EVENT
    assert record.extra["component"] == "credentials" and record.extra["tenant_id"] == mem_env.directory.tenant_id
    assert PASSWORD not in record.to_json() and key.secret_access_key not in record.to_json()


def test_a_session_record_names_the_session_by_jti_never_by_token(mem_env: Env) -> None:
    sink = MemorySink()
    creds = audited(mem_env, sink)
    mem_env.directory.create_user("alice")
    creds.create_login_profile("alice", PASSWORD)
    issued = creds.login("alice", PASSWORD)
    record = next(record for record in sink.records if record.session_id is not None)
    assert record.session_id == issued.jti
    assert record.principal == mem_env.directory.get_user("alice").arn
    assert issued.token not in record.to_json()


def test_one_auditor_keeps_mutations_and_credentials_events_in_one_trail(mem_env: Env) -> None:
    sink = MemorySink()
    auditor = Auditor(sink)
    directory = type(mem_env.directory)(mem_env.store, mem_env.directory.tenant_id, clock=mem_env.clock,
                                        audit=auditor)
    creds = Credentials(directory, clock=mem_env.clock, audit=auditor, **mem_env.settings)
    assert creds.auditor is auditor
    directory.create_user("bob")
    creds.create_access_key("bob")
    assert [(record.reason, record.detail) for record in sink.records] == [
        ("iam_mutation", "CreateUser success"),
        (CREDENTIALS_EVENT, "access_key_created success"),
    ]


HOSTILE = [
    "Guest\r\n[INFO] User: Admin",
    "line\u2028separator",
    "para\u2029separator",
    "\u202eevil\u202c",
    "\x1b[31mred\x1b[0m",
    "nul\x00byte",
    "next\x85line",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_on_one_escaped_line(value: str, logged_lines: io.StringIO) -> None:
    sink = MemorySink()
    CredentialsAudit(sink).emit("assume_role_denied", outcome="failure", session_name=value, principal_arn=value)
    CredentialsAudit().emit("assume_role_denied", outcome="failure", session_name=value)  # the logging default
    line = sink.records[0].to_json()
    assert printable_ascii_line(line)
    assert json.loads(line)["extra"]["session_name"] not in ("", None)
    written = logged_lines.getvalue()
    assert written.count("\n") == 1 and printable_ascii_line(written.rstrip("\n"))
    for unsafe in ("\r", "\n", "\u2028", "\u2029", "\u202e", "\x1b", "\x00", "\x85"):
        assert unsafe not in sink.records[0].extra["session_name"]


def test_long_values_are_clipped() -> None:
    sink = MemorySink()
    CredentialsAudit(sink).emit("assume_role_denied", outcome="failure", role_arn="a" * 5000)
    assert len(sink.records[0].extra["role_arn"]) == 256


def test_the_default_logging_path_keeps_the_details(mem_env: Env, logged_lines: io.StringIO) -> None:
    """The review's finding: a plain handler used to show only the event name."""
    mem_env.directory.create_user("carol")
    key = mem_env.creds.create_access_key("carol")  # the fixture's facade: no audit= given
    lines = [json.loads(line) for line in logged_lines.getvalue().splitlines()]
    created = [line for line in lines if line.get("extra", {}).get("event") == "access_key_created"]
    assert len(created) == 1
    assert created[0]["extra"]["access_key_id"] == key.access_key_id
    assert created[0]["extra"]["user_id"] == mem_env.directory.get_user("carol").user_id
    assert created[0]["reason"] == CREDENTIALS_EVENT
    assert key.secret_access_key not in logged_lines.getvalue()


def test_log_records_still_carry_the_details_mapping(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="iamguard.audit")
    credentials_audit.emit("trust_policy_unreadable", outcome="failure", level=logging.ERROR, role_arn="arn:x")
    (record,) = [record for record in caplog.records if record.name == "iamguard.audit"]
    assert record.levelno == logging.ERROR
    details: dict[str, Any] = record.__dict__["audit"]
    assert details["event"] == "trust_policy_unreadable" and details["role_arn"] == "arn:x"
    assert json.loads(record.getMessage())["extra"] == details


class BrokenSink:
    def emit(self, record: AuditRecord) -> None:
        raise OSError(28, "No space left on device")


def test_a_broken_sink_neither_breaks_authentication_nor_drops_the_record_silently(
        mem_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    creds = audited(mem_env, BrokenSink())
    mem_env.directory.create_user("dave")
    with caplog.at_level(logging.ERROR, logger=FAILURE_LOGGER):
        key = creds.create_access_key("dave")
        owner = creds.authenticate_access_key(key.access_key_id, key.secret_access_key)
    assert owner.user_name == "dave"
    reported = [record.getMessage() for record in caplog.records if record.name == FAILURE_LOGGER]
    assert any("access_key_created" in message and key.access_key_id in message for message in reported)
    assert all(key.secret_access_key not in message for message in reported)
    assert creds.auditor.failures >= 1


def test_emit_reports_whether_the_record_was_delivered() -> None:
    assert CredentialsAudit(MemorySink()).emit("login_failed", outcome="failure", user_id="AIDA1") is True
    assert CredentialsAudit(BrokenSink()).emit("login_failed", outcome="failure", user_id="AIDA1") is False


def test_the_default_sink_is_the_logging_one() -> None:
    (sink,) = CredentialsAudit().auditor.sinks
    assert isinstance(sink, CredentialsLoggingSink) and sink.logger.name == "iamguard.audit"
