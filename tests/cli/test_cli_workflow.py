"""The store-backed commands through the real program (`python -m iamguard.cli`, a separate process
each time) against a temporary store: exit status, output, and the store's state afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyotp
import pytest

from iamguard.credentials import Credentials
from iamguard.directory import Directory, NoSuchEntityError
from iamguard.store.sqlite import SQLiteStore
from tests.cli.support import Outcome, run_process, write_json

TENANT = "123456789012"
V2012 = "2012-10-17"
ADMIN_ARN = f"arn:aws:iam::{TENANT}:user/admin"
ALICE_ARN = f"arn:aws:iam::{TENANT}:user/alice"
READ_ARN = f"arn:aws:iam::{TENANT}:policy/ReadOrders"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/worker"
READ = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:Get*", "Resource": "*"}]}


class Program:
    def __init__(self, store: Path) -> None:
        self.store = store
        self.env = {"IAMGUARD_STORE": str(store)}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        return run_process(*args, stdin=stdin, env={**self.env, **(env or {})})

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        outcome = self(*args, stdin=stdin, env=env)
        assert outcome.code == 0, outcome.err
        assert "Traceback" not in outcome.err
        return outcome

    def directory(self) -> tuple[SQLiteStore, Directory]:
        store = SQLiteStore(self.store)
        return store, Directory(store, TENANT, cache_ttl=0)


@pytest.fixture
def program(tmp_path: Path) -> Program:
    return Program(tmp_path / "iamguard.db")


def test_init_then_manage_simulate_and_issue_sessions(program: Program, tmp_path: Path) -> None:
    # init: store, tenant, signing keys, administrator with one-time credentials
    init = program.ok("init", "--tenant-id", TENANT, "--output", "json")
    created = init.json()
    key_id, secret = created["AccessKey"]["AccessKeyId"], created["AccessKey"]["SecretAccessKey"]
    assert created["User"]["Arn"] == ADMIN_ARN and key_id.startswith("AKIA") and len(secret) >= 40
    assert created["AccessKey"]["SigningKeyIds"]
    store, directory = program.directory()
    try:
        assert [p.policy_name for p in directory.list_policies()] == ["AdministratorAccess"]
        assert directory.authorize(ADMIN_ARN, "anything:AtAll", "*").allowed
        credentials = Credentials(directory)
        assert credentials.authenticate_access_key(key_id, secret).principal_arn == ADMIN_ARN
        assert credentials.jwks()["keys"]
    finally:
        store.database.close()
    again = program("init")
    assert again.code == 2 and "already initialised" in again.err and again.err.count("\n") == 1

    # users, groups, policies
    program.ok("iam", "create-user", "--user-name", "alice", "--tags", "team=orders")
    program.ok("iam", "create-group", "--group-name", "readers")
    program.ok("iam", "add-user-to-group", "--group-name", "readers", "--user-name", "alice")
    read = write_json(tmp_path / "read.json", READ)
    policy = program.ok("iam", "create-policy", "--policy-name", "ReadOrders", "--policy-document", read,
                        "--output", "json")
    assert policy.json()["Policy"]["Arn"] == READ_ARN
    program.ok("iam", "attach-group-policy", "--group-name", "readers", "--policy-arn", READ_ARN)
    refused = program("iam", "create-policy", "--policy-name", "Bad", "--policy-document",
                      json.dumps({"Statement": [{"Effect": "Allow", "Action": "orders", "Resource": "*"}]}))
    assert refused.code == 2 and "/Statement/0/Action" in refused.err and refused.err.count("\n") == 1
    listed = program.ok("iam", "list-users", "--output", "json")
    assert [user["UserName"] for user in listed.json()["Users"]] == ["admin", "alice"]

    # simulate the stored principal: allowed through the group's policy, denied elsewhere
    allowed = program.ok("simulate", "--principal-arn", ALICE_ARN, "--action", "orders:GetOrder")
    assert allowed.out.startswith(f"Allow: {ALICE_ARN} -> orders:GetOrder") and READ_ARN in allowed.out
    denied = program("simulate", "--principal-arn", ALICE_ARN, "--action", "orders:DeleteOrder")
    assert denied.code == 1 and "ImplicitDeny" in denied.out

    # access keys and sessions for alice
    key = program.ok("iam", "create-access-key", "--user-name", "alice", "--output", "json").json()["AccessKey"]
    alice_id, alice_secret = key["AccessKeyId"], key["SecretAccessKey"]
    token = program.ok("sts", "get-session-token", "--access-key-id", alice_id, "--output", "json",
                       stdin=alice_secret + "\n").json()["Credentials"]["SessionToken"]
    identity = program.ok("sts", "get-caller-identity", "--output", "json",
                          env={"IAMGUARD_SESSION_TOKEN": token}).json()
    assert identity["Arn"] == ALICE_ARN and identity["Account"] == TENANT
    wrong = program("sts", "get-session-token", "--access-key-id", alice_id, stdin="not-the-secret\n")
    assert wrong.code == 2 and "InvalidClientTokenId" in wrong.err and alice_secret not in wrong.err

    # a role alice may assume, and the session it yields
    trust = write_json(tmp_path / "trust.json", {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ADMIN_ARN}, "Action": "sts:AssumeRole"}]})
    program.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document", trust)
    program.ok("iam", "put-role-policy", "--role-name", "worker", "--policy-name", "Read",
               "--policy-document", read)
    assumed = program.ok("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "job-1",
                         "--output", "json", env={"IAMGUARD_ACCESS_KEY_ID": key_id,
                                                  "IAMGUARD_SECRET_ACCESS_KEY": secret}).json()
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TENANT}:assumed-role/worker/job-1"
    refused_role = program("sts", "assume-role", "--role-arn", f"arn:aws:iam::{TENANT}:role/nope",
                           "--role-session-name", "job-2", env={"IAMGUARD_SESSION_TOKEN": token})
    assert refused_role.code == 1 and "AccessDenied" in refused_role.err

    # deactivating the key ends the sessions minted from it
    program.ok("iam", "update-access-key", "--access-key-id", alice_id, "--status", "Inactive")
    store, directory = program.directory()
    try:
        assert [k.status for k in Credentials(directory).list_access_keys("alice")] == ["Inactive"]
    finally:
        store.database.close()
    revoked = program("sts", "get-caller-identity", env={"IAMGUARD_SESSION_TOKEN": token})
    assert revoked.code == 2 and "RevokedToken" in revoked.err and token not in revoked.err

    # MFA enrolment with two consecutive codes from the (real) clock
    device = program.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                        "phone", "--output", "json").json()["VirtualMFADevice"]
    assert device["ProvisioningUri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(device["Base32Seed"])
    now = time.time()
    program.ok("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", device["SerialNumber"],
               "--authentication-code1", totp.at(now - 30), "--authentication-code2", totp.at(now))
    devices = program.ok("iam", "list-mfa-devices", "--user-name", "alice", "--output", "json").json()
    assert [(d["SerialNumber"], d["Enabled"]) for d in devices["MFADevices"]] == [(device["SerialNumber"], True)]

    # export, then import into a fresh store: the same tenant
    exported = program.ok("export")
    document = json.loads(exported.out)
    copy = tmp_path / "copy.db"
    imported = run_process("import", "-", "--store", str(copy), stdin=exported.out)
    assert imported.code == 0, imported.err
    copy_store = SQLiteStore(copy)
    try:
        restored = Directory(copy_store, TENANT, cache_ttl=0)
        assert restored.export_tenant() == document
        assert [g.group_name for g in restored.list_groups_for_user("alice")] == ["readers"]
    finally:
        copy_store.database.close()

    # the whole tenant in one document, then clean-up refused while alice still has credentials
    details = program.ok("iam", "get-account-authorization-details", "--output", "json").json()
    assert {u["UserName"] for u in details["UserDetailList"]} == {"admin", "alice"}
    conflict = program("iam", "delete-user", "--user-name", "alice")
    assert conflict.code == 2 and "DeleteConflict" in conflict.err
    program.ok("iam", "delete-access-key", "--access-key-id", alice_id, "--user-name", "alice")
    program.ok("iam", "remove-user-from-group", "--group-name", "readers", "--user-name", "alice")
    store, directory = program.directory()
    try:
        assert Credentials(directory).list_access_keys("alice") == ()
        assert list(directory.list_groups_for_user("alice")) == []
        with pytest.raises(NoSuchEntityError):
            directory.get_user("nobody")
    finally:
        store.database.close()


def test_commands_need_an_initialised_store(tmp_path: Path) -> None:
    missing = run_process("iam", "list-users", env={"IAMGUARD_STORE": str(tmp_path / "absent.db")})
    assert missing.code == 2 and "no store at" in missing.err and missing.out == ""
    assert not (tmp_path / "absent.db").exists()


def test_init_defaults_to_iamguard_db_in_the_working_directory(tmp_path: Path) -> None:
    outcome = run_process("init", "--admin-user-name", "root-admin", "--output", "json", cwd=tmp_path)
    assert outcome.code == 0, outcome.err
    assert (tmp_path / "iamguard.db").exists()
    assert outcome.json()["User"]["UserName"] == "root-admin"
    assert "data_key" in outcome.err  # init says once how the seeds are protected
