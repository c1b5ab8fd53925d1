"""Audit of directory mutations (security spec LOG-02, LOG-04): one record per successful
mutation, named after the IAM API, with the target's identifiers and the identifiers before and
after; none for refused mutations or reads; a mutation that cannot be audited is rolled back."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from iamguard.audit import IAM_MUTATION, Auditor, AuditRecord, LoggingSink, MemorySink
from iamguard.clock import FrozenClock
from iamguard.directory import (
    AuditUnavailableError,
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    IamError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
    StoreError,
)
from iamguard.directory.auditing import MAX_LISTED_CHANGES, digest
from iamguard.directory.ids import PREFIXES
from iamguard.store.base import DirectoryStore, DirectoryWriter
from iamguard.store.memory import MemoryStore
from tests.directory.helpers import TENANT, allow, arn, refused, trust

OTHER_TENANT = "210987654321"
BASE = arn("policy", "Base")
SPARE = arn("policy", "Spare")


class BrokenSink:
    def emit(self, record: AuditRecord) -> None:
        raise OSError("audit disk full")


@dataclass
class Audited:
    directory: Directory
    sink: MemorySink
    ids: dict[str, str] = field(default_factory=dict)  # setup names -> unique ids

    @property
    def records(self) -> list[AuditRecord]:
        return self.sink.records


@pytest.fixture
def audited(store: DirectoryStore, clock: FrozenClock) -> Audited:
    """A tenant with one of everything, then an empty sink."""
    sink = MemorySink()
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=sink)
    ids = {
        "Base": directory.create_policy("Base", allow()).policy_id,
        "Spare": directory.create_policy("Spare", allow("s3:PutObject")).policy_id,
        "alice": directory.create_user("alice", tags={"team": "red"}).user_id,
        "devs": directory.create_group("devs").group_id,
        "app": directory.create_role("app", trust(), tags={"tier": "web"}).role_id,
    }
    sink.clear()
    return Audited(directory, sink, ids)


class Id:
    """A placeholder for the unique id of an entity made by the fixture."""

    def __init__(self, name: str) -> None:
        self.name = name


def resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, Id):
        return ids[value.name]
    if isinstance(value, dict):
        return {key: resolve(item, ids) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Row:
    event: str
    act: Callable[[Directory], Any]
    target: tuple[str, str, str]  # kind, name, ARN
    changes: tuple[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None], ...]  # op, kind, before, after
    prepare: Callable[[Directory], Any] = lambda directory: None


def ref(kind: str, name: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, "arn": arn(kind, name), "id": Id(name)}


ALICE, DEVS, APP, BASE_REF = ref("user", "alice"), ref("group", "devs"), ref("role", "app"), ref("policy", "Base")
UPDATED_TRUST = trust({"AWS": f"arn:aws:iam::{TENANT}:user/alice"})

ROWS = [
    Row("CreateUser", lambda d: d.create_user("bob", permissions_boundary=BASE), ("user", "bob", arn("user", "bob")),
        (("create", "user", None, {"name": "bob", "arn": arn("user", "bob"), "permissions_boundary": BASE}),)),
    Row("UpdateUser", lambda d: d.update_user("alice", new_user_name="alicia", new_path="/staff/"),
        ("user", "alicia", arn("user", "alicia", "/staff/")),
        (("update", "user", {"name": "alice", "path": "/", "arn": arn("user", "alice")},
          {"name": "alicia", "path": "/staff/", "arn": arn("user", "alicia", "/staff/")}),)),
    Row("DeleteUser", lambda d: d.delete_user("alice"), ("user", "alice", arn("user", "alice")),
        (("delete", "user", {**ALICE, "tags": {"team": "red"}}, None),)),
    Row("CreateGroup", lambda d: d.create_group("ops"), ("group", "ops", arn("group", "ops")),
        (("create", "group", None, {"name": "ops", "arn": arn("group", "ops")}),)),
    Row("UpdateGroup", lambda d: d.update_group("devs", new_group_name="builders"),
        ("group", "builders", arn("group", "builders")),
        (("update", "group", {"name": "devs", "arn": arn("group", "devs")},
          {"name": "builders", "arn": arn("group", "builders")}),)),
    Row("DeleteGroup", lambda d: d.delete_group("devs"), ("group", "devs", arn("group", "devs")),
        (("delete", "group", DEVS, None),)),
    Row("AddUserToGroup", lambda d: d.add_user_to_group("devs", "alice"), ("group", "devs", arn("group", "devs")),
        (("add", "membership", None, {"group": DEVS, "user": ALICE}),)),
    Row("RemoveUserFromGroup", lambda d: d.remove_user_from_group("devs", "alice"),
        ("group", "devs", arn("group", "devs")), (("remove", "membership", {"group": DEVS, "user": ALICE}, None),),
        prepare=lambda d: d.add_user_to_group("devs", "alice")),
    Row("CreateRole", lambda d: d.create_role("worker", trust()), ("role", "worker", arn("role", "worker")),
        (("create", "role", None, {"name": "worker", "trust_policy_sha256": digest(json.dumps(trust()))}),)),
    Row("UpdateRole", lambda d: d.update_role("app", max_session_duration=7200), ("role", "app", arn("role", "app")),
        (("update", "role", {"max_session_duration": 3600}, {"max_session_duration": 7200}),)),
    Row("UpdateAssumeRolePolicy", lambda d: d.update_assume_role_policy("app", UPDATED_TRUST),
        ("role", "app", arn("role", "app")),
        (("update", "role", {"trust_policy_sha256": digest(json.dumps(trust()))},
          {"trust_policy_sha256": digest(json.dumps(UPDATED_TRUST))}),)),
    Row("DeleteRole", lambda d: d.delete_role("app"), ("role", "app", arn("role", "app")),
        (("delete", "role", {**APP, "tags": {"tier": "web"}}, None),)),
    Row("CreatePolicy", lambda d: d.create_policy("Extra", allow()), ("policy", "Extra", arn("policy", "Extra")),
        (("create", "policy", None, {"name": "Extra", "arn": arn("policy", "Extra"), "default_version": "v1"}),
         ("create", "policy_version", None, {"version_id": "v1", "document_sha256": digest(json.dumps(allow()))}))),
    Row("DeletePolicy", lambda d: d.delete_policy(SPARE), ("policy", "Spare", SPARE),
        (("delete", "policy", ref("policy", "Spare"), None),)),
    Row("CreatePolicyVersion", lambda d: d.create_policy_version(BASE, allow("s3:*"), set_as_default=True),
        ("policy", "Base", BASE),
        (("create", "policy_version", None, {"policy_id": Id("Base"), "version_id": "v2"}),
         ("update", "policy", {"default_version": "v1"}, {"default_version": "v2"}))),
    Row("SetDefaultPolicyVersion", lambda d: d.set_default_policy_version(BASE, "v2"), ("policy", "Base", BASE),
        (("update", "policy", {"default_version": "v1"}, {"default_version": "v2"}),),
        prepare=lambda d: d.create_policy_version(BASE, allow("s3:*"))),
    Row("DeletePolicyVersion", lambda d: d.delete_policy_version(BASE, "v2"), ("policy", "Base", BASE),
        (("delete", "policy_version", {"policy_id": Id("Base"), "version_id": "v2",
                                       "document_sha256": digest(json.dumps(allow("s3:*")))}, None),),
        prepare=lambda d: d.create_policy_version(BASE, allow("s3:*"))),
    Row("TagUser", lambda d: d.tag_user("alice", {"team": "blue", "cost": "7"}),
        ("user", "alice", arn("user", "alice")),
        (("update", "user", {"tags": {"team": "red"}}, {"tags": {"team": "blue", "cost": "7"}}),)),
    Row("UntagUser", lambda d: d.untag_user("alice", ["team"]), ("user", "alice", arn("user", "alice")),
        (("update", "user", {"tags": {"team": "red"}}, {"tags": {}}),)),
    Row("TagRole", lambda d: d.tag_role("app", {"tier": "db"}), ("role", "app", arn("role", "app")),
        (("update", "role", {"tags": {"tier": "web"}}, {"tags": {"tier": "db"}}),)),
    Row("UntagRole", lambda d: d.untag_role("app", ["tier"]), ("role", "app", arn("role", "app")),
        (("update", "role", {"tags": {"tier": "web"}}, {"tags": {}}),)),
    Row("PutUserPermissionsBoundary", lambda d: d.put_user_permissions_boundary("alice", BASE),
        ("user", "alice", arn("user", "alice")),
        (("update", "user", {"permissions_boundary": None}, {"permissions_boundary": BASE}),)),
    Row("PutRolePermissionsBoundary", lambda d: d.put_role_permissions_boundary("app", SPARE),
        ("role", "app", arn("role", "app")),
        (("update", "role", {"permissions_boundary": BASE}, {"permissions_boundary": SPARE}),),
        prepare=lambda d: d.put_role_permissions_boundary("app", BASE)),
    Row("DeleteRolePermissionsBoundary", lambda d: d.delete_role_permissions_boundary("app"),
        ("role", "app", arn("role", "app")),
        (("update", "role", {"permissions_boundary": BASE}, {"permissions_boundary": None}),),
        prepare=lambda d: d.put_role_permissions_boundary("app", BASE)),
    Row("AttachUserPolicy", lambda d: d.attach_user_policy("alice", BASE), ("user", "alice", arn("user", "alice")),
        (("attach", "attachment", None, {"principal": ALICE, "policy": BASE_REF}),)),
    Row("AttachGroupPolicy", lambda d: d.attach_group_policy("devs", BASE), ("group", "devs", arn("group", "devs")),
        (("attach", "attachment", None, {"principal": DEVS, "policy": BASE_REF}),)),
    Row("AttachRolePolicy", lambda d: d.attach_role_policy("app", BASE), ("role", "app", arn("role", "app")),
        (("attach", "attachment", None, {"principal": APP, "policy": BASE_REF}),)),
    Row("DetachRolePolicy", lambda d: d.detach_role_policy("app", BASE), ("role", "app", arn("role", "app")),
        (("detach", "attachment", {"principal": APP, "policy": BASE_REF}, None),),
        prepare=lambda d: d.attach_role_policy("app", BASE)),
    Row("PutUserPolicy", lambda d: d.put_user_policy("alice", "Inline", allow()),
        ("user", "alice", arn("user", "alice")),
        (("put", "inline_policy", None, {"owner": ALICE, "policy_name": "Inline",
                                         "document_sha256": digest(json.dumps(allow()))}),)),
    Row("PutGroupPolicy", lambda d: d.put_group_policy("devs", "Inline", allow("s3:*")),
        ("group", "devs", arn("group", "devs")),
        (("put", "inline_policy", {"owner": DEVS, "policy_name": "Inline",
                                   "document_sha256": digest(json.dumps(allow()))},
          {"owner": DEVS, "policy_name": "Inline", "document_sha256": digest(json.dumps(allow("s3:*")))}),),
        prepare=lambda d: d.put_group_policy("devs", "Inline", allow())),
    Row("DeleteRolePolicy", lambda d: d.delete_role_policy("app", "Inline"), ("role", "app", arn("role", "app")),
        (("delete", "inline_policy", {"owner": APP, "policy_name": "Inline",
                                      "document_sha256": digest(json.dumps(allow()))}, None),),
        prepare=lambda d: d.put_role_policy("app", "Inline", allow())),
]


def assert_subset(actual: Any, expected: Any, where: str) -> None:
    if expected is None or not isinstance(expected, dict):
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        return
    assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
    for key, value in expected.items():
        assert key in actual, f"{where}.{key} missing from {actual!r}"
        assert_subset(actual[key], value, f"{where}.{key}")


def only_record(audited: Audited) -> dict[str, Any]:
    assert len(audited.records) == 1, [record.action for record in audited.records]
    return audited.records[0].to_dict()


@pytest.mark.parametrize("row", ROWS, ids=[row.event for row in ROWS])
def test_each_mutation_is_recorded_with_identifiers(audited: Audited, clock: FrozenClock, row: Row) -> None:
    row.prepare(audited.directory)
    audited.sink.clear()
    row.act(audited.directory)
    record = only_record(audited)
    extra = record["extra"]
    kind, name, target_arn = row.target
    assert (record["action"], record["reason"], record["effect"]) == (f"iam:{row.event}", IAM_MUTATION, "Allow")
    assert (extra["event"], extra["outcome"], extra["tenant"]) == (row.event, "success", TENANT)
    assert record["time"] == clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert record["resource"] == target_arn
    assert {key: extra["target"][key] for key in ("kind", "name", "arn")} == {"kind": kind, "name": name,
                                                                              "arn": target_arn}
    expected_id = audited.ids.get(name)
    if expected_id is None:  # created or renamed by this row: an id of the right kind
        assert extra["target"]["id"].startswith(PREFIXES[kind]), extra["target"]
    else:
        assert extra["target"]["id"] == expected_id
    assert [(change["op"], change["kind"]) for change in extra["changes"]] == \
        [(op, change_kind) for op, change_kind, _, _ in row.changes]
    for index, (_, _, before, after) in enumerate(row.changes):
        assert_subset(extra["changes"][index]["before"], resolve(before, audited.ids), f"{row.event}.before")
        assert_subset(extra["changes"][index]["after"], resolve(after, audited.ids), f"{row.event}.after")


def test_a_rename_keeps_the_unique_id_in_the_record(audited: Audited) -> None:
    audited.directory.update_user("alice", new_user_name="alicia")
    extra = only_record(audited)["extra"]
    assert extra["target"]["id"] == extra["changes"][0]["id"] == audited.ids["alice"]


def test_a_mutation_that_changes_nothing_is_still_recorded_with_its_target(audited: Audited) -> None:
    # IAM answers success to a repeated attach; the call is audited, with no change listed.
    audited.directory.attach_user_policy("alice", BASE)
    audited.sink.clear()
    audited.directory.attach_user_policy("alice", BASE)
    extra = only_record(audited)["extra"]
    assert extra["changes"] == []
    assert extra["target"]["arn"] == arn("user", "alice")
    assert {item["arn"] for item in extra["resources"]} == {arn("user", "alice"), BASE}


TENANT_ROWS = [
    ("CreateTenant", lambda store, sink, clock: Directory.create_tenant(store, OTHER_TENANT, name="beta",
                                                                          clock=clock, audit=sink),
     ("create", "tenant", None, {"id": OTHER_TENANT, "name": "beta", "arn": f"arn:aws:iam::{OTHER_TENANT}:root"})),
    ("DeleteTenant", lambda store, sink, clock: Directory.delete_tenant(store, OTHER_TENANT, clock=clock,
                                                                          audit=sink),
     ("delete", "tenant", {"id": OTHER_TENANT, "name": "beta"}, None)),
]


@pytest.mark.parametrize(("event", "act", "change"), TENANT_ROWS, ids=[row[0] for row in TENANT_ROWS])
def test_tenant_mutations_are_recorded(store: DirectoryStore, clock: FrozenClock, event: str,
                                       act: Callable[..., Any], change: tuple[Any, ...]) -> None:
    sink = MemorySink()
    if event == "DeleteTenant":
        Directory.create_tenant(store, OTHER_TENANT, name="beta", clock=clock)
    act(store, sink, clock)
    assert len(sink.records) == 1
    extra = sink.records[0].to_dict()["extra"]
    assert (sink.records[0].action, extra["tenant"], extra["target"]["id"]) == (f"iam:{event}", OTHER_TENANT,
                                                                                OTHER_TENANT)
    op, kind, before, after = change
    assert (extra["changes"][0]["op"], extra["changes"][0]["kind"]) == (op, kind)
    assert_subset(extra["changes"][0]["before"], before, "before")
    assert_subset(extra["changes"][0]["after"], after, "after")


def test_an_import_is_one_record_that_summarises_a_large_tenant(audited: Audited, clock: FrozenClock) -> None:
    with audited.directory.batch():
        for number in range(MAX_LISTED_CHANGES):
            audited.directory.create_user(f"user{number}")
    exported = audited.directory.export_tenant()
    sink = MemorySink()
    Directory.import_tenant(MemoryStore(), exported, clock=clock, audit=sink)
    assert len(sink.records) == 1
    extra = sink.records[0].to_dict()["extra"]
    assert (sink.records[0].action, extra["target"]["kind"], extra["target"]["id"]) == \
        ("iam:ImportTenant", "tenant", TENANT)
    assert len(extra["changes"]) == MAX_LISTED_CHANGES
    listed_users = sum(1 for change in extra["changes"] if change["kind"] == "user")
    assert listed_users + extra["summary"]["create user"] == MAX_LISTED_CHANGES + 1  # and alice


# Refusals: a mutation that fails leaves no record and no change.

def nothing(directory: Directory) -> None:
    return None


REFUSED = [
    ("duplicate user", EntityAlreadyExistsError, nothing, lambda d: d.create_user("alice")),
    ("unknown user", NoSuchEntityError, nothing, lambda d: d.attach_user_policy("nobody", BASE)),
    ("malformed document", MalformedPolicyDocumentError, nothing,
     lambda d: d.put_user_policy("alice", "P", {"bad": 1})),
    ("attached policy", DeleteConflictError, lambda d: d.attach_role_policy("app", BASE),
     lambda d: d.delete_policy(BASE)),
    ("member left in group", DeleteConflictError, lambda d: d.add_user_to_group("devs", "alice"),
     lambda d: d.delete_user("alice")),
    ("bad name", InvalidInputError, nothing, lambda d: d.create_group("no spaces allowed")),
    ("too many tags", LimitExceededError, nothing, lambda d: d.tag_user("alice", {f"k{n}": "v" for n in range(60)})),
    ("open trust", MalformedPolicyDocumentError, nothing, lambda d: d.update_assume_role_policy("app", trust("*"))),
    ("default version", DeleteConflictError, nothing, lambda d: d.delete_policy_version(BASE, "v1")),
    ("not a member", NoSuchEntityError, nothing, lambda d: d.remove_user_from_group("devs", "alice")),
]


@pytest.mark.parametrize(("label", "error", "prepare", "act"), REFUSED, ids=[row[0] for row in REFUSED])
def test_a_refused_mutation_leaves_no_record(audited: Audited, label: str, error: type[Exception],
                                             prepare: Callable[[Directory], Any],
                                             act: Callable[[Directory], Any]) -> None:
    prepare(audited.directory)
    audited.sink.clear()
    refused(audited.directory, error, act, audited.directory)
    assert audited.records == []


def test_reads_are_never_audited(audited: Audited) -> None:
    directory = audited.directory
    directory.attach_user_policy("alice", BASE)
    audited.sink.clear()
    directory.get_user("alice")
    directory.list_users()
    directory.get_group("devs")
    directory.list_groups_for_user("alice")
    directory.get_role("app")
    directory.list_roles()
    directory.get_policy(BASE)
    directory.list_policies()
    directory.list_policy_versions(BASE)
    directory.list_attached_user_policies("alice")
    directory.list_entities_for_policy(BASE)
    directory.list_user_tags("alice")
    directory.export_tenant()
    directory.get_account_authorization_details()
    directory.resolve(arn("user", "alice"))
    assert directory.authorize(arn("user", "alice"), "s3:GetObject", "*").allowed
    directory.simulate_principal_policy(arn("user", "alice"), ["s3:GetObject"])
    Directory.list_tenants(directory.store)
    assert audited.records == []


# Refuse on audit failure (LOG-04).

FAILING = [
    ("CreateUser", lambda d: d.create_user("bob")),
    ("AttachUserPolicy", lambda d: d.attach_user_policy("alice", BASE)),
    ("PutRolePolicy", lambda d: d.put_role_policy("app", "Inline", allow())),
    ("CreatePolicyVersion", lambda d: d.create_policy_version(BASE, allow("s3:*"), set_as_default=True)),
    ("DeleteUser", lambda d: d.delete_user("alice")),
    ("UpdateAssumeRolePolicy", lambda d: d.update_assume_role_policy("app", UPDATED_TRUST)),
]


@pytest.mark.parametrize(("event", "act"), FAILING, ids=[row[0] for row in FAILING])
def test_a_mutation_that_cannot_be_audited_is_rolled_back(audited: Audited, event: str,
                                                          act: Callable[[Directory], Any],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    witness = MemorySink()
    audited.directory.auditor = Auditor([witness, BrokenSink()])
    with caplog.at_level(logging.ERROR, logger="iamguard.audit.failure"):
        error = refused(audited.directory, AuditUnavailableError, act, audited.directory)
    assert isinstance(error, IamError) and error.code == "ServiceFailure" and event in str(error)
    # The working sink learns the change was attempted and then undone; the failure is reported.
    outcomes = [(record.action, record.extra["outcome"]) for record in witness.records]
    assert outcomes == [(f"iam:{event}", "success"), (f"iam:{event}", "rolled_back")]
    assert witness.records[0].request_id == witness.records[1].request_id
    assert f"iam:{event}" in caplog.text and "OSError" in caplog.text


def test_a_tenant_that_cannot_be_audited_is_not_created(store: DirectoryStore) -> None:
    with pytest.raises(AuditUnavailableError):
        Directory.create_tenant(store, OTHER_TENANT, audit=BrokenSink())
    assert Directory.list_tenants(store) == ()


def test_a_batch_delivers_its_records_before_it_commits(audited: Audited) -> None:
    directory = audited.directory
    with directory.batch():
        directory.create_user("bob")
        with pytest.raises(EntityAlreadyExistsError):  # undone on its own: no record
            directory.create_user("bob")
        directory.add_user_to_group("devs", "bob")
        assert audited.records == []  # not yet: the batch may still fail
    assert [record.action for record in audited.records] == ["iam:CreateUser", "iam:AddUserToGroup"]
    assert len({record.extra["transaction_id"] for record in audited.records}) == 1


def test_a_failed_batch_leaves_no_success_record(audited: Audited) -> None:
    before = audited.directory.export_tenant()
    with pytest.raises(RuntimeError), audited.directory.batch():
        audited.directory.create_user("bob")
        raise RuntimeError("abandon")
    assert audited.records == []
    assert audited.directory.export_tenant() == before


def test_a_batch_that_cannot_be_audited_is_rolled_back_whole(audited: Audited) -> None:
    directory = audited.directory
    directory.auditor = Auditor(BrokenSink())
    before = directory.export_tenant()
    with pytest.raises(AuditUnavailableError), directory.batch():
        directory.create_user("bob")
        directory.create_group("ops")
    assert directory.export_tenant() == before


class CommitFails(MemoryStore):
    """A store whose commit (`fail`) or savepoint release (`fail_nested`) fails after the
    operation and its audit have run."""

    fail = False
    fail_nested = False

    @contextmanager
    def write(self) -> Iterator[DirectoryWriter]:
        outermost = not self.in_write()
        with super().write() as writer:
            yield writer
            if self.fail if outermost else self.fail_nested:
                raise StoreError("cannot write the directory: disk I/O error")


def test_a_commit_that_fails_after_the_audit_is_followed_by_a_rolled_back_record(clock: FrozenClock) -> None:
    store, sink = CommitFails(), MemorySink()
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=sink)
    store.fail = True
    with pytest.raises(StoreError):
        directory.create_user("bob")
    assert [record.extra["outcome"] for record in sink.records] == ["success", "rolled_back"]
    store.fail = False
    with pytest.raises(NoSuchEntityError):
        directory.get_user("bob")


def test_an_operation_undone_inside_a_batch_loses_its_record(clock: FrozenClock) -> None:
    store, sink = CommitFails(), MemorySink()
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=sink)
    with directory.batch():
        store.fail_nested = True
        with pytest.raises(StoreError):  # its savepoint is undone after its record was built
            directory.create_user("bob")
        store.fail_nested = False
        directory.create_group("ops")
    assert [record.action for record in sink.records] == ["iam:CreateGroup"]
    assert [user.user_name for user in directory.list_users()] == []


# Delivery: the Directory takes what the Guard takes; records are JSON lines without documents.

def test_the_default_is_the_logging_sink(store: DirectoryStore, clock: FrozenClock,
                                         caplog: pytest.LogCaptureFixture) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    assert [type(sink) for sink in directory.auditor.sinks] == [LoggingSink]
    with caplog.at_level(logging.INFO, logger="iamguard.audit"):
        directory.create_group("ops")
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "iamguard.audit"]
    assert [(line["action"], line["extra"]["target"]["name"]) for line in lines] == [("iam:CreateGroup", "ops")]


@pytest.mark.parametrize("shape", ["auditor", "sink", "list"])
def test_audit_accepts_an_auditor_a_sink_or_sinks(store: DirectoryStore, shape: str) -> None:
    sink = MemorySink()
    Directory.create_tenant(store, TENANT)
    given: Any = {"auditor": Auditor(sink), "sink": sink, "list": [sink]}[shape]
    directory = Directory(store, TENANT, audit=given)
    if shape == "auditor":
        assert directory.auditor is given
    directory.create_group("ops")
    assert [record.action for record in sink.records] == ["iam:CreateGroup"]


def test_records_are_single_ascii_lines_without_documents(audited: Audited) -> None:
    # Names and tags are validated to a safe charset before they get here; free text (documents,
    # role descriptions) is only ever represented by its digest.
    marker = "arn:aws:s3:::only-in-the-document"
    audited.directory.put_user_policy("alice", "Inline", allow(resource=marker))
    audited.directory.update_role("app", description=f"reads {marker}")
    lines = [record.to_json() for record in audited.records]
    assert len(lines) == 2
    for line in lines:
        assert "\n" not in line and line.isascii() and marker not in line
    assert json.loads(lines[1])["extra"]["changes"][0]["after"]["description_sha256"] == digest(f"reads {marker}")
