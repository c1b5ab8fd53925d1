"""Roles: trust policies, session duration, description, tags, boundaries, deletion."""

from __future__ import annotations

import json

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import (
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
    Quotas,
    Tag,
)
from iamguard.store.base import DirectoryStore
from tests.directory.helpers import TENANT, allow, arn, refused, trust


def test_create_role_with_defaults(directory: Directory) -> None:
    role = directory.create_role("app", trust())
    assert role.arn == arn("role", "app")
    assert role.role_id.startswith("AROA")
    assert role.max_session_duration == 3600
    assert role.description == ""
    assert role.trust_policy_dict() == trust()
    assert directory.get_role("APP") == role


def test_create_role_with_every_option(directory: Directory) -> None:
    boundary = directory.create_policy("Boundary", allow("s3:*"))
    text = json.dumps(trust(), indent=2)
    role = directory.create_role("app", text, path="/svc/", description="the app", max_session_duration=43200,
                                 permissions_boundary=boundary.arn, tags={"env": "prod"})
    assert role.assume_role_policy_document == text  # stored exactly as given
    assert (role.path, role.description, role.max_session_duration) == ("/svc/", "the app", 43200)
    assert role.permissions_boundary == boundary.arn
    assert role.tags == (Tag("env", "prod"),)
    assert [item.role_name for item in directory.list_roles(path_prefix="/svc/")] == ["app"]


@pytest.mark.parametrize("duration", [3599, 43201, 0, "3600", None, True])
def test_session_duration_bounds(directory: Directory, duration: object) -> None:
    refused(directory, InvalidInputError, directory.create_role, "app", trust(),
            max_session_duration=duration)


def test_role_names_are_unique_regardless_of_case(directory: Directory) -> None:
    directory.create_role("App", trust())
    refused(directory, EntityAlreadyExistsError, directory.create_role, "app", trust())


def test_a_user_and_a_role_may_share_a_name(directory: Directory) -> None:
    directory.create_user("deploy")
    assert directory.create_role("deploy", trust()).arn == arn("role", "deploy")


@pytest.mark.parametrize("document, pointer", [
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}, "/Statement/0"),
    ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
                                              "Resource": "*"}]}, "/Statement/0/Resource"),
])
def test_malformed_trust_policy(directory: Directory, document: dict[str, object], pointer: str) -> None:
    error = refused(directory, MalformedPolicyDocumentError, directory.create_role, "app", document)
    assert error.code == "MalformedPolicyDocument"
    assert pointer in [finding.pointer for finding in error.findings]


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_open_trust_is_refused_by_default(directory: Directory, principal: object) -> None:
    """Security spec ROLE-01: trusting everyone without a condition."""
    error = refused(directory, MalformedPolicyDocumentError, directory.create_role, "app", trust(principal))
    assert [finding.code for finding in error.findings] == ["OpenTrust"]
    narrowed = trust(principal)
    narrowed["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": "abc123"}}
    assert directory.create_role("app", narrowed).role_name == "app"


def test_open_trust_can_be_allowed_explicitly(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, allow_open_trust=True)
    assert directory.create_role("public", trust("*")).role_name == "public"


def test_trust_policy_size_quota(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, quotas=Quotas(trust_policy_size=100))
    refused(directory, LimitExceededError, directory.create_role, "app", trust())


def test_update_assume_role_policy(directory: Directory) -> None:
    directory.create_role("app", trust())
    directory.create_user("alice")
    new = trust({"AWS": arn("user", "alice")})
    directory.update_assume_role_policy("app", new)
    assert directory.get_role("app").trust_policy_dict() == new
    refused(directory, MalformedPolicyDocumentError, directory.update_assume_role_policy, "app", allow())
    refused(directory, NoSuchEntityError, directory.update_assume_role_policy, "nope", new)


def test_update_role(directory: Directory) -> None:
    directory.create_role("app", trust(), description="old")
    role = directory.update_role("app", description="new", max_session_duration=7200)
    assert (role.description, role.max_session_duration) == ("new", 7200)
    assert directory.update_role("app", max_session_duration=3600).description == "new"
    refused(directory, InvalidInputError, directory.update_role, "app", description="x" * 1001)


def test_role_tags_and_boundary(directory: Directory) -> None:
    boundary = directory.create_policy("Boundary", allow())
    directory.create_role("app", trust())
    directory.tag_role("app", {"env": "prod", "team": "core"})
    directory.untag_role("app", ["team"])
    assert directory.list_role_tags("app") == (Tag("env", "prod"),)
    directory.put_role_permissions_boundary("app", boundary.arn)
    assert directory.get_role("app").permissions_boundary == boundary.arn
    directory.delete_role_permissions_boundary("app")
    assert directory.get_role("app").permissions_boundary is None


@pytest.mark.parametrize("dependent", ["attached", "inline", "registered"])
def test_delete_role_with_dependents_is_a_conflict(directory: Directory, dependent: str) -> None:
    directory.create_role("app", trust())
    if dependent == "attached":
        directory.attach_role_policy("app", directory.create_policy("P", allow()).arn)
    elif dependent == "inline":
        directory.put_role_policy("app", "Inline", allow())
    else:
        directory.store.register_dependents("role", lambda tenant, unique_id: ["1 active session"])
    refused(directory, DeleteConflictError, directory.delete_role, "app")


def test_delete_role(directory: Directory) -> None:
    directory.create_role("app", trust())
    directory.delete_role("app")
    refused(directory, NoSuchEntityError, directory.get_role, "app")
