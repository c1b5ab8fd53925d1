"""Groups and membership."""

from __future__ import annotations

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import (
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    LimitExceededError,
    NoSuchEntityError,
    Quotas,
)
from iamguard.store.base import DirectoryStore
from tests.directory.helpers import TENANT, allow, arn, refused


def test_create_get_list_update_delete_group(directory: Directory) -> None:
    group = directory.create_group("devs", path="/eng/")
    assert group.arn == arn("group", "devs", "/eng/")
    assert group.group_id.startswith("AGPA")
    directory.create_group("ops")
    assert [item.group_name for item in directory.list_groups()] == ["devs", "ops"]
    assert [item.group_name for item in directory.list_groups(path_prefix="/eng/")] == ["devs"]
    renamed = directory.update_group("devs", new_group_name="developers", new_path="/")
    assert renamed.group_id == group.group_id
    assert renamed.arn == arn("group", "developers")
    directory.delete_group("developers")
    with pytest.raises(NoSuchEntityError):
        directory.get_group("developers")


def test_group_names_are_unique_regardless_of_case(directory: Directory) -> None:
    directory.create_group("Admins")
    refused(directory, EntityAlreadyExistsError, directory.create_group, "admins")
    directory.create_group("ops")
    refused(directory, EntityAlreadyExistsError, directory.update_group, "ops", new_group_name="ADMINS")


def test_membership(directory: Directory) -> None:
    directory.create_group("devs")
    directory.create_group("ops")
    directory.create_user("alice")
    directory.create_user("bob")
    directory.add_user_to_group("devs", "alice")
    directory.add_user_to_group("devs", "bob")
    directory.add_user_to_group("ops", "alice")
    generation = directory.store.generation()
    directory.add_user_to_group("devs", "alice")  # again: succeeds, changes nothing
    assert directory.store.generation() == generation
    detail = directory.get_group("devs")
    assert detail.group.group_name == "devs"
    assert [user.user_name for user in detail.users] == ["alice", "bob"]
    assert [group.group_name for group in directory.list_groups_for_user("alice")] == ["devs", "ops"]
    first = directory.get_group("devs", max_items=1)
    assert first.is_truncated and [user.user_name for user in first.users] == ["alice"]
    rest = directory.get_group("devs", marker=first.marker, max_items=1)
    assert [user.user_name for user in rest.users] == ["bob"] and not rest.is_truncated
    directory.remove_user_from_group("devs", "alice")
    assert [group.group_name for group in directory.list_groups_for_user("alice")] == ["ops"]
    refused(directory, NoSuchEntityError, directory.remove_user_from_group, "devs", "alice")


@pytest.mark.parametrize("group, user", [("missing", "alice"), ("devs", "missing")])
def test_membership_of_unknown_entities(directory: Directory, group: str, user: str) -> None:
    directory.create_group("devs")
    directory.create_user("alice")
    refused(directory, NoSuchEntityError, directory.add_user_to_group, group, user)


def test_groups_per_user_quota(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    directory = Directory(store, TENANT, clock=clock, quotas=Quotas(groups_per_user=2))
    directory.create_user("alice")
    for name in ("a", "b", "c"):
        directory.create_group(name)
    directory.add_user_to_group("a", "alice")
    directory.add_user_to_group("b", "alice")
    error = refused(directory, LimitExceededError, directory.add_user_to_group, "c", "alice")
    assert "GroupsPerUser: 2" in str(error)


def test_default_groups_per_user_quota_is_ten(directory: Directory) -> None:
    directory.create_user("alice")
    with directory.batch():
        for index in range(11):
            directory.create_group(f"g{index}")
        for index in range(10):
            directory.add_user_to_group(f"g{index}", "alice")
    refused(directory, LimitExceededError, directory.add_user_to_group, "g10", "alice")


@pytest.mark.parametrize("dependent, expected", [
    ("member", "members: alice"),
    ("attached", "attached policies: arn:aws:iam::123456789012:policy/P"),
    ("inline", "inline policies: Inline"),
])
def test_delete_group_with_dependents_is_a_conflict(directory: Directory, dependent: str, expected: str) -> None:
    directory.create_group("devs")
    if dependent == "member":
        directory.create_user("alice")
        directory.add_user_to_group("devs", "alice")
    elif dependent == "attached":
        directory.attach_group_policy("devs", directory.create_policy("P", allow()).arn)
    else:
        directory.put_group_policy("devs", "Inline", allow())
    error = refused(directory, DeleteConflictError, directory.delete_group, "devs")
    assert error.dependents == (expected,)
