"""Tenants, export/import (exact round trip across both stores), authorization details and the
policy simulator."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import (
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    InvalidInputError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
)
from iamguard.store.base import DirectoryStore
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from tests.directory.helpers import TENANT, allow, arn, deny, trust


def populate(directory: Directory, clock: FrozenClock) -> None:
    boundary = directory.create_policy("Boundary", allow("s3:*"), description="cap")
    read = directory.create_policy("Read", json.dumps(allow(), indent=3), path="/team/")
    clock.advance(10)
    directory.create_policy_version(read.arn, allow("s3:List*"), set_as_default=True)
    directory.create_policy_version(read.arn, deny())
    directory.delete_policy_version(read.arn, "v1")
    directory.create_user("alice", path="/eng/", tags={"team": "blue", "Cost": ""}, permissions_boundary=boundary.arn)
    directory.create_user("bob")
    directory.create_group("devs")
    directory.add_user_to_group("devs", "alice")
    directory.attach_group_policy("devs", read.arn)
    directory.put_group_policy("devs", "GroupInline", deny("s3:DeleteObject"))
    directory.put_user_policy("alice", "Mine", "{\n \"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": "
                                              "\"Allow\", \"Action\": \"sqs:*\", \"Resource\": \"*\"}}")
    directory.create_role("app", trust(), description="the app", max_session_duration=7200, tags={"env": "prod"},
                          permissions_boundary=boundary.arn)
    directory.attach_role_policy("app", read.arn)
    directory.put_role_policy("app", "RoleInline", allow("dynamodb:GetItem"))


def test_export_import_round_trip_is_exact_across_stores(store: DirectoryStore, clock: FrozenClock,
                                                         tmp_path: Path) -> None:
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    populate(directory, clock)
    exported = directory.export_tenant()
    text = json.dumps(exported)
    for target in (MemoryStore(), SQLiteStore(tmp_path / "copy.db")):
        tenant = Directory.import_tenant(target, text)
        assert (tenant.tenant_id, tenant.name) == (TENANT, "acme")
        copy_directory = Directory(target, TENANT)
        assert copy_directory.export_tenant() == exported
        assert copy_directory.get_account_authorization_details() == directory.get_account_authorization_details()
        # The copy decides like the original.
        alice = arn("user", "alice", "/eng/")
        for action in ("s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "sqs:SendMessage"):
            assert copy_directory.authorize(alice, action, "*").effect == directory.authorize(alice, action, "*").effect
        # Version counters survive: the next version of Read is v4, not v3.
        read = arn("policy", "Read", "/team/")
        copy_directory.delete_policy_version(read, "v3")
        assert copy_directory.create_policy_version(read, allow()).version_id == "v4"


def test_import_refuses_an_existing_tenant_or_live_ids(directory: Directory, clock: FrozenClock) -> None:
    populate(directory, clock)
    exported = directory.export_tenant()
    with pytest.raises(EntityAlreadyExistsError):
        Directory.import_tenant(directory.store, exported)
    renamed = copy.deepcopy(exported)
    renamed["tenant"]["tenant_id"] = "999999999999"
    with pytest.raises(EntityAlreadyExistsError, match="unique ids"):
        Directory.import_tenant(directory.store, renamed)
    assert [tenant.tenant_id for tenant in Directory.list_tenants(directory.store)] == [TENANT]


def _broken(exported: dict[str, Any], change: str) -> dict[str, Any]:
    document = copy.deepcopy(exported)
    if change == "format":
        document["format"] = "something else"
    elif change == "name":
        document["users"][0]["name"] = "al ice"
    elif change == "id":
        document["users"][0]["unique_id"] = "AGPA" + "A" * 16
    elif change == "boundary":
        document["users"][0]["boundary_id"] = "ANPA" + "Z" * 16
    elif change == "duplicate":
        document["users"][1]["name"] = document["users"][0]["name"].upper()
    elif change == "membership":
        document["memberships"][0].reverse()
    elif change == "attachment":
        document["attachments"].append([document["users"][1]["unique_id"], "ANPA" + "Q" * 16])
    elif change == "version":
        document["policies"][0]["default_version"] = "v9"
    elif change == "timestamp":
        document["users"][0]["created"] = "yesterday"
    elif change == "tags":
        document["users"][0]["tags"] = [["aws:team", "x"]]
    return document


@pytest.mark.parametrize("change", ["format", "name", "id", "boundary", "duplicate", "membership", "attachment",
                                    "version", "timestamp", "tags"])
def test_import_validates_everything_before_writing(directory: Directory, clock: FrozenClock, change: str) -> None:
    populate(directory, clock)
    target = MemoryStore()
    with pytest.raises(InvalidInputError):
        Directory.import_tenant(target, _broken(directory.export_tenant(), change))
    assert Directory.list_tenants(target) == ()


def test_import_rejects_malformed_documents(directory: Directory, clock: FrozenClock) -> None:
    populate(directory, clock)
    document = directory.export_tenant()
    document["inline_policies"][0]["document"] = '{"Statement": [{"Effect": "Maybe"}]}'
    with pytest.raises(MalformedPolicyDocumentError):
        Directory.import_tenant(MemoryStore(), document)
    with pytest.raises(InvalidInputError):
        Directory.import_tenant(MemoryStore(), "{not json")


def test_tenants(store: DirectoryStore, clock: FrozenClock) -> None:
    generated = Directory.create_tenant(store, name="Acme Corp", clock=clock)
    assert len(generated.tenant_id) == 12 and generated.tenant_id.isdigit()
    assert generated.partition == "aws" and generated.create_date == clock.now()
    custom = Directory.create_tenant(store, "tenant-b", partition="app")
    assert custom.name == "tenant-b"
    assert {tenant.tenant_id for tenant in Directory.list_tenants(store)} == {generated.tenant_id, "tenant-b"}
    with pytest.raises(EntityAlreadyExistsError):
        Directory.create_tenant(store, "tenant-b")
    for bad in ("UPPER", "a" * 65, "", "t\n"):
        with pytest.raises(InvalidInputError):
            Directory.create_tenant(store, bad)
    with pytest.raises(InvalidInputError):
        Directory.create_tenant(store, "ok", partition="Bad Partition")
    directory = Directory(store, "tenant-b")
    assert directory.partition == "app"
    assert directory.create_user("alice").arn == "arn:app:iam::tenant-b:user/alice"
    with pytest.raises(InvalidInputError):
        Directory(store, "tenant-b", partition="aws")
    with pytest.raises(NoSuchEntityError):
        Directory(store, "missing")
    with pytest.raises(DeleteConflictError):
        Directory.delete_tenant(store, "tenant-b")
    directory.delete_user("alice")
    Directory.delete_tenant(store, "tenant-b")
    with pytest.raises(NoSuchEntityError):
        Directory.get_tenant(store, "tenant-b")


def test_tenants_are_isolated(store: DirectoryStore) -> None:
    """Security spec APP-04: nothing crosses tenants."""
    Directory.create_tenant(store, "111111111111")
    Directory.create_tenant(store, "222222222222")
    one, two = Directory(store, "111111111111"), Directory(store, "222222222222")
    policy = one.create_policy("P", allow())
    one.create_user("alice")
    two.create_user("alice")
    two.create_group("devs")
    assert one.get_user("alice").user_id != two.get_user("alice").user_id
    with pytest.raises(NoSuchEntityError):
        two.attach_user_policy("alice", policy.arn)  # another tenant's policy ARN
    with pytest.raises(NoSuchEntityError):
        one.get_group("devs")
    with pytest.raises(NoSuchEntityError):
        one.resolve_id(two.get_user("alice").user_id)
    one.attach_user_policy("alice", policy.arn)
    assert one.authorize("arn:aws:iam::111111111111:user/alice", "s3:GetObject", "*").allowed
    assert not two.authorize("arn:aws:iam::222222222222:user/alice", "s3:GetObject", "*").allowed
    assert not two.authorize("arn:aws:iam::111111111111:user/alice", "s3:GetObject", "*").allowed


def test_account_authorization_details(directory: Directory, clock: FrozenClock) -> None:
    populate(directory, clock)
    details = directory.get_account_authorization_details()
    json.dumps(details)  # serializable as is
    users = {user["UserName"]: user for user in details["UserDetailList"]}
    alice = users["alice"]
    assert alice["Arn"] == arn("user", "alice", "/eng/")
    assert alice["GroupList"] == ["devs"]
    assert alice["UserPolicyList"][0]["PolicyName"] == "Mine"
    assert alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]["Action"] == "sqs:*"
    assert alice["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn("policy", "Boundary")
    assert {"Key": "team", "Value": "blue"} in alice["Tags"]
    assert "PermissionsBoundary" not in users["bob"]
    group = details["GroupDetailList"][0]
    assert group["AttachedManagedPolicies"] == [{"PolicyName": "Read", "PolicyArn": arn("policy", "Read", "/team/")}]
    role = details["RoleDetailList"][0]
    assert role["AssumeRolePolicyDocument"] == trust() and role["MaxSessionDuration"] == 7200
    policies = {policy["PolicyName"]: policy for policy in details["Policies"]}
    assert policies["Read"]["AttachmentCount"] == 2
    assert policies["Boundary"]["PermissionsBoundaryUsageCount"] == 2
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in policies["Read"]["PolicyVersionList"]] == \
        [("v2", True), ("v3", False)]
    only_roles = directory.get_account_authorization_details(filter=["Role"])
    assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1
    with pytest.raises(InvalidInputError):
        directory.get_account_authorization_details(filter=["Users"])


def test_simulate_principal_policy(directory: Directory, clock: FrozenClock) -> None:
    populate(directory, clock)
    alice = arn("user", "alice", "/eng/")
    results = directory.simulate_principal_policy(
        alice, ["s3:ListBucket", "s3:DeleteObject", "ec2:RunInstances"], ["arn:aws:s3:::a", "arn:aws:s3:::b"])
    assert [(r.action, r.resource, r.eval_decision) for r in results] == [
        ("s3:ListBucket", "arn:aws:s3:::a", "allowed"), ("s3:ListBucket", "arn:aws:s3:::b", "allowed"),
        ("s3:DeleteObject", "arn:aws:s3:::a", "explicitDeny"), ("s3:DeleteObject", "arn:aws:s3:::b", "explicitDeny"),
        ("ec2:RunInstances", "arn:aws:s3:::a", "implicitDeny"), ("ec2:RunInstances", "arn:aws:s3:::b", "implicitDeny"),
    ]
    assert "group devs inline GroupInline" in results[2].explain()
    assert results[0].matched_statements[0].policy == f"{arn('policy', 'Read', '/team/')} via group devs"


def test_simulation_context_entries(directory: Directory) -> None:
    user = directory.create_user("alice")
    condition = {"Bool": {"aws:MultiFactorAuthPresent": "true"}, "ForAnyValue:StringEquals": {"aws:TagKeys": "x"}}
    directory.put_user_policy("alice", "Mfa", allow("s3:*", Condition=condition))
    entries = [{"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"],
                "ContextKeyType": "boolean"},
               {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["x", "y"], "ContextKeyType": "stringList"}]
    [result] = directory.simulate_principal_policy(user.arn, ["s3:GetObject"], context_entries=entries)
    assert result.allowed
    [missing] = directory.simulate_principal_policy(user.arn, ["s3:GetObject"])
    assert missing.eval_decision == "implicitDeny"
    assert "aws:multifactorauthpresent" in missing.missing_context_values
    [mapped] = directory.simulate_principal_policy(user.arn, ["s3:GetObject"], context_entries={
        "aws:MultiFactorAuthPresent": True, "aws:TagKeys": ["x"]})
    assert mapped.allowed
    with pytest.raises(InvalidInputError):
        directory.simulate_principal_policy(user.arn, "s3:GetObject")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        directory.simulate_principal_policy(user.arn, ["s3:GetObject"], context_entries=[{"ContextKeyName": "k"}])
    with pytest.raises(NoSuchEntityError):
        directory.simulate_principal_policy(arn("user", "nobody"), ["s3:GetObject"])


def test_simulation_with_a_resource_policy(directory: Directory) -> None:
    user = directory.create_user("alice")
    bucket = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user.arn},
                                                      "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    [result] = directory.simulate_principal_policy(user.arn, ["s3:GetObject"], ["arn:aws:s3:::b/k"],
                                                   resource_policy=bucket)
    assert result.allowed  # a same-tenant resource policy naming the user grants on its own


@pytest.mark.parametrize(("actions", "resources", "refused"), [
    (1000, 1, False), (1, 1000, False), (40, 25, False), (1001, 1, True), (32, 32, True), (10_000, 10_000, True),
], ids=["1000x1", "1x1000", "40x25", "1001x1", "32x32", "10000x10000"])
def test_a_simulation_asks_for_at_most_a_thousand_decisions(directory: Directory, actions: int, resources: int,
                                                            refused: bool) -> None:
    """DOS-02: a caller allowed iam:SimulatePrincipalPolicy cannot make one call evaluate millions
    of requests; the refusal names the limit and what was asked, before any evaluation."""
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "All", allow("s3:*"))
    action_names = [f"s3:Action{index}" for index in range(actions)]
    resource_arns = [f"arn:aws:s3:::bucket{index}" for index in range(resources)]
    if refused:
        with pytest.raises(InvalidInputError, match=rf"at most 1000 .*\(asked: {actions} x {resources}\)"):
            directory.simulate_principal_policy(user.arn, action_names, resource_arns)
    else:
        results = directory.simulate_principal_policy(user.arn, action_names, resource_arns)
        assert len(results) == actions * resources and all(result.allowed for result in results)


def test_a_simulation_with_a_malformed_resource_policy_is_malformed_policy_document(directory: Directory) -> None:
    """The caller's document is refused as the directory refuses any other, with its pointers."""
    user = directory.create_user("alice")
    with pytest.raises(MalformedPolicyDocumentError) as refused:
        directory.simulate_principal_policy(user.arn, ["s3:GetObject"], ["arn:aws:s3:::b/k"],
                                            resource_policy={"Version": "2012-10-17", "Statement": [
                                                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    assert refused.value.code == "MalformedPolicyDocument"
    assert any(finding.pointer.startswith("/Statement/0") for finding in refused.value.findings)
