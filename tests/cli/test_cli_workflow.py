"""Every command through the real program: the installed `iamguard` console script, each time in a
new process, against a temporary store; each step checks the exit status, the output (the table,
and JSON for a sample) and, through the Python API, the store's state afterwards.

Commands are chained into workflows as an operator would run them, one store per workflow. Each
workflow declares the commands it covers with @workflow(...), and the `program` fixture fails a
workflow that declares a command it never ran successfully. test_every_command_is_covered_by_a_workflow
compares the declarations with the parser, so a command cannot be added without a test through the
console script.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest

from iamguard import Directory, SQLiteStore
from iamguard.cli import build_parser
from iamguard.credentials import Credentials
from iamguard.credentials.errors import AuthenticationFailed, PasswordExpired
from iamguard.credentials.records import PasswordPolicy
from iamguard.directory import NoSuchEntityError
from tests.cli.support import CALL_REPORT, Outcome, run_process, write_json

TENANT = "123456789012"
V2012 = "2012-10-17"
ADMIN_ARN = f"arn:aws:iam::{TENANT}:user/admin"
ALICE_ARN = f"arn:aws:iam::{TENANT}:user/alice"
ORDERS_ARN = f"arn:aws:iam::{TENANT}:policy/Orders"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/worker"
READ = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:Get*", "Resource": "*"}]}
WRITE = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:Put*", "Resource": "*"}]}
LIST = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders:List*", "Resource": "*"}]}
ADMIN = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TOKEN_VARIABLE = "IAMGUARD_SESSION_TOKEN"
PASSWORD_VARIABLE = "IAMGUARD_PASSWORD"


# --- the registry of commands the workflows run ----------------------------------------------------

WORKFLOW_COMMANDS: dict[str, frozenset[str]] = {}
Test = TypeVar("Test", bound=Callable[..., None])


def workflow(*commands: str) -> Callable[[Test], Test]:
    """Declares the commands a workflow runs through the console script (`"init"`, `"iam create-user"`).
    The `program` fixture fails the workflow unless each of them exited with status 0 at least once."""

    def register(test: Test) -> Test:
        if test.__name__ in WORKFLOW_COMMANDS:
            raise ValueError(f"workflow {test.__name__} declared twice")
        WORKFLOW_COMMANDS[test.__name__] = frozenset(commands)
        return test

    return register


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def parser_commands() -> frozenset[str]:
    """Every command the parser accepts: "validate", ..., "iam create-user", "sts assume-role"."""
    names: set[str] = set()
    for name, parser in subcommands(build_parser()).items():
        nested = subcommands(parser)
        names.update({f"{name} {child}" for child in nested} if nested else {name})
    return frozenset(names)


TOP_LEVEL = subcommands(build_parser())


def command_of(args: Sequence[str]) -> str | None:
    """The command an argument list runs (global options may come first)."""
    for index, token in enumerate(args):
        if token in TOP_LEVEL:
            nested = subcommands(TOP_LEVEL[token])
            if not nested:
                return token
            child = next((later for later in args[index + 1:] if later in nested), None)
            return f"{token} {child}" if child else None
    return None


# --- running the program and looking at the store -------------------------------------------------

@dataclass
class State:
    """The store as the application sees it, opened in the test process."""

    directory: Directory

    @cached_property
    def credentials(self) -> Credentials:
        return Credentials(self.directory)


class Program:
    """The console script against one store ($IAMGUARD_STORE), remembering which commands succeeded."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.env = {"IAMGUARD_STORE": str(store)}
        self.succeeded: set[str] = set()

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        outcome = run_process(*args, stdin=stdin, env={**self.env, **(env or {})})
        assert "Traceback" not in outcome.err, outcome.err
        command = command_of(args)
        if outcome.code == 0 and command is not None:
            self.succeeded.add(command)
        return outcome

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        outcome = self(*args, stdin=stdin, env=env)
        assert outcome.code == 0, f"{' '.join(args)}: {outcome.err}"
        return outcome

    def refused(self, *args: str, message: str, code: int = 2, stdin: str | None = None,
                env: dict[str, str] | None = None) -> Outcome:
        """A failure: the exit status, nothing on stdout, and one `iamguard: error:` line naming the problem."""
        outcome = self(*args, stdin=stdin, env=env)
        assert (outcome.code, outcome.out) == (code, ""), f"{' '.join(args)}: {outcome}"
        assert outcome.err.startswith("iamguard: error: ") and outcome.err.count("\n") == 1, outcome.err
        assert message in outcome.err, outcome.err
        return outcome

    @contextmanager
    def state(self) -> Iterator[State]:
        store = SQLiteStore(self.store)
        try:
            yield State(Directory(store, TENANT, cache_ttl=0))
        finally:
            store.database.close()

    @contextmanager
    def seeded(self) -> Iterator[State]:
        """A new tenant made in-process, for workflows whose subject is not `init`."""
        store = SQLiteStore(self.store)
        try:
            Directory.create_tenant(store, TENANT)
            yield State(Directory(store, TENANT, cache_ttl=0))
        finally:
            store.database.close()


