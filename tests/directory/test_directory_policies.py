"""Managed policies and versions; inline policies; attachments and their quotas."""

from __future__ import annotations

import json

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import (
    AttachedPolicy,
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
    PolicyEntities,
    Quotas,
)
from iamguard.store.base import DirectoryStore
from tests.directory.helpers import TENANT, allow, arn, deny, refused, trust


def test_create_policy(directory: Directory, clock: FrozenClock) -> None:
    text = json.dumps(allow(), indent=4)
    policy = directory.create_policy("ReadOnly", text, path="/team/", description="read things")
    assert policy.arn == arn("policy", "ReadOnly", "/team/")
    assert policy.policy_id.startswith("ANPA")
    assert (policy.default_version_id, policy.attachment_count, policy.permissions_boundary_usage_count) == \
        ("v1", 0, 0)
    assert policy.is_attachable and policy.description == "read things"
    assert policy.create_date == policy.update_date == clock.now()
    assert directory.get_policy(policy.arn) == policy
    version = directory.get_policy_version(policy.arn, "v1")
    assert version.document == text and version.is_default_version


def test_policy_names_are_unique_regardless_of_case_and_path(directory: Directory) -> None:
    directory.create_policy("ReadOnly", allow())
    refused(directory, EntityAlreadyExistsError, directory.create_policy, "readonly", allow(), path="/other/")


def test_policy_arns_match_exactly(directory: Directory) -> None:
    policy = directory.create_policy("ReadOnly", allow(), path="/team/")
    for wrong in (arn("policy", "ReadOnly"), arn("policy", "readonly", "/team/"),
                  "arn:aws:iam::999999999999:policy/team/ReadOnly", f"arn:aws-cn:iam::{TENANT}:policy/team/ReadOnly"):
        with pytest.raises(NoSuchEntityError):
            directory.get_policy(wrong)
    for malformed in ("ReadOnly", arn("user", "ReadOnly"), f"arn:aws:s3:::{TENANT}:policy/x", 42):
        with pytest.raises(InvalidInputError):
            directory.get_policy(malformed)  # type: ignore[arg-type]
    assert directory.get_policy(policy.arn).policy_name == "ReadOnly"


def test_malformed_policy_document_carries_findings(directory: Directory) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "s3:Get", "Resource": "*"}]}
    error = refused(directory, MalformedPolicyDocumentError, directory.create_policy, "Bad", document)
    assert [(finding.pointer, finding.code) for finding in error.findings] == [("/Statement/0/Effect",
                                                                                   "InvalidEffect")]
    refused(directory, MalformedPolicyDocumentError, directory.create_policy, "Bad", '{"Statement": [')
    refused(directory, MalformedPolicyDocumentError, directory.create_policy, "Bad",
            '{"Statement": [], "Statement": []}')


