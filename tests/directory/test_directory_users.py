"""Users: create, get, list (paths, pagination), update, delete, tags, boundaries."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from iamguard.clock import FrozenClock
from iamguard.directory import (
    DeleteConflictError,
    Directory,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    NoSuchEntityError,
    Quotas,
    Tag,
)
from iamguard.directory.ids import UNIQUE_ID
from tests.directory.helpers import TENANT, allow, arn, refused


def test_create_user_returns_iam_fields(directory: Directory, clock: FrozenClock) -> None:
    user = directory.create_user("alice", path="/eng/", tags={"team": "blue"})
    assert user.user_name == "alice"
    assert user.path == "/eng/"
    assert user.arn == f"arn:aws:iam::{TENANT}:user/eng/alice"
    assert UNIQUE_ID.fullmatch(user.user_id) and user.user_id.startswith("AIDA")
    assert user.create_date == clock.now().replace(microsecond=0)
    assert user.tags == (Tag("team", "blue"),)
    assert user.permissions_boundary is None
    assert directory.get_user("alice") == user


def test_get_user_is_case_insensitive_but_returns_the_stored_name(directory: Directory) -> None:
    directory.create_user("Alice")
    assert directory.get_user("ALICE").user_name == "Alice"


def test_names_are_unique_regardless_of_case(directory: Directory) -> None:
    """Security spec ID-01."""
    directory.create_user("bob")
    error = refused(directory, EntityAlreadyExistsError, directory.create_user, "BOB")
    assert error.code == "EntityAlreadyExists"


def test_unknown_user_is_no_such_entity(directory: Directory) -> None:
    with pytest.raises(NoSuchEntityError) as info:
        directory.get_user("nobody")
    assert info.value.code == "NoSuchEntity"


def test_list_users_filters_by_path_prefix_and_sorts_by_name(directory: Directory) -> None:
    for name, path in [("carol", "/eng/"), ("alice", "/eng/backend/"), ("bob", "/sales/"), ("dave", "/")]:
        directory.create_user(name, path=path)
    assert [user.user_name for user in directory.list_users()] == ["alice", "bob", "carol", "dave"]
    assert [user.user_name for user in directory.list_users(path_prefix="/eng/")] == ["alice", "carol"]
    assert [user.user_name for user in directory.list_users(path_prefix="/eng/b")] == ["alice"]
    assert directory.list_users(path_prefix="/nothing/").items == ()


def test_list_users_paginates_with_markers(directory: Directory) -> None:
    names = [f"user{index:02d}" for index in range(7)]
    with directory.batch():
        for name in reversed(names):
            directory.create_user(name)
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        page = directory.list_users(marker=marker, max_items=3)
        pages += 1
        seen.extend(user.user_name for user in page)
        if not page.is_truncated:
            assert page.marker is None
            break
        marker = page.marker
    assert seen == names
    assert pages == 3


@pytest.mark.parametrize("max_items", [0, -1, 1001, "10", True, 2.5])
def test_list_users_rejects_bad_max_items(directory: Directory, max_items: object) -> None:
    with pytest.raises(InvalidInputError):
        directory.list_users(max_items=max_items)  # type: ignore[arg-type]


def test_update_user_renames_and_moves_keeping_the_unique_id(directory: Directory) -> None:
    user = directory.create_user("alice")
    renamed = directory.update_user("alice", new_user_name="alicia", new_path="/eng/")
    assert renamed.user_id == user.user_id
    assert renamed.arn == arn("user", "alicia", "/eng/")
    with pytest.raises(NoSuchEntityError):
        directory.get_user("alice")
    assert directory.update_user("alicia", new_user_name="ALICIA").user_name == "ALICIA"


def test_update_user_to_a_taken_name_is_refused(directory: Directory) -> None:
    directory.create_user("alice")
    directory.create_user("bob")
    refused(directory, EntityAlreadyExistsError, directory.update_user, "alice", new_user_name="Bob")


def test_delete_user(directory: Directory) -> None:
    directory.create_user("alice")
    directory.delete_user("alice")
    with pytest.raises(NoSuchEntityError):
        directory.get_user("alice")
    refused(directory, NoSuchEntityError, directory.delete_user, "alice")


@pytest.mark.parametrize("dependent, expected", [
    ("group", "groups: devs"),
    ("attached", "attached policies: arn:aws:iam::123456789012:policy/ReadOnly"),
    ("inline", "inline policies: Inline"),
])
def test_delete_user_with_dependents_is_a_conflict(directory: Directory, dependent: str, expected: str) -> None:
    directory.create_user("alice")
    if dependent == "group":
        directory.create_group("devs")
        directory.add_user_to_group("devs", "alice")
    elif dependent == "attached":
        policy = directory.create_policy("ReadOnly", allow())
        directory.attach_user_policy("alice", policy.arn)
    else:
        directory.put_user_policy("alice", "Inline", allow())
    error = refused(directory, DeleteConflictError, directory.delete_user, "alice")
    assert error.code == "DeleteConflict"
    assert error.dependents == (expected,)


def test_registered_dependents_block_deletion(directory: Directory) -> None:
    """The credentials component registers its keys and MFA devices through this hook."""
    user = directory.create_user("alice")
    calls: list[tuple[str, str]] = []

    def keys(tenant_id: str, unique_id: str) -> list[str]:
        calls.append((tenant_id, unique_id))
        return ["access key AKIAEXAMPLE"]

    directory.store.register_dependents("user", keys)
    error = refused(directory, DeleteConflictError, directory.delete_user, "alice")
    assert error.dependents == ("access key AKIAEXAMPLE",)
    assert calls == [(TENANT, user.user_id)]


def test_a_failing_dependents_checker_refuses_deletion(directory: Directory) -> None:
    directory.create_user("alice")

    def broken(tenant_id: str, unique_id: str) -> list[str]:
        raise RuntimeError("credentials table unreadable")

    directory.store.register_dependents("user", broken)
    with pytest.raises(Exception, match="credentials table unreadable"):
        directory.delete_user("alice")
    assert directory.get_user("alice").user_name == "alice"


def test_tag_user_adds_replaces_case_insensitively_and_untags(directory: Directory) -> None:
    directory.create_user("alice", tags=[{"Key": "team", "Value": "blue"}])
    directory.tag_user("alice", [Tag("Team", "red"), Tag("cost", "42")])
    assert directory.list_user_tags("alice") == (Tag("Team", "red"), Tag("cost", "42"))
    directory.untag_user("alice", ["TEAM", "absent"])
    assert directory.list_user_tags("alice") == (Tag("cost", "42"),)


def test_tag_quota_is_enforced(store: object, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)  # type: ignore[arg-type]
    directory = Directory(store, TENANT, clock=clock, quotas=Quotas(tags_per_entity=2))  # type: ignore[arg-type]
    directory.create_user("alice", tags={"a": "1", "b": "2"})
    error = refused(directory, LimitExceededError, directory.tag_user, "alice", {"c": "3"})
    assert error.code == "LimitExceeded"
    refused(directory, LimitExceededError, directory.create_user, "bob", tags={"a": "1", "b": "2", "c": "3"})
    directory.tag_user("alice", {"A": "replaced"})  # replacing a key does not count twice
    assert directory.list_user_tags("alice") == (Tag("A", "replaced"), Tag("b", "2"))


def test_permissions_boundary_on_users(directory: Directory) -> None:
    boundary = directory.create_policy("Boundary", allow("s3:*"))
    user = directory.create_user("alice", permissions_boundary=boundary.arn)
    assert user.permissions_boundary == boundary.arn
    directory.delete_user_permissions_boundary("alice")
    assert directory.get_user("alice").permissions_boundary is None
    directory.put_user_permissions_boundary("alice", boundary.arn)
    assert directory.get_user("alice").permissions_boundary == boundary.arn
    refused(directory, NoSuchEntityError, directory.put_user_permissions_boundary, "alice",
            arn("policy", "Missing"))
    refused(directory, InvalidInputError, directory.put_user_permissions_boundary, "alice", arn("user", "bob"))
    refused(directory, NoSuchEntityError, directory.create_user, "bob",
            permissions_boundary="arn:aws:iam::aws:policy/AdministratorAccess")


def test_creation_time_comes_from_the_injected_clock(store: object) -> None:
    clock = FrozenClock(datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    Directory.create_tenant(store, TENANT, clock=clock)  # type: ignore[arg-type]
    directory = Directory(store, TENANT, clock=clock)  # type: ignore[arg-type]
    assert directory.create_user("alice").create_date == datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
