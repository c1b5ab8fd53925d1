"""Regression tests from the red-team review of the command line: races, escaping, clear errors and
secrets kept out of messages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from iamguard.cli import simulate, store_commands
from iamguard.directory import Directory
from tests.cli.support import TENANT, Cli, initialised_cli, one_error_line, run_main

V2012 = "2012-10-17"
# IAM's policy character set includes U+0080..U+00FF, so C1 controls (U+009B is CSI on some terminals)
# can be stored in policy values by anyone allowed to write policies.
C1_POLICY = {"Version": V2012, "Statement": [{
    "Sid": "C1", "Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:app:orders:::\u009b2J\u0085x",
    "Condition": {"StringEquals": {"aws:username": "x\u009b31m\u00ady"}}}]}
TERMINAL_CONTROLS = ("\u0085", "\u009b", "\u00ad", "\u2028", "\u2029", "\u202e")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return initialised_cli(capsys, tmp_path)


# --- init: the "already initialised" check and the tenant it creates are one transaction ------------

def test_init_checks_for_a_tenant_while_holding_the_write_lock(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `init` runs at once used to both find the store empty and leave it with two tenants. Here a
    second writer tries to start at the moment the first checks: it must find the store locked."""
    path = tmp_path / "iamguard.db"
    run_main(capsys, "init", "--tenant-id", "111111111111", env={"IAMGUARD_STORE": str(path)})
    other_writer_started: list[bool] = []
    list_tenants = Directory.list_tenants

    def checking(store: Any) -> Any:
        rival = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            rival.execute("BEGIN IMMEDIATE")
            rival.execute("ROLLBACK")
            other_writer_started.append(True)
        except sqlite3.OperationalError:
            other_writer_started.append(False)
        finally:
            rival.close()
        return list_tenants(store)

    monkeypatch.setattr(store_commands.Directory, "list_tenants", staticmethod(checking))
    outcome = run_main(capsys, "init", env={"IAMGUARD_STORE": str(path)})
    assert outcome.code == 2 and "already initialised (tenant 111111111111)" in outcome.err
    assert other_writer_started == [False]


# --- --output json: terminal controls from stored policies are escaped, the JSON unchanged ----------

@pytest.mark.parametrize("command", [
    ("iam", "get-policy-version", "--policy-arn", f"arn:aws:iam::{TENANT}:policy/C1", "--version-id", "v1",
     "--output", "json"),
    ("iam", "get-account-authorization-details", "--output", "json"),
    ("iam", "create-policy-version", "--policy-arn", f"arn:aws:iam::{TENANT}:policy/C1", "--policy-document",
     json.dumps(C1_POLICY), "--output", "json"),
])
def test_json_output_escapes_terminal_controls_in_stored_policies(cli: Cli, command: tuple[str, ...]) -> None:
    cli.ok("iam", "create-policy", "--policy-name", "C1", "--policy-document", json.dumps(C1_POLICY))
    outcome = cli.ok(*command)
    assert not any(char in outcome.out for char in TERMINAL_CONTROLS), outcome.out
    assert "\\u009b" in outcome.out
    assert C1_POLICY in _documents(outcome.json())


def _documents(data: Any) -> list[Any]:
    """Every policy document (as an object) anywhere in a command's JSON output."""
    found: list[Any] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "Document" and isinstance(value, dict):
                found.append(value)
            else:
                found.extend(_documents(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_documents(item))
    return found


@pytest.mark.parametrize("value", ["a\u2028b", "a\u202eb", "a\u009bb", "a\U000e0041b"])
def test_simulate_json_escapes_controls_from_the_context(capsys: pytest.CaptureFixture[str], value: str) -> None:
    policy = json.dumps({"Version": V2012, "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
         "Condition": {"StringEquals": {"app:note": "ok"}}}]})
    outcome = run_main(capsys, "simulate", "--policy", policy, "--action", f"orders:Get{value}",
                       "--context", f"app:note={value}", "--output", "json")
    assert outcome.code == 1
    assert value not in outcome.out and value[1] not in outcome.out
    (record,) = json.loads(outcome.out)
    assert record["action"] == f"orders:Get{value}"


