"""Audit records: one line each, injection-proof, secret-free; sinks fail loudly but safely (LOG-01..04)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iamguard.audit import Auditor, AuditRecord, JsonLinesSink, LoggingSink, MemorySink
from iamguard.clock import FrozenClock
from iamguard.web import Guard, WebRequest, rule
from tests.web.stubs import TENANT, standard_authority

HOSTILE = [
    "alice\n2026-01-01 INFO user=admin allowed",
    "x\r\ny",
    "\u2028forged\u2029line",
    "\u202eevil\u202c",
    "\x1b[31mred\x1b[0m",
    "\x00nul",
    "<script>alert(1)</script>",
    "emoji \U0001f600 and caf\u00e9",
]
FORBIDDEN = ["\n", "\r", "\u2028", "\u2029", "\u202e", "\u202c", "\x1b", "\x00", "\u200f"]


def record(value: str) -> AuditRecord:
    return AuditRecord(time=datetime(2026, 1, 1, tzinfo=timezone.utc), request_id="r1", effect="Deny",
                       reason="implicit_deny", principal=value, action=value, resource=value, user_agent=value,
                       detail=value, route=value)


@pytest.mark.parametrize("value", HOSTILE)
def test_attacker_text_stays_on_one_escaped_line(value: str) -> None:
    line = record(value).to_json()
    assert line.isascii() and line.isprintable()
    assert not any(char in line for char in FORBIDDEN)
    decoded = json.loads(line)
    assert decoded["principal"] == value and decoded["user_agent"] == value  # escaped, not mangled


def test_record_fields_and_time_format() -> None:
    data = json.loads(record("alice").to_json())
    assert data["time"] == "2026-01-01T00:00:00.000Z"
    assert {"request_id", "principal", "action", "resource", "effect", "reason", "statements", "source_ip",
            "latency_ms", "session_id", "status"} <= data.keys()


def test_json_lines_sink_writes_one_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonLinesSink(path)
    for value in HOSTILE:
        sink.emit(record(value))
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(HOSTILE) + 1
    assert [json.loads(line)["principal"] for line in lines[:-1]] == HOSTILE


def test_logging_sink_uses_the_iamguard_audit_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="iamguard.audit"):
        LoggingSink().emit(record("alice\nforged"))
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "\n" not in message and json.loads(message)["principal"] == "alice\nforged"
    assert caplog.records[0].levelno == logging.WARNING  # denies are warnings, allows info


class Broken:
    def emit(self, record: AuditRecord) -> None:
        raise PermissionError("read-only file system")


def test_failing_sink_is_reported_with_the_record_and_others_still_get_it(caplog: pytest.LogCaptureFixture) -> None:
    memory = MemorySink()
    auditor = Auditor([Broken(), memory])
    with caplog.at_level(logging.ERROR, logger="iamguard.audit.failure"):
        delivered = auditor.emit(record("alice"))
    assert delivered is False and auditor.failures == 1
    assert len(memory.records) == 1
    assert "Broken" in caplog.text and '"principal":"alice"' in caplog.text


def test_guard_records_never_hold_tokens_or_cookies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    guard = Guard(standard_authority(), routes=[
        rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET", path="/orders/{order_id}")],
        audit=JsonLinesSink(path), clock=FrozenClock(), tenant=TENANT, cookie_name="sid")
    secret_token = "writer-mfa"
    for headers in ((("authorization", f"Bearer {secret_token}"),), (("cookie", f"sid={secret_token}"),),
                    (("authorization", "Bearer forged-secret-value"),)):
        guard.check_sync(WebRequest("GET", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                                    headers=(*headers, ("user-agent", "curl\n[INFO] forged")), client="192.0.2.1"))
    text = path.read_text()
    assert secret_token not in text and "forged-secret-value" not in text and "Bearer" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == 3
    assert records[0]["session_id"] == "jti-0002" and records[0]["effect"] == "Allow"
    assert records[2]["reason"] == "invalid_token" and records[2]["user_agent"] == "curl\n[INFO] forged"
    assert all(record["latency_ms"] is not None and record["latency_ms"] >= 0 for record in records)