def test_managed_policy_size_counts_non_whitespace(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    compact = json.dumps(allow(), separators=(",", ":"))
    directory = Directory(store, TENANT, clock=clock, quotas=Quotas(managed_policy_size=len(compact)))
    spaced = json.dumps(allow(), indent=8)
    assert directory.create_policy("Fits", spaced).policy_name == "Fits"
    error = refused(directory, LimitExceededError, directory.create_policy, "TooBig", compact[:-1] + " ,\"Id\":\"x\"}")
    assert error.code == "LimitExceeded"


def test_default_managed_policy_size_is_6144(directory: Directory) -> None:
    big = allow(resource=["arn:aws:s3:::" + "x" * 100 + str(index) for index in range(60)])
    refused(directory, LimitExceededError, directory.create_policy, "Big", big)


def test_versions(directory: Directory, clock: FrozenClock) -> None:
    policy = directory.create_policy("P", allow("s3:GetObject"))
    clock.advance(60)
    v2 = directory.create_policy_version(policy.arn, allow("s3:PutObject"))
    assert (v2.version_id, v2.is_default_version) == ("v2", False)
    assert directory.get_policy(policy.arn).update_date == policy.update_date
    v3 = directory.create_policy_version(policy.arn, allow("s3:ListBucket"), set_as_default=True)
    assert v3.is_default_version
    assert directory.get_policy(policy.arn).default_version_id == "v3"
    assert directory.get_policy(policy.arn).update_date == clock.now()
    directory.set_default_policy_version(policy.arn, "v1")
    assert [(version.version_id, version.is_default_version)
            for version in directory.list_policy_versions(policy.arn)] == [("v1", True), ("v2", False), ("v3", False)]
    directory.delete_policy_version(policy.arn, "v3")
    # Version ids are never reused, even after a delete.
    assert directory.create_policy_version(policy.arn, allow()).version_id == "v4"


def test_version_errors(directory: Directory) -> None:
    policy = directory.create_policy("P", allow())
    error = refused(directory, DeleteConflictError, directory.delete_policy_version, policy.arn, "v1")
    assert "default version" in str(error)
    refused(directory, NoSuchEntityError, directory.set_default_policy_version, policy.arn, "v9")
    refused(directory, NoSuchEntityError, directory.delete_policy_version, policy.arn, "v2")
    refused(directory, InvalidInputError, directory.get_policy_version, policy.arn, "V1")
    refused(directory, InvalidInputError, directory.get_policy_version, policy.arn, "v01")
    refused(directory, MalformedPolicyDocumentError, directory.create_policy_version, policy.arn, {"Statement": 1})


def test_at_most_five_versions(directory: Directory) -> None:
    policy = directory.create_policy("P", allow())
    for _ in range(4):
        directory.create_policy_version(policy.arn, allow())
    error = refused(directory, LimitExceededError, directory.create_policy_version, policy.arn, allow())
    assert "up to 5 versions" in str(error)
    directory.delete_policy_version(policy.arn, "v2")
    assert directory.create_policy_version(policy.arn, allow()).version_id == "v6"


def test_delete_policy(directory: Directory) -> None:
    policy = directory.create_policy("P", allow())
    directory.delete_policy(policy.arn)
    refused(directory, NoSuchEntityError, directory.get_policy, policy.arn)
    # The name is free again, and the new policy is a different policy.
    again = directory.create_policy("P", allow())
    assert again.policy_id != policy.policy_id


@pytest.mark.parametrize("use", ["user", "group", "role", "boundary", "versions"])
def test_policy_in_use_cannot_be_deleted(directory: Directory, use: str) -> None:
    policy = directory.create_policy("P", allow())
    if use == "user":
        directory.create_user("alice")
        directory.attach_user_policy("alice", policy.arn)
    elif use == "group":
        directory.create_group("devs")
        directory.attach_group_policy("devs", policy.arn)
    elif use == "role":
        directory.create_role("app", trust())
        directory.attach_role_policy("app", policy.arn)
    elif use == "boundary":
        directory.create_user("alice", permissions_boundary=policy.arn)
    else:
        directory.create_policy_version(policy.arn, allow())
    error = refused(directory, DeleteConflictError, directory.delete_policy, policy.arn)
    assert len(error.dependents) == 1


def test_attachments_and_counts(directory: Directory) -> None:
    policy = directory.create_policy("P", allow())
    other = directory.create_policy("Other", allow(), path="/x/")
    directory.create_user("alice")
    directory.create_group("devs")
    directory.create_role("app", trust())
    directory.attach_user_policy("alice", policy.arn)
    directory.attach_user_policy("alice", other.arn)
    directory.attach_group_policy("devs", policy.arn)
    directory.attach_role_policy("app", policy.arn)
    generation = directory.store.generation()
    directory.attach_user_policy("alice", policy.arn)  # again: succeeds, changes nothing
    assert directory.store.generation() == generation
    assert directory.get_policy(policy.arn).attachment_count == 3
    assert directory.list_entities_for_policy(policy.arn) == PolicyEntities(("alice",), ("devs",), ("app",))
    assert directory.list_attached_user_policies("alice").items == (
        AttachedPolicy("Other", other.arn), AttachedPolicy("P", policy.arn))
    assert directory.list_attached_user_policies("alice", path_prefix="/x/").items == (
        AttachedPolicy("Other", other.arn),)
    assert directory.list_attached_group_policies("devs").items == (AttachedPolicy("P", policy.arn),)
    assert directory.list_attached_role_policies("app").items == (AttachedPolicy("P", policy.arn),)
    assert [item.policy_name for item in directory.list_policies(only_attached=True)] == ["Other", "P"]
    directory.detach_group_policy("devs", policy.arn)
    directory.detach_role_policy("app", policy.arn)
    directory.detach_user_policy("alice", policy.arn)
    assert directory.get_policy(policy.arn).attachment_count == 0
    assert [item.policy_name for item in directory.list_policies(only_attached=True)] == ["Other"]
    refused(directory, NoSuchEntityError, directory.detach_user_policy, "alice", policy.arn)
    refused(directory, NoSuchEntityError, directory.attach_user_policy, "alice", arn("policy", "Missing"))
    refused(directory, NoSuchEntityError, directory.attach_user_policy, "bob", policy.arn)


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_ten_managed_policies_per_principal(directory: Directory, kind: str) -> None:
    create = {"user": directory.create_user, "group": directory.create_group,
              "role": lambda name: directory.create_role(name, trust())}[kind]
    attach = getattr(directory, f"attach_{kind}_policy")
    create("p")
    with directory.batch():
        policies = [directory.create_policy(f"P{index}", allow()) for index in range(11)]
        for policy in policies[:10]:
            attach("p", policy.arn)
    error = refused(directory, LimitExceededError, attach, "p", policies[10].arn)
    assert f"PoliciesPer{kind.title()}: 10" in str(error)


def test_list_policies_paginates(directory: Directory) -> None:
    with directory.batch():
        for index in range(5):
            directory.create_policy(f"P{index}", allow())
    first = directory.list_policies(max_items=2)
    second = directory.list_policies(marker=first.marker, max_items=2)
    third = directory.list_policies(marker=second.marker, max_items=2)
    assert [p.policy_name for page in (first, second, third) for p in page] == [f"P{i}" for i in range(5)]
    assert (first.is_truncated, second.is_truncated, third.is_truncated) == (True, True, False)
    with pytest.raises(InvalidInputError):
        directory.list_policies(only_attached="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(directory: Directory, kind: str) -> None:
    create = {"user": directory.create_user, "group": directory.create_group,
              "role": lambda name: directory.create_role(name, trust())}[kind]
    create("p")
    put, get = getattr(directory, f"put_{kind}_policy"), getattr(directory, f"get_{kind}_policy")
    delete, listing = getattr(directory, f"delete_{kind}_policy"), getattr(directory, f"list_{kind}_policies")
    text = json.dumps(allow(), indent=1)
    put("p", "B", text)
    put("p", "A", deny())
    inline = get("p", "B")
    assert (inline.owner_name, inline.policy_name, inline.policy_document) == ("p", "B", text)
    assert listing("p").items == ("A", "B")
    put("p", "b", allow("s3:PutObject"))  # same name regardless of case: replaced
    assert listing("p").items == ("A", "b")
    assert get("p", "B").document_dict() == allow("s3:PutObject")
    page = listing("p", max_items=1)
    assert page.items == ("A",) and page.is_truncated
    assert listing("p", marker=page.marker).items == ("b",)
    delete("p", "A")
    assert listing("p").items == ("b",)
    refused(directory, NoSuchEntityError, get, "p", "A")
    refused(directory, NoSuchEntityError, delete, "p", "A")
    refused(directory, MalformedPolicyDocumentError, put, "p", "C", {"Version": "2012-10-17"})
    refused(directory, InvalidInputError, put, "p", "bad name", allow())


@pytest.mark.parametrize("kind, limit", [("user", 2048), ("group", 5120), ("role", 10240)])
def test_inline_policies_share_one_size_quota(directory: Directory, kind: str, limit: int) -> None:
    create = {"user": directory.create_user, "group": directory.create_group,
              "role": lambda name: directory.create_role(name, trust())}[kind]
    put = getattr(directory, f"put_{kind}_policy")
    create("p")
    document = allow(resource=["arn:aws:s3:::" + "r" * 90 + f"{index:03d}" for index in range(limit // 400)])
    size = len(json.dumps(document, separators=(",", ":")))
    count = limit // size
    for index in range(count):
        put("p", f"P{index}", document)
    error = refused(directory, LimitExceededError, put, "p", "OneMore", document)
    assert f"{limit} characters" in str(error)
    put("p", "P0", document)  # replacing one does not count it twice