def test_export_escapes_terminal_controls_and_imports_back(cli: Cli, tmp_path: Path) -> None:
    cli.ok("iam", "create-policy", "--policy-name", "C1", "--policy-document", json.dumps(C1_POLICY))
    policy = json.dumps({"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]})
    cli.ok("iam", "create-policy", "--policy-name", "Plain", "--policy-document", policy,
           "--description", "caf\u00e9 d\u00e9j\u00e0")
    exported = cli.ok("export")
    assert not any(char in exported.out for char in TERMINAL_CONTROLS)
    assert "caf\u00e9" in exported.out  # readable letters stay as they are
    copy = tmp_path / "copy.db"
    cli.ok("import", "-", "--store", str(copy), stdin=exported.out)
    again = cli.ok("export", "--store", str(copy))
    assert again.json() == exported.json()


# --- clear one-line errors ------------------------------------------------------------------------

def test_assume_role_session_policy_that_is_not_utf8_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    key = cli.ok("iam", "create-access-key", "--user-name", "admin", "--output", "json").json()["AccessKey"]
    trust = json.dumps({"Version": V2012, "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TENANT}:root"}, "Action": "sts:AssumeRole"}]})
    cli.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document", trust)
    latin1 = tmp_path / "session.json"
    latin1.write_bytes(b'{"Version": "2012-10-17", "Statement": [{"Sid": "caf\xe9"}]}')
    env = {"IAMGUARD_ACCESS_KEY_ID": key["AccessKeyId"], "IAMGUARD_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    outcome = cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{TENANT}:role/worker", "--role-session-name",
                  "s1", "--policy", f"file://{latin1}", env=env)
    error = one_error_line(outcome)
    assert "--policy" in error and "not UTF-8" in error


@pytest.mark.parametrize(("entries", "expected"), [
    (["aws:TagKeys=team", "AWS:tagkeys=env"], {"aws:TagKeys": ["team", "env"]}),
    (["app:Level=1", "APP:LEVEL=2,3"], {"app:Level": ["1", "2", "3"]}),
    (["app:x=a=b", "App:X=c"], {"app:x": ["a=b", "c"]}),
])
def test_context_keys_that_differ_only_in_case_are_one_key(entries: list[str], expected: dict[str, Any]) -> None:
    assert simulate.parse_context(entries) == expected


def test_simulate_with_one_key_spelled_two_ways_decides_instead_of_failing(
        capsys: pytest.CaptureFixture[str]) -> None:
    policy = json.dumps({"Version": V2012, "Statement": [{
        "Effect": "Allow", "Action": "orders:TagOrder", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}, "Null": {"aws:TagKeys": "false"}}}]})
    base = ("simulate", "--policy", policy, "--action", "orders:TagOrder", "--context", "aws:TagKeys=team")
    refused = run_main(capsys, *base, "--context", "AWS:tagkeys=owner")
    assert refused.code == 1 and refused.err == "" and "0 of 1 request allowed" in refused.out
    allowed = run_main(capsys, *base, "--context", "AWS:tagkeys=team")
    assert allowed.code == 0 and "1 of 1 request allowed" in allowed.out


# --- a password typed on the command line is never echoed, however the option is spelled ----------

@pytest.mark.parametrize(("args", "reason"), [
    (("iam", "create-login-profile", "--user-name", "alice", "--passw=Hunter2-secret"), "ambiguous option"),
    (("iam", "create-login-profile", "--user-name", "alice", "--pass=Hunter2 could match secret"),
     "ambiguous option"),
    (("iam", "create-login-profile", "--user-name", "alice", "--password-re=Hunter2-secret"), "takes no value"),
    (("iam", "update-login-profile", "--user-name", "alice", "--set-password=Hunter2-secret"), "takes no value"),
])
def test_usage_errors_never_echo_an_option_value(cli: Cli, args: tuple[str, ...], reason: str) -> None:
    error = one_error_line(cli(*args))
    assert reason in error and "Hunter2" not in error and "secret" not in error


# --- import: what export wrote loads back, however large the tenant -------------------------------

def test_import_loads_an_export_larger_than_the_policy_input_limit(cli: Cli, tmp_path: Path) -> None:
    from iamguard.cli.sources import MAX_INPUT_BYTES
    from iamguard.store.sqlite import SQLiteStore

    store = SQLiteStore(cli.store)
    try:
        directory = Directory(store, TENANT, cache_ttl=0)
        with directory.batch():  # 50 tags of IAM's largest size: about 20 KB of export per user
            for number in range(260):
                directory.create_user(f"user{number:03d}",
                                      tags={f"{number:03d}-{tag:02d}".ljust(128, "k"): "v" * 256 for tag in range(50)})
    finally:
        store.database.close()
    export = tmp_path / "tenant.json"
    cli.ok("export", "--file", str(export))
    assert export.stat().st_size > MAX_INPUT_BYTES
    loaded = cli.ok("import", str(export), "--store", str(tmp_path / "copy.db"), "--output", "json").json()
    assert loaded["UserDetailList"] == 261 and loaded["Tenant"]["TenantId"] == TENANT
