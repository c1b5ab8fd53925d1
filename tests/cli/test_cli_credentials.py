"""Access keys, MFA devices and `sts` commands in-process, with a frozen clock (no sleeping)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pyotp
import pytest

from iamguard.cli import main
from iamguard.clock import FrozenClock
from iamguard.credentials import Credentials
from iamguard.credentials.errors import PasswordExpired
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore
from tests.cli.support import Outcome, run_main

TENANT = "123456789012"
KEY = base64.b64encode(bytes(range(32))).decode()


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], store: Path, clock: FrozenClock) -> None:
        self.capsys = capsys
        self.store = store
        self.clock = clock
        self.env = {"IAMGUARD_STORE": str(store), "IAMGUARD_DATA_KEY": KEY, "IAMGUARD_PEPPER": KEY}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        return run_main(self.capsys, *args, stdin=stdin, env={**self.env, **(env or {})}, clock=self.clock)

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        outcome = self(*args, stdin=stdin, env=env)
        assert outcome.code == 0, outcome.err
        return outcome

    def credentials(self) -> tuple[SQLiteStore, Credentials]:
        store = SQLiteStore(self.store)
        directory = Directory(store, TENANT, clock=self.clock, cache_ttl=0)
        return store, Credentials(directory, clock=self.clock, data_key=bytes(range(32)), pepper=bytes(range(32)))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    tool = Cli(capsys, tmp_path / "iamguard.db", FrozenClock())
    tool.ok("init", "--tenant-id", TENANT)
    tool.ok("iam", "create-user", "--user-name", "alice")
    return tool


def test_access_keys_lifecycle_and_the_secret_shown_once(cli: Cli) -> None:
    created = cli.ok("iam", "create-access-key", "--user-name", "alice", "--output", "json").json()["AccessKey"]
    key_id, secret = created["AccessKeyId"], created["SecretAccessKey"]
    listed = cli.ok("iam", "list-access-keys", "--user-name", "alice", "--output", "json")
    assert [key["AccessKeyId"] for key in listed.json()["AccessKeyMetadata"]] == [key_id]
    assert secret not in listed.out
    table = cli.ok("iam", "create-access-key", "--user-name", "alice")
    assert "SecretAccessKey" in table.out and "shown only this once" in table.out
    limit = cli("iam", "create-access-key", "--user-name", "alice")
    assert limit.code == 2 and "LimitExceeded" in limit.err
    cli.ok("iam", "update-access-key", "--access-key-id", key_id, "--status", "Inactive", "--user-name", "alice")
    store, credentials = cli.credentials()
    try:
        assert {key.access_key_id: key.status for key in credentials.list_access_keys("alice")}[key_id] == "Inactive"
    finally:
        store.database.close()
    wrong_owner = cli("iam", "delete-access-key", "--access-key-id", key_id, "--user-name", "admin")
    assert wrong_owner.code == 2
    cli.ok("iam", "delete-access-key", "--access-key-id", key_id)
    last_used = cli("iam", "get-access-key-last-used", "--access-key-id", key_id)
    assert last_used.code == 2 and "NoSuchEntity" in last_used.err


def _device(cli: Cli, *extra: str) -> dict[str, Any]:
    outcome = cli.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                     "phone", "--output", "json", *extra)
    device: dict[str, Any] = outcome.json()["VirtualMFADevice"]
    return device


def test_mfa_enrolment_deactivation_and_replay(cli: Cli) -> None:
    device = _device(cli)
    serial, totp = device["SerialNumber"], pyotp.TOTP(device["Base32Seed"])
    assert serial == f"arn:aws:iam::{TENANT}:mfa/phone"
    assert device["ProvisioningUri"] == totp.provisioning_uri(name="alice", issuer_name="iamguard")
    now = cli.clock.time()
    bad = cli("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", serial,
              "--authentication-code1", "000000", "--authentication-code2", "111111")
    assert bad.code == 2 and "InvalidAuthenticationCode" in bad.err
    cli.ok("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", serial,
           "--authentication-code1", totp.at(now - 30), "--authentication-code2", totp.at(now))
    listed = cli.ok("iam", "list-mfa-devices", "--user-name", "alice", "--output", "json").json()["MFADevices"]
    assert [(d["SerialNumber"], d["Enabled"]) for d in listed] == [(serial, True)]
    replay = cli("iam", "deactivate-mfa-device", "--user-name", "alice", "--serial-number", serial,
                 "--authentication-code", totp.at(now))
    assert replay.code == 2  # the enrolment code cannot be used again
    cli.clock.advance(60)
    cli.ok("iam", "deactivate-mfa-device", "--user-name", "alice", "--serial-number", serial,
           "--authentication-code", totp.at(cli.clock.time()))
    cli.ok("iam", "delete-virtual-mfa-device", "--serial-number", serial)
    store, credentials = cli.credentials()
    try:
        assert credentials.list_mfa_devices("alice") == ()
    finally:
        store.database.close()


def test_create_virtual_mfa_device_draws_a_qr_code_on_request(cli: Cli) -> None:
    shown = cli.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                   "phone", "--qr")
    assert "otpauth://totp/iamguard:alice?secret=" in shown.out
    assert "\u2588" * 20 in shown.out and "\u2584" in shown.out
    plain = cli.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                   "tablet")
    assert "\u2588" not in plain.out


def test_session_tokens_with_mfa_expiry_and_secret_sources(cli: Cli) -> None:
    key = cli.ok("iam", "create-access-key", "--user-name", "alice", "--output", "json").json()["AccessKey"]
    device = _device(cli)
    totp = pyotp.TOTP(device["Base32Seed"])
    now = cli.clock.time()
    cli.ok("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", device["SerialNumber"],
           "--authentication-code1", totp.at(now - 30), "--authentication-code2", totp.at(now))
    cli.clock.advance(30)
    env = {"IAMGUARD_ACCESS_KEY_ID": key["AccessKeyId"], "IAMGUARD_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    issued = cli.ok("sts", "get-session-token", "--token-code", totp.at(cli.clock.time()),
                    "--duration-seconds", "900", "--output", "json", env=env).json()
    token = issued["Credentials"]["SessionToken"]
    store, credentials = cli.credentials()
    try:
        session = credentials.authenticate(token)
        assert session.principal_arn == f"arn:aws:iam::{TENANT}:user/alice"
        assert session.mfa_authenticated_at is not None
    finally:
        store.database.close()
    cli.clock.advance(901 + 60)
    expired = cli("sts", "get-caller-identity", env={"IAMGUARD_SESSION_TOKEN": token})
    assert expired.code == 2 and "ExpiredToken" in expired.err
    from_stdin = cli("sts", "get-session-token", "--access-key-id", key["AccessKeyId"],
                     stdin=key["SecretAccessKey"] + "\n")
    assert from_stdin.code == 0 and "SessionToken" in from_stdin.out
    no_key = cli("sts", "get-session-token")
    assert no_key.code == 2 and "--access-key-id" in no_key.err


def test_assume_role_with_session_policy_and_tags(cli: Cli, tmp_path: Path) -> None:
    key = cli.ok("iam", "create-access-key", "--user-name", "alice", "--output", "json").json()["AccessKey"]
    trust = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
             f'"arn:aws:iam::{TENANT}:user/alice"}}, "Action": ["sts:AssumeRole", "sts:TagSession"]}}]}}')
    cli.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document", trust)
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "orders:Get*", "Resource": "*"}]}'
    cli.ok("iam", "put-user-policy", "--user-name", "alice", "--policy-name", "Assume", "--policy-document",
           '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}')
    env = {"IAMGUARD_ACCESS_KEY_ID": key["AccessKeyId"], "IAMGUARD_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    assumed = cli.ok("sts", "assume-role", "--role-arn", f"arn:aws:iam::{TENANT}:role/worker",
                     "--role-session-name", "job-1", "--policy", policy, "--tags", "project=alpha",
                     "--output", "json", env=env).json()
    store, credentials = cli.credentials()
    try:
        session = credentials.authenticate(assumed["Credentials"]["SessionToken"])
        assert session.role_session_name == "job-1"
        assert dict(session.session_tags) == {"project": "alpha"}
        assert len(session.session_policies) == 1
    finally:
        store.database.close()


@pytest.mark.parametrize("value", ["short", base64.b64encode(b"x" * 31).decode(), "z" * 64])
def test_bad_key_settings_are_one_line_without_the_value(cli: Cli, value: str) -> None:
    outcome = cli("iam", "create-access-key", "--user-name", "alice", env={"IAMGUARD_DATA_KEY": value})
    assert outcome.code == 2 and "$IAMGUARD_DATA_KEY must be 32 bytes" in outcome.err and value not in outcome.err


@pytest.mark.parametrize("args", [
    ["iam", "create-login-profile", "--user-name", "nobody"],
    ["iam", "update-login-profile", "--user-name", "alice", "--set-password"],  # alice has no password yet
])
def test_password_commands_report_a_missing_user_or_profile_before_reading_stdin(
        cli: Cli, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    stdin = io.BytesIO(b"Some-password-1\n")
    capsys.readouterr()
    code = main(args, stdin=stdin, environ=cli.env, clock=cli.clock)
    assert code == 2 and "NoSuchEntity" in capsys.readouterr().err
    assert stdin.tell() == 0


def test_password_expiry_follows_the_policy_and_the_clock(cli: Cli) -> None:
    cli.ok("iam", "update-account-password-policy", "--max-password-age", "30")
    cli.ok("iam", "create-login-profile", "--user-name", "alice", env={"IAMGUARD_PASSWORD": "Some-password-1"})
    store, credentials = cli.credentials()
    try:
        assert credentials.check_password("alice", "Some-password-1").user_name == "alice"
        cli.clock.advance(31 * 86400)
        with pytest.raises(PasswordExpired, match="older than 30 days"):
            credentials.check_password("alice", "Some-password-1")
    finally:
        store.database.close()