@pytest.fixture
def program(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Program]:
    declared = WORKFLOW_COMMANDS.get(request.function.__name__)
    assert declared is not None, f"{request.function.__name__} uses `program`: declare its commands with @workflow"
    runner = Program(tmp_path / "iamguard.db")
    yield runner
    report = request.node.stash.get(CALL_REPORT, None)
    if report is not None and report.passed:
        missing = sorted(declared - runner.succeeded)
        assert not missing, f"declared by @workflow but never run with exit status 0: {missing}"


def rows(table: str) -> list[list[str]]:
    """The cells of a table's rows (header and a trailing NextToken paragraph left out)."""
    body = table.strip().split("\n\n")[0].splitlines()[1:]
    return [re.split(r"\s{2,}", line.strip()) for line in body]


def first_column(table: str) -> list[str]:
    return [cells[0] for cells in rows(table)]


def field(text: str, name: str) -> str:
    """The value of one `Name  value` line of a record printed as a table."""
    found = re.search(rf"^{re.escape(name)}\s+(.*)$", text, re.MULTILINE)
    assert found is not None, f"no {name} in {text!r}"
    return found.group(1).strip()


def trust_for(principal_arn: str) -> dict[str, Any]:
    return {"Version": V2012, "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": principal_arn},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]}


# --- the registry itself --------------------------------------------------------------------------

def test_every_command_is_covered_by_a_workflow() -> None:
    declared = frozenset().union(*WORKFLOW_COMMANDS.values())
    commands = parser_commands()
    assert sorted(commands - declared) == [], "commands without a workflow through the console script"
    assert sorted(declared - commands) == [], "workflows declare commands the parser does not have"
    assert {"validate", "init", "iam create-user", "iam create-login-profile", "sts assume-role"} <= commands


def test_help_lists_exactly_the_parsers_commands() -> None:
    listed: set[str] = set()
    for group in ("", "iam", "sts"):
        shown = run_process(*([group] if group else []), "--help")
        assert shown.code == 0 and shown.err == ""
        names = re.findall(r"^ {4}([a-z][a-z-]*)", shown.out, re.MULTILINE)
        listed.update(f"{group} {name}".strip() for name in names if not (group == "" and name in ("iam", "sts")))
    assert listed == parser_commands()


def test_command_of_finds_the_command_after_global_options() -> None:
    assert command_of(["--output", "json", "--store", "x.db", "iam", "list-users"]) == "iam list-users"
    assert command_of(["simulate", "--action", "a:b"]) == "simulate"
    assert command_of(["iam"]) is None and command_of(["--version"]) is None


# --- workflows -----------------------------------------------------------------------------------

