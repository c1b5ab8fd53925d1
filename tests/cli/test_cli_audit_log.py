"""`--audit-log FILE` / $IAMGUARD_AUDIT_LOG: every IAM change and credentials event of a command as
one JSON line (spec LOG-01, LOG-02, LOG-04), with a frozen clock and in-process runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyotp
import pytest

from iamguard.audit import CREDENTIALS_EVENT, IAM_MUTATION, AuditRecord, JsonLinesSink
from iamguard.clock import FrozenClock
from tests.cli.support import Outcome, run_main, run_process

TENANT = "123456789012"
KEY = base64.b64encode(bytes(range(32))).decode()


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        self.capsys = capsys
        self.log = tmp_path / "audit.jsonl"
        self.clock = FrozenClock()
        self.env = {"IAMGUARD_STORE": str(tmp_path / "iamguard.db"), "IAMGUARD_DATA_KEY": KEY,
                    "IAMGUARD_PEPPER": KEY}

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Outcome:
        return run_main(self.capsys, *args, env={**self.env, **(env or {})}, clock=self.clock)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Outcome:
        outcome = self(*args, env=env)
        assert outcome.code == 0, outcome.err
        return outcome

    def audited(self, *args: str) -> Outcome:
        return self.ok("--audit-log", str(self.log), *args)

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.read_text(encoding="ascii") if self.log.exists() else ""
        assert all(0x20 <= ord(char) <= 0x7E for char in text.replace("\n", ""))  # LOG-01
        return [json.loads(line) for line in text.splitlines()]

    def users(self) -> list[str]:
        listed = self.ok("iam", "list-users", "--output", "json").json()["Users"]
        return [user["UserName"] for user in listed]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    tool = Cli(capsys, tmp_path)
    tool.ok("init", "--tenant-id", TENANT)
    return tool


def what(lines: list[dict[str, Any]]) -> list[str]:
    return [line["action"] if line["reason"] == IAM_MUTATION else line["extra"]["event"] for line in lines]


def test_init_records_every_change_and_never_the_secret(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tool = Cli(capsys, tmp_path)
    outcome = tool.ok("init", "--tenant-id", TENANT, "--output", "json", env={"IAMGUARD_AUDIT_LOG": str(tool.log)})
    secret = outcome.json()["AccessKey"]["SecretAccessKey"]
    lines = tool.lines()
    # Every record, the key's included, goes out when init's one transaction commits, in the order
    # of the changes.
    assert what(lines) == ["iam:CreateTenant", "iam:CreatePolicy", "iam:CreateUser", "iam:AttachUserPolicy",
                           "access_key_created"]
    assert lines[-1]["extra"]["access_key_id"] == outcome.json()["AccessKey"]["AccessKeyId"]
    assert lines[-1]["extra"]["tenant_id"] == TENANT
    assert secret not in tool.log.read_text()


@pytest.mark.parametrize("placement", ["before", "after"])
def test_the_option_may_come_before_or_after_the_command(cli: Cli, placement: str) -> None:
    option = ["--audit-log", str(cli.log)]
    command = ["iam", "create-user", "--user-name", "alice"]
    cli.ok(*(option + command if placement == "before" else command + option))
    (line,) = cli.lines()
    assert (line["action"], line["reason"], line["effect"]) == ("iam:CreateUser", IAM_MUTATION, "Allow")
    assert line["resource"] == f"arn:aws:iam::{TENANT}:user/alice"


def test_records_are_appended_across_commands_and_reads_leave_none(cli: Cli) -> None:
    cli.audited("iam", "create-user", "--user-name", "alice")
    cli.audited("iam", "list-users")
    cli.audited("iam", "create-access-key", "--user-name", "alice")
    assert what(cli.lines()) == ["iam:CreateUser", "access_key_created"]


def test_without_the_option_no_file_is_written(cli: Cli, tmp_path: Path) -> None:
    before = sorted(path.name for path in tmp_path.iterdir())
    cli.ok("iam", "create-user", "--user-name", "alice")
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert not cli.log.exists()


@pytest.mark.parametrize("where", ["a directory", "a missing directory"])
def test_an_unwritable_log_stops_the_command_before_any_change(cli: Cli, tmp_path: Path, where: str) -> None:
    target = tmp_path if where == "a directory" else tmp_path / "missing" / "audit.jsonl"
    outcome = cli("--audit-log", str(target), "iam", "create-user", "--user-name", "alice")
    assert outcome.code == 2 and outcome.out == ""
    assert outcome.err.count("\n") == 1 and "--audit-log" in outcome.err and "nothing was changed" in outcome.err
    assert "alice" not in cli.users()


def test_an_unwritable_log_also_stops_credential_operations(cli: Cli, tmp_path: Path) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    outcome = cli("iam", "create-access-key", "--user-name", "alice", env={"IAMGUARD_AUDIT_LOG": str(tmp_path)})
    assert outcome.code == 2 and "SecretAccessKey" not in outcome.out
    listed = cli.ok("iam", "list-access-keys", "--user-name", "alice", "--output", "json").json()
    assert listed["AccessKeyMetadata"] == []


def _failing_writes(monkeypatch: pytest.MonkeyPatch, only: str | None = None) -> None:
    """The log was writable when the command started, then writes fail (a full disk)."""
    original = JsonLinesSink.emit

    def emit(self: JsonLinesSink, record: AuditRecord) -> None:
        if only is None or record.reason == only:
            raise OSError(28, "No space left on device")
        original(self, record)

    monkeypatch.setattr(JsonLinesSink, "emit", emit)


def test_a_mutation_whose_record_cannot_be_written_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_writes(monkeypatch)
    outcome = cli("--audit-log", str(cli.log), "iam", "create-user", "--user-name", "alice")
    monkeypatch.undo()
    assert outcome.code == 2 and outcome.out == ""
    assert outcome.err == (f"iamguard: error: --audit-log {cli.log}: could not append an audit record (No space "
                           "left on device); the change was refused and nothing was stored\n")
    assert "alice" not in cli.users()


def test_a_credentials_event_that_cannot_be_written_fails_the_command_after_its_output(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    _failing_writes(monkeypatch, only=CREDENTIALS_EVENT)
    outcome = cli("--audit-log", str(cli.log), "iam", "create-access-key", "--user-name", "alice", "--output", "json")
    monkeypatch.undo()
    assert outcome.code == 2
    assert outcome.json()["AccessKey"]["SecretAccessKey"]  # the secret is shown once: not lost to the failure
    assert outcome.err.count("\n") == 1 and "missing from it" in outcome.err and "No space left" in outcome.err


def test_an_otp_replay_is_in_the_audit_log(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    device = cli.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                    "phone", "--output", "json").json()["VirtualMFADevice"]
    serial, totp = device["SerialNumber"], pyotp.TOTP(device["Base32Seed"])
    now = cli.clock.time()
    cli.audited("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", serial,
                "--authentication-code1", totp.at(now - 30), "--authentication-code2", totp.at(now))
    replay = cli("--audit-log", str(cli.log), "iam", "deactivate-mfa-device", "--user-name", "alice",
                 "--serial-number", serial, "--authentication-code", totp.at(now))
    assert replay.code == 2
    lines = cli.lines()
    assert what(lines) == ["mfa_device_enabled", "mfa_code_rejected"]
    rejected = lines[-1]
    assert rejected["effect"] == "Deny" and rejected["extra"]["reason"] == "otp_replay"
    assert rejected["extra"]["serial_number"] == serial
    text = cli.log.read_text()
    assert totp.at(now) not in text and totp.at(now - 30) not in text and device["Base32Seed"] not in text


def test_the_installed_program_writes_the_log_and_keeps_stderr_clean(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    env = {"IAMGUARD_STORE": str(tmp_path / "iamguard.db"), "IAMGUARD_AUDIT_LOG": str(log)}
    outcome = run_process("init", "--tenant-id", TENANT, env=env)
    assert outcome.code == 0, outcome.err
    assert "iam_mutation" not in outcome.err and "credentials_event" not in outcome.err
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["reason"] for line in lines] == [IAM_MUTATION] * 4 + [CREDENTIALS_EVENT]  # all at the commit
    assert log.stat().st_mode & 0o077 == 0  # created readable by its owner only


def test_commands_that_change_nothing_never_open_the_audit_log(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                      '"Resource": "*"}]}')
    log = tmp_path / "never.jsonl"
    checked = run_main(capsys, "validate", f"file://{policy}", env={"IAMGUARD_AUDIT_LOG": str(log)})
    assert checked.code == 0, checked.err
    assert not log.exists()
    unwritable = run_main(capsys, "validate", f"file://{policy}",
                          env={"IAMGUARD_AUDIT_LOG": str(tmp_path / "missing-dir" / "a.jsonl")})
    assert unwritable.code == 0, unwritable.err
