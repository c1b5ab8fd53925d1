"""Red-team regressions for the audit sinks (spec LOG-01, LOG-04)."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iamguard.audit import FAILURE_LOGGER, Auditor, AuditRecord, JsonLinesSink

REPO = Path(__file__).resolve().parent.parent


def _record(request_id: str) -> AuditRecord:
    return AuditRecord(datetime(2026, 1, 1, tzinfo=timezone.utc), request_id, "Deny", "explicit_deny",
                       detail="d" * 200)


def _lines(path: Path) -> list[str]:
    return path.read_text("ascii").splitlines()


def _parsed_ids(path: Path) -> list[str]:
    """Request ids of the lines that are whole records; fragments are skipped."""
    ids = []
    for line in _lines(path):
        try:
            ids.append(json.loads(line)["request_id"])
        except ValueError:
            continue
    return ids


def _short_then(second: Callable[[int, bytes], int]) -> Callable[[int, bytes], int]:
    """An os.write whose first write of record req-2 stops halfway; the call after it is `second`."""
    real = os.write
    calls: list[bytes] = []

    def write(descriptor: int, data: bytes) -> int:
        calls.append(bytes(data))
        if len(calls) == 1 and b"req-2" in calls[0]:
            return real(descriptor, calls[0][: len(calls[0]) // 2])
        if len(calls) == 2:
            return second(descriptor, data)
        return real(descriptor, data)

    return write


def _disk_full(descriptor: int, data: bytes) -> int:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(("second", "delivered"), [
    ("disk full", False),  # the rest cannot be written: reported, not counted as delivered
    ("completes", True),  # the rest can (a pipe, an interrupted write): one whole line
])
def test_a_short_write_is_finished_or_reported_and_never_merges_two_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        second: str, delivered: bool) -> None:
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(JsonLinesSink(path))
    assert auditor.emit(_record("req-1"))
    real = os.write

    def complete(descriptor: int, data: bytes) -> int:
        return real(descriptor, data)

    monkeypatch.setattr(os, "write", _short_then(_disk_full if second == "disk full" else complete))
    with caplog.at_level(logging.ERROR, logger=FAILURE_LOGGER):
        assert auditor.emit(_record("req-2")) is delivered
    monkeypatch.setattr(os, "write", real)
    assert auditor.emit(_record("req-3"))
    reports = [entry.getMessage() for entry in caplog.records if entry.name == FAILURE_LOGGER]
    if delivered:
        assert _parsed_ids(path) == ["req-1", "req-2", "req-3"] and len(_lines(path)) == 3 and not reports
    else:
        # The fragment stays alone on its line; the record itself went to the failure logger.
        assert _parsed_ids(path) == ["req-1", "req-3"] and len(_lines(path)) == 3
        assert len(reports) == 1 and '"request_id":"req-2"' in reports[0]


def test_after_a_torn_line_a_rotated_file_starts_without_a_blank_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(JsonLinesSink(path))
    real = os.write
    monkeypatch.setattr(os, "write", _short_then(_disk_full))
    with caplog.at_level(logging.ERROR, logger=FAILURE_LOGGER):
        assert auditor.emit(_record("req-2")) is False
    monkeypatch.setattr(os, "write", real)
    path.rename(tmp_path / "audit.jsonl.1")  # logrotate
    assert auditor.emit(_record("req-3"))
    assert _lines(path) == [_record("req-3").to_json()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics of Linux")
def test_a_file_size_limit_mid_record_is_reported_and_the_next_record_stays_whole(tmp_path: Path) -> None:
    """The real thing, without a fake os.write: the kernel cuts a write at RLIMIT_FSIZE."""
    script = textwrap.dedent("""
        import json, os, resource, signal, sys, logging
        from datetime import datetime, timezone
        from iamguard.audit import Auditor, AuditRecord, JsonLinesSink
        logging.getLogger("iamguard.audit.failure").disabled = True
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        path = sys.argv[1]
        auditor = Auditor(JsonLinesSink(path))
        record = lambda rid: AuditRecord(datetime(2026, 1, 1, tzinfo=timezone.utc), rid, "Deny", "x",
                                         detail="d" * 200)
        results = [auditor.emit(record("req-1"))]
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 60, resource.RLIM_INFINITY))
        results.append(auditor.emit(record("req-2")))
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        results.append(auditor.emit(record("req-3")))
        print(json.dumps(results))
    """)
    path = tmp_path / "audit.jsonl"
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert json.loads(done.stdout) == [True, False, True]
    assert _parsed_ids(path) == ["req-1", "req-3"]