@workflow(
    "init", "validate", "simulate", "export", "import",
    "iam create-user", "iam get-user", "iam tag-user", "iam untag-user", "iam list-users", "iam delete-user",
    "iam create-group", "iam add-user-to-group", "iam get-group", "iam list-groups-for-user", "iam list-groups",
    "iam remove-user-from-group", "iam delete-group",
    "iam create-policy", "iam get-policy", "iam list-policies", "iam delete-policy", "iam create-policy-version",
    "iam list-policy-versions", "iam get-policy-version", "iam set-default-policy-version",
    "iam delete-policy-version",
    "iam attach-user-policy", "iam attach-group-policy", "iam list-attached-user-policies",
    "iam list-attached-group-policies", "iam detach-user-policy", "iam detach-group-policy",
    "iam put-user-policy", "iam get-user-policy", "iam list-user-policies", "iam delete-user-policy",
    "iam put-group-policy", "iam get-group-policy", "iam list-group-policies", "iam delete-group-policy",
    "iam put-user-permissions-boundary", "iam delete-user-permissions-boundary",
    "iam get-account-authorization-details",
)
def test_init_users_groups_policies_boundaries_and_export(program: Program, tmp_path: Path) -> None:
    # init: a store, a tenant, signing keys and an administrator whose secret is printed once
    created = program.ok("init", "--tenant-id", TENANT, "--output", "json").json()
    key_id, secret = created["AccessKey"]["AccessKeyId"], created["AccessKey"]["SecretAccessKey"]
    assert created["User"]["Arn"] == ADMIN_ARN and created["Policy"]["PolicyName"] == "AdministratorAccess"
    with program.state() as state:
        assert state.credentials.authenticate_access_key(key_id, secret).principal_arn == ADMIN_ARN
        assert state.credentials.jwks()["keys"]
        assert state.directory.authorize(ADMIN_ARN, "anything:AtAll", "*").allowed
    program.refused("init", message="already initialised")

    # lint the documents before using them; a finding at --fail-on is exit status 1
    read, write = write_json(tmp_path / "read.json", READ), write_json(tmp_path / "write.json", WRITE)
    linted = program.ok("validate", read, write)
    assert linted.out.splitlines() == [f"{tmp_path / 'read.json'}: no findings",
                                       f"{tmp_path / 'write.json'}: no findings", "0 findings in 2 files"]
    risky = program("validate", json.dumps(ADMIN), "--output", "json")
    assert risky.code == 1 and [f["code"] for f in risky.json()[0]["findings"]] == ["ALLOW_STAR_ON_STAR"]

    # users
    program.refused("iam", "create-user", message="--user-name")
    user = program.ok("iam", "create-user", "--user-name", "alice", "--tags", "team=orders", "Key=env,Value=prod",
                      "--output", "json").json()["User"]
    assert user["Arn"] == ALICE_ARN and user["Tags"] == [{"Key": "team", "Value": "orders"},
                                                         {"Key": "env", "Value": "prod"}]
    program.refused("iam", "create-user", "--user-name", "alice", message="EntityAlreadyExists")
    shown = program.ok("iam", "get-user", "--user-name", "alice")
    assert field(shown.out, "UserName") == "alice" and field(shown.out, "UserId") == user["UserId"]
    program.ok("iam", "tag-user", "--user-name", "alice", "--tags", "owner=bob")
    program.ok("iam", "untag-user", "--user-name", "alice", "--tag-keys", "env")

    # groups
    program.ok("iam", "create-group", "--group-name", "readers")
    program.ok("iam", "add-user-to-group", "--group-name", "readers", "--user-name", "alice")
    group = program.ok("iam", "get-group", "--group-name", "readers", "--output", "json").json()
    assert group["Group"]["GroupName"] == "readers" and [u["UserName"] for u in group["Users"]] == ["alice"]
    assert first_column(program.ok("iam", "list-groups-for-user", "--user-name", "alice").out) == ["readers"]
    assert first_column(program.ok("iam", "list-groups").out) == ["readers"]

    # a managed policy and its versions (the linter refuses an ERROR with its JSON pointer)
    broken = json.dumps({"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "orders", "Resource": "*"}]})
    program.refused("iam", "create-policy", "--policy-name", "Broken", "--policy-document", broken,
                    message="/Statement/0/Action")
    policy = program.ok("iam", "create-policy", "--policy-name", "Orders", "--policy-document", read,
                        "--description", "order access", "--output", "json").json()["Policy"]
    assert policy["Arn"] == ORDERS_ARN and policy["DefaultVersionId"] == "v1"
    shown_policy = program.ok("iam", "get-policy", "--policy-arn", ORDERS_ARN).out
    assert field(shown_policy, "Description") == "order access" and field(shown_policy, "AttachmentCount") == "0"
    version = program.ok("iam", "create-policy-version", "--policy-arn", ORDERS_ARN, "--policy-document", write,
                         "--set-as-default", "--output", "json").json()["PolicyVersion"]
    assert (version["VersionId"], version["IsDefaultVersion"], version["Document"]) == ("v2", True, WRITE)
    versions = rows(program.ok("iam", "list-policy-versions", "--policy-arn", ORDERS_ARN).out)
    assert sorted(cells[:2] for cells in versions) == [["v1", "false"], ["v2", "true"]]
    program.ok("iam", "set-default-policy-version", "--policy-arn", ORDERS_ARN, "--version-id", "v1")
    first = program.ok("iam", "get-policy-version", "--policy-arn", ORDERS_ARN, "--version-id", "v1",
                       "--output", "json").json()["PolicyVersion"]
    assert (first["Document"], first["IsDefaultVersion"]) == (READ, True)
    program.ok("iam", "delete-policy-version", "--policy-arn", ORDERS_ARN, "--version-id", "v2")

    # attachments and inline policies
    program.ok("iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", ORDERS_ARN)
    program.ok("iam", "attach-group-policy", "--group-name", "readers", "--policy-arn", ORDERS_ARN)
    attached = program.ok("iam", "list-attached-user-policies", "--user-name", "alice", "--output", "json").json()
    assert attached == {"AttachedPolicies": [{"PolicyName": "Orders", "PolicyArn": ORDERS_ARN}]}
    assert rows(program.ok("iam", "list-attached-group-policies", "--group-name", "readers").out) == [
        ["Orders", ORDERS_ARN]]
    in_use = program.ok("iam", "list-policies", "--only-attached", "--output", "json").json()["Policies"]
    assert [(p["PolicyName"], p["AttachmentCount"]) for p in in_use] == [("AdministratorAccess", 1), ("Orders", 2)]
    program.ok("iam", "put-user-policy", "--user-name", "alice", "--policy-name", "Write", "--policy-document", "-",
               stdin=json.dumps(WRITE))
    inline = program.ok("iam", "get-user-policy", "--user-name", "alice", "--policy-name", "Write",
                        "--output", "json").json()
    assert inline["Policy"]["PolicyDocument"] == WRITE
    assert program.ok("iam", "list-user-policies", "--user-name", "alice").out == "Write\n"
    program.ok("iam", "put-group-policy", "--group-name", "readers", "--policy-name", "List", "--policy-document",
               json.dumps(LIST))
    group_inline = program.ok("iam", "get-group-policy", "--group-name", "readers", "--policy-name", "List").out
    assert json.loads(field(group_inline, "PolicyDocument")) == LIST
    assert program.ok("iam", "list-group-policies", "--group-name", "readers", "--output", "json").json() == {
        "PolicyNames": ["List"]}

    # a permissions boundary that only reads caps the inline write permission
    program.ok("iam", "put-user-permissions-boundary", "--user-name", "alice", "--permissions-boundary", ORDERS_ARN)
    allowed = program.ok("simulate", "--principal-arn", ALICE_ARN, "--action", "orders:GetOrder")
    assert allowed.out.startswith(f"Allow: {ALICE_ARN} -> orders:GetOrder") and allowed.out.endswith(
        "1 of 1 request allowed\n")
    capped = program("simulate", "--principal-arn", ALICE_ARN, "--action", "orders:PutOrder", "--output", "json")
    assert capped.code == 1 and capped.err == ""
    (decision,) = capped.json()
    assert decision["decision"] == "ImplicitDeny" and "permissions boundary" in decision["explanation"]
    with program.state() as state:
        directory = state.directory
        stored = directory.get_user("alice")
        assert stored.permissions_boundary == ORDERS_ARN
        assert sorted((tag.key, tag.value) for tag in stored.tags) == [("owner", "bob"), ("team", "orders")]
        assert [g.group_name for g in directory.list_groups_for_user("alice")] == ["readers"]
        assert [v.version_id for v in directory.list_policy_versions(ORDERS_ARN)] == ["v1"]
        assert directory.get_policy(ORDERS_ARN).attachment_count == 2
        assert directory.get_user_policy("alice", "Write").document_dict() == WRITE
        assert directory.get_group_policy("readers", "List").document_dict() == LIST
        assert not directory.authorize(ALICE_ARN, "orders:PutOrder", "*").allowed
    program.ok("iam", "delete-user-permissions-boundary", "--user-name", "alice")
    assert program("simulate", "--principal-arn", ALICE_ARN, "--action", "orders:PutOrder").code == 0

    # the whole tenant: one document, an export, and an import into a new store
    details = program.ok("iam", "get-account-authorization-details", "--output", "json").json()
    assert [u["UserName"] for u in details["UserDetailList"]] == ["admin", "alice"]
    assert sorted(p["PolicyName"] for p in details["Policies"]) == ["AdministratorAccess", "Orders"]
    users_only = program.ok("iam", "get-account-authorization-details", "--filter", "User").out
    assert "UserDetailList (2): admin, alice" in users_only and "Policies (0)" in users_only
    exported = program.ok("export", "--file", str(tmp_path / "tenant.json"))
    assert exported.out == f"exported tenant {TENANT} to {tmp_path / 'tenant.json'}\n"
    on_stdout = program.ok("export", "--output", "table")  # always JSON, whatever --output says
    assert json.loads(on_stdout.out) == json.loads((tmp_path / "tenant.json").read_text())
    program.refused("export", "--file", str(tmp_path / "tenant.json"), message="already exists")
    copy = tmp_path / "copy.db"
    imported = program.ok("import", str(tmp_path / "tenant.json"), "--store", str(copy), "--output", "json").json()
    assert (imported["Tenant"]["TenantId"], imported["UserDetailList"], imported["Policies"]) == (TENANT, 2, 2)
    program.refused("import", str(tmp_path / "tenant.json"), "--store", str(copy),
                    message=f"EntityAlreadyExists: tenant {TENANT} already exists")
    copy_store = SQLiteStore(copy)
    try:
        restored = Directory(copy_store, TENANT, cache_ttl=0)
        assert restored.export_tenant() == json.loads(on_stdout.out)
        assert restored.get_group_policy("readers", "List").document_dict() == LIST
    finally:
        copy_store.database.close()

    # clean-up, refused while anything still refers to the user or the policy
    program.refused("iam", "delete-user", "--user-name", "alice", message="DeleteConflict")
    program.refused("iam", "delete-policy", "--policy-arn", ORDERS_ARN, message="DeleteConflict")
    program.ok("iam", "detach-user-policy", "--user-name", "alice", "--policy-arn", ORDERS_ARN)
    program.ok("iam", "detach-group-policy", "--group-name", "readers", "--policy-arn", ORDERS_ARN)
    program.ok("iam", "delete-user-policy", "--user-name", "alice", "--policy-name", "Write")
    program.ok("iam", "delete-group-policy", "--group-name", "readers", "--policy-name", "List")
    program.ok("iam", "remove-user-from-group", "--group-name", "readers", "--user-name", "alice")
    program.ok("iam", "delete-group", "--group-name", "readers")
    assert program.ok("iam", "delete-user", "--user-name", "alice").out == "deleted user alice\n"
    program.ok("iam", "delete-policy", "--policy-arn", ORDERS_ARN)
    assert first_column(program.ok("iam", "list-users").out) == ["admin"]
    with program.state() as state:
        for lookup in (lambda: state.directory.get_user("alice"), lambda: state.directory.get_group("readers"),
                       lambda: state.directory.get_policy(ORDERS_ARN)):
            with pytest.raises(NoSuchEntityError):
                lookup()
        assert [p.policy_name for p in state.directory.list_policies()] == ["AdministratorAccess"]


@workflow(
    "iam create-access-key", "iam list-access-keys", "iam get-access-key-last-used", "iam update-access-key",
    "iam delete-access-key", "sts get-session-token", "sts get-caller-identity", "sts assume-role",
    "iam create-role", "iam get-role", "iam list-roles", "iam tag-role", "iam untag-role",
    "iam update-assume-role-policy", "iam put-role-policy", "iam get-role-policy", "iam list-role-policies",
    "iam delete-role-policy", "iam attach-role-policy", "iam list-attached-role-policies", "iam detach-role-policy",
    "iam put-role-permissions-boundary", "iam delete-role-permissions-boundary", "iam delete-role",
)
def test_access_keys_sessions_roles_and_assume_role(program: Program, tmp_path: Path) -> None:
    with program.seeded() as state:
        state.directory.create_user("alice")
        state.directory.create_policy("Orders", json.dumps(WRITE))

    # access keys: the secret is printed once, at most two keys per user
    key = program.ok("iam", "create-access-key", "--user-name", "alice", "--output", "json").json()["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    assert key_id.startswith("AKIA") and len(secret) >= 40 and key["Status"] == "Active"
    second = program.ok("iam", "create-access-key", "--user-name", "alice")
    second_id = field(second.out, "AccessKeyId")
    assert "shown only this once" in second.out and len(field(second.out, "SecretAccessKey")) >= 40
    program.refused("iam", "create-access-key", "--user-name", "alice", message="LimitExceeded")
    listed = program.ok("iam", "list-access-keys", "--user-name", "alice")
    assert sorted(first_column(listed.out)) == sorted([key_id, second_id]) and secret not in listed.out

    # a session token for the key; the secret comes on stdin, never as an argument
    wrong = program.refused("sts", "get-session-token", "--access-key-id", key_id, stdin="not-the-secret\n",
                            message="InvalidClientTokenId")
    assert "not-the-secret" not in wrong.err
    issued = program.ok("sts", "get-session-token", "--access-key-id", key_id, "--duration-seconds", "900",
                        "--output", "json", stdin=secret + "\n").json()
    token = issued["Credentials"]["SessionToken"]
    assert issued["User"]["Arn"] == ALICE_ARN
    with program.state() as state:
        session = state.credentials.authenticate(token)
        assert (session.principal_arn, session.access_key_id) == (ALICE_ARN, key_id)
        assert session.expires_at is not None and session.issued_at is not None
        assert (session.expires_at - session.issued_at).total_seconds() == 900
    caller = program.ok("sts", "get-caller-identity", env={TOKEN_VARIABLE: token}).out
    assert field(caller, "Arn") == ALICE_ARN and field(caller, "Account") == TENANT
    last_used = program.ok("iam", "get-access-key-last-used", "--access-key-id", key_id,
                           "--output", "json").json()["AccessKeyLastUsed"]
    assert last_used["AccessKeyId"] == key_id and last_used["LastUsedDate"] is not None

    # a role whose trust policy names alice
    trust = trust_for(ALICE_ARN)
    role = program.ok("iam", "create-role", "--role-name", "worker", "--assume-role-policy-document",
                      write_json(tmp_path / "trust.json", trust), "--description", "batch jobs",
                      "--max-session-duration", "7200", "--tags", "team=jobs", "--output", "json").json()["Role"]
    assert (role["Arn"], role["MaxSessionDuration"], role["AssumeRolePolicyDocument"]) == (ROLE_ARN, 7200, trust)
    assert field(program.ok("iam", "get-role", "--role-name", "worker").out, "Description") == "batch jobs"
    assert first_column(program.ok("iam", "list-roles").out) == ["worker"]
    program.ok("iam", "tag-role", "--role-name", "worker", "--tags", "Key=env,Value=prod")
    program.ok("iam", "untag-role", "--role-name", "worker", "--tag-keys", "team")
    program.ok("iam", "put-role-policy", "--role-name", "worker", "--policy-name", "Read", "--policy-document",
               write_json(tmp_path / "read.json", READ))
    inline = program.ok("iam", "get-role-policy", "--role-name", "worker", "--policy-name", "Read",
                        "--output", "json").json()
    assert inline["Policy"]["PolicyDocument"] == READ
    assert program.ok("iam", "list-role-policies", "--role-name", "worker").out == "Read\n"
    program.ok("iam", "attach-role-policy", "--role-name", "worker", "--policy-arn", ORDERS_ARN)
    attached = program.ok("iam", "list-attached-role-policies", "--role-name", "worker", "--output", "json").json()
    assert attached["AttachedPolicies"] == [{"PolicyName": "Orders", "PolicyArn": ORDERS_ARN}]
    program.ok("iam", "put-role-permissions-boundary", "--role-name", "worker", "--permissions-boundary", ORDERS_ARN)
    with program.state() as state:
        stored = state.directory.get_role("worker")
        assert [(tag.key, tag.value) for tag in stored.tags] == [("env", "prod")]
        assert stored.permissions_boundary == ORDERS_ARN and stored.description == "batch jobs"
    program.ok("iam", "delete-role-permissions-boundary", "--role-name", "worker")

    # alice assumes it with her access key (from the environment), with a session policy and tags
    key_env = {"IAMGUARD_ACCESS_KEY_ID": key_id, "IAMGUARD_SECRET_ACCESS_KEY": secret}
    assumed = program.ok("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "job-1",
                         "--policy", json.dumps(READ), "--tags", "project=alpha", "--source-identity", "alice",
                         "--duration-seconds", "1800", "--output", "json", env=key_env).json()
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TENANT}:assumed-role/worker/job-1"
    role_token = assumed["Credentials"]["SessionToken"]
    with program.state() as state:
        role_session = state.credentials.authenticate(role_token)
        assert (role_session.source_arn, role_session.role_session_name) == (ROLE_ARN, "job-1")
        assert dict(role_session.session_tags) == {"project": "alpha"} and role_session.source_identity == "alice"
        assert len(role_session.session_policies) == 1 and state.directory.get_role("worker").permissions_boundary \
            is None
    as_role = program.ok("sts", "get-caller-identity", "--output", "json", env={TOKEN_VARIABLE: role_token}).json()
    assert as_role["Arn"] == assumed["AssumedRoleUser"]["Arn"]

    # once the trust policy names someone else, alice is denied: a "no" answer, exit status 1
    program.ok("iam", "create-user", "--user-name", "admin")
    program.ok("iam", "update-assume-role-policy", "--role-name", "worker", "--policy-document",
               json.dumps(trust_for(ADMIN_ARN)))
    program.refused("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "job-2", env=key_env,
                    code=1, message="AccessDenied")
    with program.state() as state:
        assert state.directory.get_role("worker").trust_policy_dict() == trust_for(ADMIN_ARN)

    # deactivating the key ends the sessions minted with it; then both keys go
    program.ok("iam", "update-access-key", "--access-key-id", key_id, "--status", "Inactive", "--user-name", "alice")
    revoked = program.refused("sts", "get-caller-identity", env={TOKEN_VARIABLE: token}, message="RevokedToken")
    assert token not in revoked.err
    with program.state() as state:
        assert {k.access_key_id: k.status for k in state.credentials.list_access_keys("alice")} == {
            key_id: "Inactive", second_id: "Active"}
    program.refused("iam", "delete-access-key", "--access-key-id", key_id, "--user-name", "bob",
                    message="NoSuchEntity")
    program.ok("iam", "delete-access-key", "--access-key-id", key_id, "--user-name", "alice")
    program.ok("iam", "delete-access-key", "--access-key-id", second_id)
    program.refused("iam", "get-access-key-last-used", "--access-key-id", key_id, message="NoSuchEntity")

    # the role goes once its policies are gone
    program.refused("iam", "delete-role", "--role-name", "worker", message="DeleteConflict")
    program.ok("iam", "detach-role-policy", "--role-name", "worker", "--policy-arn", ORDERS_ARN)
    program.ok("iam", "delete-role-policy", "--role-name", "worker", "--policy-name", "Read")
    program.ok("iam", "delete-role", "--role-name", "worker")
    with program.state() as state:
        assert state.credentials.list_access_keys("alice") == ()
        with pytest.raises(NoSuchEntityError):
            state.directory.get_role("worker")


class Authenticator:
    """The user's authenticator app, set up from the printed provisioning URI.

    The program under test reads the real clock, so codes are chosen by TOTP step. The server accepts
    one step either side of its own and each step once per device (steps only move forward). Enrolment
    uses the current step as its second code and the one use after it the next unused step no earlier
    than the current one: both stay inside the window even if a step boundary passes while the
    process starts. A device is used at most twice, so no test ever waits for the clock.
    """

    def __init__(self, provisioning_uri: str) -> None:
        otp = pyotp.parse_uri(provisioning_uri)
        assert isinstance(otp, pyotp.TOTP)
        self.totp = otp
        self.last_step: int | None = None

    def _step_now(self) -> int:
        return int(time.time() // self.totp.interval)

    def _code(self, step: int) -> str:
        return self.totp.at(step * self.totp.interval)

    def enrolment_codes(self) -> tuple[str, str]:
        step = self._step_now()
        self.last_step = step
        return self._code(step - 1), self._code(step)

    def next_code(self) -> str:
        assert self.last_step is not None, "enrol the device first"
        now = self._step_now()
        step = max(now, self.last_step + 1)
        assert step <= now + 1, "a device may be used only once after enrolment within one 30-second step"
        self.last_step = step
        return self._code(step)


@workflow("iam create-virtual-mfa-device", "iam enable-mfa-device", "iam list-mfa-devices",
          "iam deactivate-mfa-device", "iam delete-virtual-mfa-device", "sts get-session-token")
def test_mfa_enrolment_sessions_deactivation_and_deletion(program: Program) -> None:
    with program.seeded() as state:
        state.directory.create_user("alice")
        key = state.credentials.create_access_key("alice")
    key_env = {"IAMGUARD_ACCESS_KEY_ID": key.access_key_id, "IAMGUARD_SECRET_ACCESS_KEY": key.secret_access_key}
    phone_serial = f"arn:aws:iam::{TENANT}:mfa/phone"

    # the table output shows the provisioning URI (and a QR code with --qr): enrol the app from it
    created = program.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                         "phone", "--qr")
    assert field(created.out, "SerialNumber") == phone_serial
    assert "\u2588" * 20 in created.out  # the QR code's quiet zone and modules, drawn with block characters
    phone = Authenticator(field(created.out, "ProvisioningUri"))
    assert phone.totp.name == "alice" and phone.totp.issuer == "iamguard"
    first, second = phone.enrolment_codes()
    program.refused("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", phone_serial,
                    "--authentication-code1", second, "--authentication-code2", first,
                    message="InvalidAuthenticationCode")
    program.ok("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", phone_serial,
               "--authentication-code1", first, "--authentication-code2", second)
    devices = program.ok("iam", "list-mfa-devices", "--user-name", "alice", "--output", "json").json()
    assert [(d["SerialNumber"], d["Enabled"]) for d in devices["MFADevices"]] == [(phone_serial, True)]

    # a session token with MFA; the same code cannot be used twice
    code = phone.next_code()
    issued = program.ok("sts", "get-session-token", "--serial-number", phone_serial, "--token-code", code,
                        "--output", "json", env=key_env).json()
    with program.state() as state:
        session = state.credentials.authenticate(issued["Credentials"]["SessionToken"])
        assert session.principal_arn == ALICE_ARN and session.mfa_authenticated_at is not None
    program.refused("iam", "deactivate-mfa-device", "--user-name", "alice", "--serial-number", phone_serial,
                    "--authentication-code", code, message="InvalidAuthenticationCode")
    program.refused("iam", "delete-virtual-mfa-device", "--serial-number", phone_serial, message="DeleteConflict")

    # a second device (JSON output this time): enrolled, deactivated with a fresh code, deleted
    tablet = program.ok("iam", "create-virtual-mfa-device", "--user-name", "alice", "--virtual-mfa-device-name",
                        "tablet", "--output", "json").json()["VirtualMFADevice"]
    app = Authenticator(tablet["ProvisioningUri"])
    assert app.totp.secret == tablet["Base32Seed"]
    first, second = app.enrolment_codes()
    program.ok("iam", "enable-mfa-device", "--user-name", "alice", "--serial-number", tablet["SerialNumber"],
               "--authentication-code1", first, "--authentication-code2", second)
    program.ok("iam", "deactivate-mfa-device", "--user-name", "alice", "--serial-number", tablet["SerialNumber"],
               "--authentication-code", app.next_code())
    listed = rows(program.ok("iam", "list-mfa-devices", "--user-name", "alice").out)
    assert sorted(cells[:2] for cells in listed) == [[phone_serial, "true"], [tablet["SerialNumber"], "false"]]
    program.ok("iam", "delete-virtual-mfa-device", "--serial-number", tablet["SerialNumber"])
    with program.state() as state:
        assert [(d.serial_number, d.enabled) for d in state.credentials.list_mfa_devices("alice")] == [
            (phone_serial, True)]


@workflow("iam get-account-password-policy", "iam update-account-password-policy",
          "iam delete-account-password-policy", "iam create-login-profile", "iam get-login-profile",
          "iam update-login-profile", "iam delete-login-profile")
def test_login_profiles_and_the_password_policy(program: Program) -> None:
    with program.seeded() as state:
        state.directory.create_user("bob")
    first_password, second_password = "Correct-horse-7", "Battery staple 9!"

    defaults = program.ok("iam", "get-account-password-policy", "--output", "json").json()
    assert defaults == {"PasswordPolicy": {
        "MinimumPasswordLength": 8, "RequireSymbols": False, "RequireNumbers": False,
        "RequireUppercaseCharacters": False, "RequireLowercaseCharacters": False, "ExpirePasswords": False}}
    updated = program.ok("iam", "update-account-password-policy", "--minimum-password-length", "12",
                         "--require-numbers", "--require-symbols", "--password-reuse-prevention", "2",
                         "--max-password-age", "90").out
    assert [field(updated, name) for name in ("MinimumPasswordLength", "RequireNumbers", "RequireUppercaseCharacters",
                                              "MaxPasswordAge", "PasswordReusePrevention")] == [
        "12", "true", "false", "90", "2"]
    program.refused("iam", "update-account-password-policy", "--minimum-password-length", "4",
                    message="InvalidInput: --minimum-password-length must be between 6 and 128")
    shown = program.ok("iam", "get-account-password-policy").out
    assert field(shown, "ExpirePasswords") == "true" and field(shown, "RequireSymbols") == "true"
    with program.state() as state:
        assert state.credentials.get_account_password_policy() == PasswordPolicy(
            minimum_length=12, require_symbols=True, require_numbers=True, reuse_prevention=2, max_age_days=90)

    # the password comes from $IAMGUARD_PASSWORD or stdin; as an argument it is refused, unechoed
    weak = program.refused("iam", "create-login-profile", "--user-name", "bob", env={PASSWORD_VARIABLE: "short-1"},
                           message="PasswordPolicyViolation")
    assert "short-1" not in weak.err and "at least 12 characters" in weak.err
    as_argument = program.refused("iam", "create-login-profile", "--user-name", "bob", "--password", first_password,
                                  message="--password is not accepted")
    assert first_password not in as_argument.err
    created = program.ok("iam", "create-login-profile", "--user-name", "bob", "--password-reset-required",
                         "--output", "json", stdin=first_password + "\n")
    profile = created.json()["LoginProfile"]
    assert (profile["UserName"], profile["PasswordResetRequired"]) == ("bob", True)
    assert first_password not in created.out
    program.refused("iam", "create-login-profile", "--user-name", "bob", stdin=first_password + "\n",
                    message="EntityAlreadyExists")
    with program.state() as state:
        with pytest.raises(PasswordExpired):  # the right password, but a new one must be chosen first
            state.credentials.check_password("bob", first_password)
        with pytest.raises(AuthenticationFailed):
            state.credentials.check_password("bob", second_password)
    assert field(program.ok("iam", "get-login-profile", "--user-name", "bob").out, "PasswordResetRequired") == "true"

    # a new password (spaces kept), reuse refused by the policy, and the reset flag cleared
    program.refused("iam", "update-login-profile", "--user-name", "bob", message="nothing to update")
    changed = program.ok("iam", "update-login-profile", "--user-name", "bob", "--set-password",
                         "--no-password-reset-required", env={PASSWORD_VARIABLE: second_password})
    assert changed.out == "updated the login profile of user bob: set a new password, password reset not required\n"
    program.refused("iam", "update-login-profile", "--user-name", "bob", "--set-password",
                    stdin=first_password + "\n", message="must differ from the last 2 passwords")
    with program.state() as state:
        assert state.credentials.check_password("bob", second_password).user_arn.endswith(":user/bob")
        with pytest.raises(AuthenticationFailed):
            state.credentials.check_password("bob", first_password)
    shown_profile = program.ok("iam", "get-login-profile", "--user-name", "bob", "--output", "json").json()
    assert shown_profile["LoginProfile"]["PasswordResetRequired"] is False

    # removal: the profile, then the policy (back to the defaults)
    program.ok("iam", "delete-login-profile", "--user-name", "bob")
    program.refused("iam", "get-login-profile", "--user-name", "bob", message="NoSuchEntity")
    program.refused("iam", "update-login-profile", "--user-name", "bob", "--set-password",
                    env={PASSWORD_VARIABLE: first_password}, message="user bob has no login profile")
    program.ok("iam", "delete-account-password-policy")
    with program.state() as state:
        assert state.credentials.get_account_password_policy() == PasswordPolicy()
        with pytest.raises(NoSuchEntityError):
            state.credentials.get_login_profile("bob")


def _names(listing: dict[str, Any], key: str, name: str | None) -> list[str]:
    return [item if name is None else item[name] for item in listing[key]]


@workflow("iam list-users", "iam list-groups", "iam list-roles", "iam list-policies", "iam list-groups-for-user",
          "iam list-policy-versions", "iam list-attached-user-policies", "iam list-user-policies")
def test_list_commands_page_with_max_items_and_starting_token(program: Program) -> None:
    users, groups, roles, policies = (["u1", "u2", "u3", "u4", "u5"], ["g1", "g2", "g3"], ["r1", "r2", "r3"],
                                      ["p1", "p2", "p3"])
    arns = [f"arn:aws:iam::{TENANT}:policy/{name}" for name in policies]
    with program.seeded() as state:
        directory = state.directory
        for name in users:
            directory.create_user(name)
        for name in groups:
            directory.create_group(name)
            directory.add_user_to_group(name, "u1")
        for name in roles:
            directory.create_role(name, json.dumps(trust_for(f"arn:aws:iam::{TENANT}:user/u1")))
        for name, arn in zip(policies, arns, strict=True):
            directory.create_policy(name, json.dumps(READ))
            directory.attach_user_policy("u1", arn)
            directory.put_user_policy("u1", f"inline-{name}", json.dumps(READ))
        directory.create_policy_version(arns[0], json.dumps(WRITE))

    # JSON: a NextToken while more remain, none on the last page
    page = program.ok("iam", "list-users", "--max-items", "2", "--output", "json").json()
    assert _names(page, "Users", "UserName") == ["u1", "u2"] and page["NextToken"]
    rest = program.ok("iam", "list-users", "--starting-token", page["NextToken"], "--output", "json").json()
    assert _names(rest, "Users", "UserName") == ["u3", "u4", "u5"] and "NextToken" not in rest
    # table: the token as a last line
    table = program.ok("iam", "list-users", "--max-items", "4").out
    token = re.search(r"^NextToken: (\S+)", table, re.MULTILINE)
    assert first_column(table) == ["u1", "u2", "u3", "u4"] and token is not None
    last = program.ok("iam", "list-users", "--max-items", "4", "--starting-token", token.group(1)).out
    assert first_column(last) == ["u5"] and "NextToken" not in last

    for args, key, name, expected in (
        (["list-groups"], "Groups", "GroupName", groups),
        (["list-roles"], "Roles", "RoleName", roles),
        (["list-policies"], "Policies", "PolicyName", policies),
    ):
        page = program.ok("iam", *args, "--max-items", "2", "--output", "json").json()
        rest = program.ok("iam", *args, "--max-items", "2", "--starting-token", page["NextToken"],
                          "--output", "json").json()
        assert _names(page, key, name) + _names(rest, key, name) == expected and "NextToken" not in rest
    for args, key, name, count in (
        (["list-groups-for-user", "--user-name", "u1"], "Groups", "GroupName", 3),
        (["list-policy-versions", "--policy-arn", arns[0]], "Versions", "VersionId", 2),
        (["list-attached-user-policies", "--user-name", "u1"], "AttachedPolicies", "PolicyName", 3),
        (["list-user-policies", "--user-name", "u1"], "PolicyNames", None, 3),
    ):
        page = program.ok("iam", *args, "--max-items", "1", "--output", "json").json()
        everything = program.ok("iam", *args, "--output", "json").json()
        assert len(_names(everything, key, name)) == count and "NextToken" not in everything
        assert _names(page, key, name) == _names(everything, key, name)[:1] and page["NextToken"]

    program.refused("iam", "list-users", "--max-items", "0", message="--max-items: expected a whole number")
    program.refused("iam", "list-users", "--starting-token", "not a token", message="InvalidInput")


# --- the store and working directory, outside any workflow ------------------------------------------

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
