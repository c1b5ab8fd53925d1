"""A trust policy may name only users and roles of its tenant that exist, by their exact ARN, as
IAM refuses "Invalid principal in policy": a name written before its principal exists would trust
whoever takes it later (security spec ROLE-04). Other principals are not the directory's to check."""

from __future__ import annotations

from typing import Any

import pytest

from iamguard.directory import Directory, MalformedPolicyDocumentError
from tests.directory.helpers import TENANT, arn


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}


@pytest.fixture
def seeded(directory: Directory) -> Directory:
    directory.create_user("alice", path="/eng/")
    directory.create_role("base", trust(allow({"AWS": arn("user", "alice", "/eng/")})))
    return directory


@pytest.mark.parametrize(("principal", "pointer"), [
    ({"AWS": arn("user", "bob")}, "/Statement/0/Principal/AWS"),                 # no such user
    ({"AWS": arn("user", "alice")}, "/Statement/0/Principal/AWS"),               # alice lives under /eng/
    ({"AWS": [arn("user", "alice", "/eng/"), arn("role", "later")]}, "/Statement/0/Principal/AWS"),
    ({"AWS": arn("role", "deploy")}, "/Statement/0/Principal/AWS"),              # itself, before it exists
])
def test_a_trust_naming_a_missing_user_or_role_is_refused_and_nothing_is_stored(seeded: Directory,
                                                                               principal: Any, pointer: str) -> None:
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        seeded.create_role("deploy", trust(allow(principal)))
    assert str(raised.value).startswith("MalformedPolicyDocument: Invalid principal in policy")
    assert [(finding.pointer, finding.code) for finding in raised.value.findings] == [(pointer, "InvalidPrincipal")]
    assert [role.role_name for role in seeded.list_roles().items] == ["base"]
    with pytest.raises(MalformedPolicyDocumentError):
        seeded.update_assume_role_policy("base", trust(allow(principal)))
    assert seeded.get_role("base").trust_policy_dict() == trust(allow({"AWS": arn("user", "alice", "/eng/")}))


def test_a_deny_with_not_principal_is_checked_too(seeded: Directory) -> None:
    document = trust(allow({"AWS": TENANT}), {"Effect": "Deny", "NotPrincipal": {"AWS": [arn("user", "bob"), TENANT]},
                                              "Action": "sts:AssumeRole"})
    with pytest.raises(MalformedPolicyDocumentError) as raised:
        seeded.create_role("deploy", document)
    assert [finding.pointer for finding in raised.value.findings] == ["/Statement/1/NotPrincipal/AWS"]


@pytest.mark.parametrize("principal", [
    {"AWS": arn("user", "alice", "/eng/")},                                      # exact ARN, path included
    {"AWS": arn("role", "base")},
    {"AWS": TENANT}, {"AWS": f"arn:aws:iam::{TENANT}:root"},                    # the tenant itself
    {"AWS": f"arn:aws:sts::{TENANT}:assumed-role/base/job-1"},                  # a session: not stored
    {"AWS": "arn:aws:iam::999999999999:user/anyone"},                           # another tenant's business
    {"AWS": "AIDAABCDEFGHIJKLMNOP"},                                            # a deleted principal's id
    {"Federated": "accounts.example.com"}, {"Service": "jobs.example.com"},
])
def test_existing_principals_and_principals_the_directory_does_not_keep_are_accepted(seeded: Directory,
                                                                                       principal: Any) -> None:
    seeded.create_role("deploy", trust({**allow(principal), "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}))
    assert seeded.get_role("deploy").trust_policy_dict()["Statement"][0]["Principal"] == principal
