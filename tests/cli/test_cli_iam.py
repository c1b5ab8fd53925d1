"""`iamguard iam ...` directory commands, in-process, against a temporary SQLite store; every test
checks the store's state afterwards through the Python API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from iamguard.directory import Directory, NoSuchEntityError
from iamguard.store.sqlite import SQLiteStore
from tests.cli.support import Outcome, run_main, write_json

TENANT = "123456789012"
V2012 = "2012-10-17"
READ = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:Get*", "Resource": "*"}]}
WRITE = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:Put*", "Resource": "*"}]}
TRUST = {"Version": V2012, "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{TENANT}:root"},
                                          "Action": "sts:AssumeRole"}]}
POLICY_ARN = f"arn:aws:iam::{TENANT}:policy/Read"


class Cli:
    """Runs `iamguard` in-process against one store, and opens that store for assertions."""

    def __init__(self, capsys: pytest.CaptureFixture[str], store: Path) -> None:
        self.capsys = capsys
        self.store = store
        self.env = {"IAMGUARD_STORE": str(store)}

    def __call__(self, *args: str, stdin: str | None = None) -> Outcome:
        return run_main(self.capsys, *args, stdin=stdin, env=self.env)

    def ok(self, *args: str) -> Outcome:
        outcome = self(*args)
        assert outcome.code == 0, outcome.err
        return outcome

    @contextmanager
    def directory(self) -> Iterator[Directory]:
        store = SQLiteStore(self.store)
        try:
            yield Directory(store, TENANT, cache_ttl=0)
        finally:
            store.database.close()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    path = tmp_path / "iamguard.db"
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    store.database.close()
    return Cli(capsys, path)


def test_users_lifecycle(cli: Cli) -> None:
    created = cli.ok("iam", "create-user", "--user-name", "alice", "--path", "/eng/",
                     "--tags", "team=orders", "Key=env,Value=prod", "--output", "json")
    user = created.json()["User"]
    assert user["UserName"] == "alice" and user["Arn"] == f"arn:aws:iam::{TENANT}:user/eng/alice"
    assert user["Tags"] == [{"Key": "team", "Value": "orders"}, {"Key": "env", "Value": "prod"}]
    with cli.directory() as directory:
        stored = directory.get_user("alice")
        assert (stored.user_id, stored.path) == (user["UserId"], "/eng/")
    shown = cli.ok("iam", "get-user", "--user-name", "alice")
    assert "UserName" in shown.out and user["UserId"] in shown.out
    cli.ok("iam", "create-user", "--user-name", "bob")
    listed = cli.ok("iam", "list-users")
    assert [line.split()[0] for line in listed.out.splitlines()] == ["USERNAME", "alice", "bob"]
    assert [u["UserName"] for u in cli.ok("iam", "list-users", "--path-prefix", "/eng/", "--output", "json")
            .json()["Users"]] == ["alice"]
    deleted = cli.ok("iam", "delete-user", "--user-name", "bob")
    assert deleted.out.strip() == "deleted user bob"
    with cli.directory() as directory, pytest.raises(NoSuchEntityError):
        directory.get_user("bob")


def test_iam_errors_are_one_line_with_the_iam_code_and_change_nothing(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    again = cli("iam", "create-user", "--user-name", "alice")
    assert again.code == 2 and again.err == "iamguard: error: EntityAlreadyExists: User with name alice already " \
                                            "exists.\n"
    missing = cli("iam", "get-user", "--user-name", "nobody")
    assert missing.code == 2 and missing.err.startswith("iamguard: error: NoSuchEntity:")
    bad_tag = cli("iam", "create-user", "--user-name", "carol", "--tags", "aws:team=x")
    assert bad_tag.code == 2 and "InvalidInput" in bad_tag.err
    with cli.directory() as directory:
        assert [u.user_name for u in directory.list_users()] == ["alice"]


def test_groups_and_membership(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-group", "--group-name", "admins")
    cli.ok("iam", "add-user-to-group", "--group-name", "admins", "--user-name", "alice")
    with cli.directory() as directory:
        assert [g.group_name for g in directory.list_groups_for_user("alice")] == ["admins"]
    group = cli.ok("iam", "get-group", "--group-name", "admins", "--output", "json").json()
    assert group["Group"]["GroupName"] == "admins" and [u["UserName"] for u in group["Users"]] == ["alice"]
    assert "admins" in cli.ok("iam", "list-groups-for-user", "--user-name", "alice").out
    refused = cli("iam", "delete-user", "--user-name", "alice")
    assert refused.code == 2 and "DeleteConflict" in refused.err
    cli.ok("iam", "remove-user-from-group", "--group-name", "admins", "--user-name", "alice")
    cli.ok("iam", "delete-group", "--group-name", "admins")
    with cli.directory() as directory:
        assert list(directory.list_groups()) == []
        assert list(directory.list_groups_for_user("alice")) == []


def test_managed_policies_versions_and_attachments(cli: Cli, tmp_path: Path) -> None:
    read = write_json(tmp_path / "read.json", READ)
    write = write_json(tmp_path / "write.json", WRITE)
    created = cli.ok("iam", "create-policy", "--policy-name", "Read", "--policy-document", read, "--output", "json")
    assert created.json()["Policy"]["Arn"] == POLICY_ARN
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-group", "--group-name", "readers")
    cli.ok("iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", POLICY_ARN)
    cli.ok("iam", "attach-group-policy", "--group-name", "readers", "--policy-arn", POLICY_ARN)
    attached = cli.ok("iam", "list-attached-user-policies", "--user-name", "alice", "--output", "json").json()
    assert attached == {"AttachedPolicies": [{"PolicyName": "Read", "PolicyArn": POLICY_ARN}]}
    version = cli.ok("iam", "create-policy-version", "--policy-arn", POLICY_ARN, "--policy-document", write,
                     "--set-as-default", "--output", "json").json()["PolicyVersion"]
    assert version["VersionId"] == "v2" and version["IsDefaultVersion"] is True
    assert version["Document"] == WRITE
    with cli.directory() as directory:
        assert directory.get_policy(POLICY_ARN).default_version_id == "v2"
        assert directory.get_policy(POLICY_ARN).attachment_count == 2
    versions = cli.ok("iam", "list-policy-versions", "--policy-arn", POLICY_ARN).out
    assert "v1" in versions and "v2" in versions
    cli.ok("iam", "set-default-policy-version", "--policy-arn", POLICY_ARN, "--version-id", "v1")
    shown = cli.ok("iam", "get-policy-version", "--policy-arn", POLICY_ARN, "--version-id", "v1", "--output", "json")
    assert shown.json()["PolicyVersion"]["Document"] == READ
    cli.ok("iam", "delete-policy-version", "--policy-arn", POLICY_ARN, "--version-id", "v2")
    in_use = cli("iam", "delete-policy", "--policy-arn", POLICY_ARN)
    assert in_use.code == 2 and "DeleteConflict" in in_use.err
    cli.ok("iam", "detach-user-policy", "--user-name", "alice", "--policy-arn", POLICY_ARN)
    cli.ok("iam", "detach-group-policy", "--group-name", "readers", "--policy-arn", POLICY_ARN)
    assert "Read" in cli.ok("iam", "list-policies").out
    cli.ok("iam", "delete-policy", "--policy-arn", POLICY_ARN)
    with cli.directory() as directory:
        assert list(directory.list_policies()) == []


def test_create_policy_refuses_linter_errors_and_warns_about_the_rest(cli: Cli) -> None:
    broken = json.dumps({"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders", "Resource": "*"}]})
    refused = cli("iam", "create-policy", "--policy-name", "Broken", "--policy-document", broken)
    assert refused.code == 2 and refused.err.count("\n") == 1
    assert "/Statement/0/Action" in refused.err and "INVALID_ACTION" in refused.err
    admin = json.dumps({"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    warned = cli("iam", "create-policy", "--policy-name", "Admin", "--policy-document", admin)
    assert warned.code == 0 and "warning" in warned.err and "ALLOW_STAR_ON_STAR" in warned.err
    with cli.directory() as directory:
        assert [p.policy_name for p in directory.list_policies()] == ["Admin"]


def test_inline_policies_for_each_principal_kind(cli: Cli, tmp_path: Path) -> None:
    trust = write_json(tmp_path / "trust.json", TRUST)
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-group", "--group-name", "readers")
    cli.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document", trust)
    for kind, name in (("user", "alice"), ("group", "readers"), ("role", "worker")):
        outcome = cli("iam", f"put-{kind}-policy", f"--{kind}-name", name, "--policy-name", "Inline",
                      "--policy-document", "-", stdin=json.dumps(READ))
        assert outcome.code == 0, outcome.err
        assert cli.ok("iam", f"list-{kind}-policies", f"--{kind}-name", name).out.strip() == "Inline"
        shown = cli.ok("iam", f"get-{kind}-policy", f"--{kind}-name", name, "--policy-name", "Inline",
                       "--output", "json").json()
        assert shown["Policy"]["PolicyDocument"] == READ
    with cli.directory() as directory:
        assert directory.get_role_policy("worker", "Inline").document_dict() == READ
    cli.ok("iam", "delete-group-policy", "--group-name", "readers", "--policy-name", "Inline")
    with cli.directory() as directory:
        assert list(directory.list_group_policies("readers")) == []


def test_roles_trust_tags_and_boundaries(cli: Cli, tmp_path: Path) -> None:
    trust = write_json(tmp_path / "trust.json", TRUST)
    cli.ok("iam", "create-policy", "--policy-name", "Read", "--policy-document", json.dumps(READ))
    role = cli.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document", trust,
                  "--description", "batch jobs", "--max-session-duration", "7200", "--output", "json").json()["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST and role["MaxSessionDuration"] == 7200
    open_trust = json.dumps({"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]})
    refused = cli("iam", "update-assume-role-policy", "--role-name", "worker", "--policy-document", open_trust)
    assert refused.code == 2 and "MalformedPolicyDocument" in refused.err
    assert "PRINCIPAL_STAR_WITHOUT_CONDITION" in refused.err.split("error:")[0]  # warned before IAM refused
    cli.ok("iam", "attach-role-policy", "--role-name", "worker", "--policy-arn", POLICY_ARN)
    cli.ok("iam", "tag-role", "--role-name", "worker", "--tags", "team=jobs")
    cli.ok("iam", "put-role-permissions-boundary", "--role-name", "worker", "--permissions-boundary", POLICY_ARN)
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "tag-user", "--user-name", "alice", "--tags", "Key=team,Value=orders")
    cli.ok("iam", "put-user-permissions-boundary", "--user-name", "alice", "--permissions-boundary", POLICY_ARN)
    with cli.directory() as directory:
        stored = directory.get_role("worker")
        assert stored.permissions_boundary == POLICY_ARN and [t.key for t in stored.tags] == ["team"]
        assert stored.trust_policy_dict() == TRUST
        assert directory.get_user("alice").permissions_boundary == POLICY_ARN
        assert [(t.key, t.value) for t in directory.get_user("alice").tags] == [("team", "orders")]
    cli.ok("iam", "untag-user", "--user-name", "alice", "--tag-keys", "team")
    cli.ok("iam", "delete-user-permissions-boundary", "--user-name", "alice")
    assert "worker" in cli.ok("iam", "list-roles").out
    with cli.directory() as directory:
        assert directory.get_user("alice").tags == () and directory.get_user("alice").permissions_boundary is None


def test_account_authorization_details(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-policy", "--policy-name", "Read", "--policy-document", json.dumps(READ))
    details = cli.ok("iam", "get-account-authorization-details", "--output", "json").json()
    assert [u["UserName"] for u in details["UserDetailList"]] == ["alice"]
    assert [p["PolicyName"] for p in details["Policies"]] == ["Read"]
    users_only = cli.ok("iam", "get-account-authorization-details", "--filter", "User").out
    assert "UserDetailList (1): alice" in users_only and "Policies (0)" in users_only


def test_simulate_stored_principal(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-policy", "--policy-name", "Read", "--policy-document", json.dumps(READ))
    cli.ok("iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", POLICY_ARN)
    alice = f"arn:aws:iam::{TENANT}:user/alice"
    outcome = cli("simulate", "--principal-arn", alice, "--action", "orders:GetOrder", "--action",
                  "orders:DeleteOrder", "--output", "json")
    assert outcome.code == 1
    assert [(r["action"], r["allowed"]) for r in outcome.json()] == [
        ("orders:GetOrder", True), ("orders:DeleteOrder", False)]
    assert "arn:aws:iam::123456789012:policy/Read" in outcome.json()[0]["explanation"]
    unknown = cli("simulate", "--principal-arn", f"arn:aws:iam::{TENANT}:user/nobody", "--action", "a:b")
    assert unknown.code == 2 and "NoSuchEntity" in unknown.err


def test_store_and_tenant_selection(cli: Cli, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = run_main(capsys, "iam", "list-users", "--store", str(tmp_path / "none.db"))
    assert missing.code == 2 and "no store at" in missing.err and "iamguard init" in missing.err
    assert not (tmp_path / "none.db").exists()
    store = SQLiteStore(cli.store)
    Directory.create_tenant(store, "second-tenant")
    store.database.close()
    ambiguous = cli("iam", "list-users")
    assert ambiguous.code == 2 and "2 tenants" in ambiguous.err and "--tenant" in ambiguous.err
    chosen = run_main(capsys, "iam", "create-user", "--user-name", "zed", "--store", str(cli.store),
                      env={"IAMGUARD_TENANT": "second-tenant"})
    assert chosen.code == 0 and "arn:aws:iam::second-tenant:user/zed" in chosen.out
    flag = cli("iam", "list-users", "--tenant", "second-tenant")
    assert flag.code == 0 and "zed" in flag.out


def test_global_options_work_before_the_command(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    outcome = run_main(capsys, "--output", "json", "--store", str(cli.store), "iam", "list-users")
    assert outcome.code == 0 and [u["UserName"] for u in outcome.json()["Users"]] == ["alice"]
    group = cli("iam")
    assert group.code == 2 and "choose a command" in group.err
