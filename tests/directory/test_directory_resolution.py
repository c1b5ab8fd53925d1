"""Resolution into compiled policy sets, the principal context, decisions and failure handling."""

from __future__ import annotations

from typing import Any

import pytest

from iamguard import Effect, Policy, PolicySet
from iamguard.clock import FrozenClock
from iamguard.directory import Directory, InvalidInputError, NoSuchEntityError, StoreError, Tag
from iamguard.store.base import DirectoryStore
from tests.directory.helpers import TENANT, allow, arn, deny, trust

OBJECT = "arn:aws:s3:::bucket/alice/report.txt"


def names(policies: tuple[Policy, ...]) -> list[str | None]:
    return [policy.name for policy in policies]


def test_user_resolution_collects_every_source_with_readable_names(directory: Directory) -> None:
    user = directory.create_user("alice", tags={"team": "blue"})
    direct = directory.create_policy("Direct", allow("s3:GetObject"))
    shared = directory.create_policy("Shared", allow("s3:ListBucket"), path="/team/")
    boundary = directory.create_policy("Boundary", allow("s3:*"))
    directory.put_user_policy("alice", "Own", allow("s3:PutObject"))
    directory.attach_user_policy("alice", direct.arn)
    directory.attach_user_policy("alice", shared.arn)
    for group in ("devs", "ops"):
        directory.create_group(group)
        directory.add_user_to_group(group, "alice")
        directory.put_group_policy(group, "GroupInline", allow("sqs:SendMessage"))
        directory.attach_group_policy(group, shared.arn)  # attached twice: compiled once
    directory.attach_group_policy("ops", direct.arn)
    ops_only = directory.create_policy("OpsOnly", deny("s3:DeleteObject"))
    directory.attach_group_policy("ops", ops_only.arn)
    directory.put_user_permissions_boundary("alice", boundary.arn)

    resolved = directory.resolve(user.arn)
    assert (resolved.arn, resolved.unique_id, resolved.kind, resolved.name) == (user.arn, user.user_id, "user", "alice")
    assert resolved.tags == (Tag("team", "blue"),)
    assert names(resolved.identity_policies) == [
        "user alice inline Own", direct.arn, shared.arn,
        "group devs inline GroupInline",
        "group ops inline GroupInline", f"{ops_only.arn} via group ops",
    ]
    assert resolved.permissions_boundary is not None and resolved.permissions_boundary.name == boundary.arn
    assert isinstance(resolved.policy_set, PolicySet)
    assert dict(resolved.context) == {
        "aws:PrincipalArn": user.arn, "aws:PrincipalAccount": TENANT, "aws:userid": user.user_id,
        "aws:username": "alice", "aws:PrincipalType": "User", "aws:PrincipalTag/team": "blue",
    }
    decision = directory.authorize(user.arn, "s3:DeleteObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert [ref.policy for ref in decision.statements] == [f"{ops_only.arn} via group ops"]
    assert f"{ops_only.arn} via group ops" in decision.explain()


def test_role_resolution(directory: Directory) -> None:
    boundary = directory.create_policy("Boundary", allow("s3:GetObject"))
    role = directory.create_role("app", trust(), tags={"env": "prod"}, permissions_boundary=boundary.arn)
    directory.put_role_policy("app", "Inline", allow("s3:*"))
    attached = directory.create_policy("Attached", allow("sqs:*"))
    directory.attach_role_policy("app", attached.arn)
    resolved = directory.resolve(role.arn)
    assert resolved.kind == "role"
    assert names(resolved.identity_policies) == ["role app inline Inline", attached.arn]
    assert "aws:username" not in resolved.context
    assert resolved.context["aws:PrincipalType"] == "AssumedRole"
    assert resolved.context["aws:PrincipalTag/env"] == "prod"
    # The boundary caps the role: s3:PutObject is allowed by the inline policy but not the boundary.
    assert directory.authorize(role.arn, "s3:GetObject", OBJECT).allowed
    assert directory.authorize(role.arn, "s3:PutObject", OBJECT).effect is Effect.IMPLICIT_DENY
    assert directory.authorize(role.arn, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q").effect is \
        Effect.IMPLICIT_DENY


def test_policies_written_for_aws_work_unchanged(directory: Directory) -> None:
    """Default partition "aws": AWS's own examples, with policy variables, apply as written."""
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "Self", allow("iam:GetUser", f"arn:aws:iam::{TENANT}:user/${{aws:username}}"))
    assert directory.authorize(user.arn, "iam:GetUser", user.arn).allowed
    assert not directory.authorize(user.arn, "iam:GetUser", arn("user", "bob")).allowed


def test_principal_tags_drive_abac(directory: Directory) -> None:
    user = directory.create_user("alice", tags={"team": "blue"})
    directory.put_user_policy("alice", "Abac", allow(
        "s3:GetObject", "*", Condition={"StringEquals": {"s3:ExistingObjectTag/team": "${aws:PrincipalTag/team}"}}))
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT, {"s3:ExistingObjectTag/team": "blue"}).allowed
    assert not directory.authorize(user.arn, "s3:GetObject", OBJECT, {"s3:ExistingObjectTag/team": "red"}).allowed


@pytest.mark.parametrize("key, value", [
    ("aws:PrincipalTag/team", "red"),
    ("AWS:principaltag/TEAM", "red"),
    ("aws:PrincipalArn", "arn:aws:iam::123456789012:user/admin"),
    ("aws:username", "admin"),
    ("aws:userid", "AIDAADMIN"),
    ("aws:PrincipalAccount", "999999999999"),
])
def test_the_callers_context_cannot_override_principal_keys(directory: Directory, key: str, value: str) -> None:
    """Security spec CTX-05: principal keys come from the store, never from the request."""
    user = directory.create_user("alice", tags={"team": "blue"})
    directory.put_user_policy("alice", "Abac", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue", "aws:username": "alice",
                                       "aws:PrincipalArn": user.arn, "aws:userid": user.user_id,
                                       "aws:PrincipalAccount": TENANT}}}]})
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT, {key: value}).allowed


def test_a_tag_the_principal_lacks_cannot_be_injected(directory: Directory) -> None:
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "Abac", allow(
        "s3:GetObject", "*", Condition={"StringEquals": {"aws:PrincipalTag/role": "admin"}}))
    decision = directory.authorize(user.arn, "s3:GetObject", OBJECT, {"aws:PrincipalTag/role": "admin"})
    assert decision.effect is Effect.IMPLICIT_DENY


def test_resource_and_session_policies(directory: Directory) -> None:
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "All", allow("s3:*"))
    bucket_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": {"AWS": user.arn}, "Action": "s3:PutObject", "Resource": "*"}]}
    assert directory.authorize(user.arn, "s3:PutObject", OBJECT).allowed
    assert directory.authorize(user.arn, "s3:PutObject", OBJECT, resource_policy=bucket_policy).effect is \
        Effect.EXPLICIT_DENY
    session = [allow("s3:GetObject")]
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT, session_policies=session).allowed
    assert not directory.authorize(user.arn, "s3:PutObject", OBJECT, session_policies=session).allowed
    resolved = directory.resolve(user.arn)
    assert resolved.policy_set_with(bucket_policy) is resolved.policy_set_with(bucket_policy)  # memoized


@pytest.mark.parametrize("principal", [
    arn("user", "nobody"),
    arn("user", "Alice"),  # ARNs are case-sensitive
    arn("user", "alice", "/other/"),  # the path is part of the ARN
    "arn:aws:iam::999999999999:user/alice",  # another tenant
    f"arn:aws-cn:iam::{TENANT}:user/alice",  # another partition
    f"arn:aws:sts::{TENANT}:assumed-role/app/session",
    "alice",
    "",
])
def test_unknown_principals_are_denied(directory: Directory, principal: str) -> None:
    directory.create_user("alice")
    directory.put_user_policy("alice", "All", allow("*"))
    decision = directory.authorize(principal, "s3:GetObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert decision.error
    with pytest.raises((NoSuchEntityError, InvalidInputError)):
        directory.resolve(principal)


def test_identity_is_the_unique_id(directory: Directory) -> None:
    """Security spec ROLE-04: a recreated user inherits nothing from the old one."""
    old = directory.create_user("bob")
    policy = directory.create_policy("P", allow("*"))
    directory.create_group("admins")
    directory.attach_group_policy("admins", policy.arn)
    directory.add_user_to_group("admins", "bob")
    directory.attach_user_policy("bob", policy.arn)
    directory.put_user_policy("bob", "Inline", allow("*"))
    assert directory.authorize(old.arn, "s3:GetObject", OBJECT).allowed
    directory.remove_user_from_group("admins", "bob")
    directory.detach_user_policy("bob", policy.arn)
    directory.delete_user_policy("bob", "Inline")
    directory.delete_user("bob")
    new = directory.create_user("bob")
    assert new.arn == old.arn and new.user_id != old.user_id
    assert directory.list_groups_for_user("bob").items == ()
    assert directory.list_attached_user_policies("bob").items == ()
    assert directory.list_user_policies("bob").items == ()
    assert directory.resolve(new.arn).identity_policies == ()
    assert directory.authorize(new.arn, "s3:GetObject", OBJECT).effect is Effect.IMPLICIT_DENY
    # Something bound to the old unique id (a session, a key) no longer matches the name.
    assert directory.authorize(new.arn, "s3:GetObject", OBJECT, unique_id=old.user_id).error
    with pytest.raises(NoSuchEntityError):
        directory.resolve(new.arn, unique_id=old.user_id)
    with pytest.raises(NoSuchEntityError):
        directory.resolve_id(old.user_id)
    assert directory.resolve_id(new.user_id).arn == new.arn


def test_resolve_id_follows_renames(directory: Directory) -> None:
    user = directory.create_user("alice")
    directory.update_user("alice", new_user_name="alicia")
    assert directory.resolve_id(user.user_id).arn == arn("user", "alicia")
    group = directory.create_group("devs")
    with pytest.raises(NoSuchEntityError):
        directory.resolve_id(group.group_id)  # groups are not principals


# caching


def test_own_writes_are_seen_on_the_next_call(directory: Directory) -> None:
    """Security spec CACHE-01: detach, then the very next decision is made on the new state."""
    user = directory.create_user("alice")
    policy = directory.create_policy("P", allow())
    directory.attach_user_policy("alice", policy.arn)
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed  # now cached
    directory.detach_user_policy("alice", policy.arn)
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).effect is Effect.IMPLICIT_DENY


@pytest.mark.parametrize("revoke", [
    lambda d, policy: d.remove_user_from_group("devs", "alice"),
    lambda d, policy: d.detach_group_policy("devs", policy),
    lambda d, policy: d.create_policy_version(policy, deny("*"), set_as_default=True),
    lambda d, policy: d.put_group_policy("devs", "Stop", deny("*")),
    lambda d, policy: d.update_user("alice", new_user_name="alicia"),
])
def test_every_kind_of_revocation_applies_at_once(directory: Directory, revoke: Any) -> None:
    user = directory.create_user("alice")
    policy = directory.create_policy("P", allow())
    directory.create_group("devs")
    directory.add_user_to_group("devs", "alice")
    directory.attach_group_policy("devs", policy.arn)
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    revoke(directory, policy.arn)
    assert not directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_writes_through_another_directory_object_in_this_process(store: DirectoryStore, clock: FrozenClock) -> None:
    Directory.create_tenant(store, TENANT, clock=clock)
    reader, writer = Directory(store, TENANT, clock=clock), Directory(store, TENANT, clock=clock)
    user = writer.create_user("alice")
    policy = writer.create_policy("P", allow())
    writer.attach_user_policy("alice", policy.arn)
    assert reader.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    writer.detach_user_policy("alice", policy.arn)
    assert not reader.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_cache_hits_until_the_generation_moves(directory: Directory) -> None:
    user = directory.create_user("alice")
    first = directory.resolve(user.arn)
    assert directory.resolve(user.arn) is first
    directory.create_user("someone-else")  # any write moves the generation
    second = directory.resolve(user.arn)
    assert second is not first and second == first


def test_changes_from_another_process_are_seen_within_the_ttl(tmp_path: Any) -> None:
    """A second SQLiteStore on the same file has its own connection and commit counter, exactly
    like another process. With a frozen clock the bound is checked without sleeping."""
    from iamguard.store.sqlite import SQLiteStore

    clock = FrozenClock()
    here, there = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    Directory.create_tenant(here, TENANT, clock=clock)
    local = Directory(here, TENANT, clock=clock, cache_ttl=1.0)
    remote = Directory(there, TENANT, clock=clock)
    user = remote.create_user("alice")
    policy = remote.create_policy("P", allow())
    remote.attach_user_policy("alice", policy.arn)
    assert local.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    remote.detach_user_policy("alice", policy.arn)
    clock.advance(0.5)
    assert local.authorize(user.arn, "s3:GetObject", OBJECT).allowed  # still inside the bound: cached
    clock.advance(0.5)
    assert not local.authorize(user.arn, "s3:GetObject", OBJECT).allowed  # bound reached: revalidated
    remote.attach_user_policy("alice", policy.arn)
    clock.advance(0.99)
    assert not local.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    clock.advance(0.01)
    assert local.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_zero_ttl_checks_the_store_on_every_call(tmp_path: Any) -> None:
    from iamguard.store.sqlite import SQLiteStore

    clock = FrozenClock()
    here, there = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    Directory.create_tenant(here, TENANT, clock=clock)
    local, remote = Directory(here, TENANT, clock=clock, cache_ttl=0), Directory(there, TENANT, clock=clock)
    user = remote.create_user("alice")
    remote.put_user_policy("alice", "P", allow())
    assert local.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    remote.delete_user_policy("alice", "P")
    assert not local.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_a_clock_moving_backwards_forces_a_revalidation(tmp_path: Any) -> None:
    from iamguard.store.sqlite import SQLiteStore

    clock = FrozenClock()
    here, there = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    Directory.create_tenant(here, TENANT, clock=clock)
    local, remote = Directory(here, TENANT, clock=clock), Directory(there, TENANT, clock=clock)
    user = remote.create_user("alice")
    remote.put_user_policy("alice", "P", allow())
    assert local.authorize(user.arn, "s3:GetObject", OBJECT).allowed
    remote.delete_user_policy("alice", "P")
    clock.advance(-3600)
    assert not local.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_uncommitted_state_inside_a_batch_is_not_cached(directory: Directory) -> None:
    user = directory.create_user("alice")
    with pytest.raises(RuntimeError), directory.batch():
        directory.put_user_policy("alice", "P", allow())
        assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed  # sees its own batch
        raise RuntimeError("abandon the batch")
    assert directory.list_user_policies("alice").items == ()
    assert not directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed


# failures


class _BrokenRead:
    def __enter__(self) -> Any:
        raise StoreError("database is locked")

    def __exit__(self, *exc: object) -> None:
        return None


def test_store_errors_deny_and_are_not_cached(directory: Directory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Security spec FAIL-01/FAIL-05."""
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "P", allow())
    monkeypatch.setattr(directory.store, "read", lambda: _BrokenRead())
    decision = directory.authorize(user.arn, "s3:GetObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY and "database is locked" in (decision.error or "")
    with pytest.raises(StoreError):
        directory.resolve(user.arn)
    monkeypatch.undo()
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed


def test_a_failing_generation_check_denies(directory: Directory, monkeypatch: pytest.MonkeyPatch) -> None:
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "P", allow())
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).allowed  # cached

    def broken() -> int:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(directory.store, "generation", broken)
    directory.create_user("bob")  # a local commit forces the revalidation, which fails
    decision = directory.authorize(user.arn, "s3:GetObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY and "disk I/O error" in (decision.error or "")


def test_unexpected_faults_while_loading_become_store_errors(directory: Directory,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "P", allow())
    import iamguard.directory.resolver as resolver

    def explode(*args: object) -> None:
        raise KeyError("corrupt row")

    monkeypatch.setattr(resolver, "load_principal", explode)
    with pytest.raises(StoreError, match="corrupt row"):
        directory.resolve(user.arn)
    assert directory.authorize(user.arn, "s3:GetObject", OBJECT).effect is Effect.EXPLICIT_DENY


def test_a_stored_document_that_no_longer_parses_denies(tmp_path: Any) -> None:
    """Security spec FAIL-06: a policy that fails to load is never skipped."""
    import sqlite3

    from iamguard.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "d.db")
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "Allow", allow())
    directory.put_user_policy("alice", "Deny", deny())
    raw = sqlite3.connect(tmp_path / "d.db")
    with raw:
        raw.execute("UPDATE dir_inline_policies SET document = '{\"Statement\": 7}' WHERE name = 'Deny'")
        raw.execute("UPDATE generation SET value = value + 1")
    raw.close()
    directory._resolver.cache.clear()
    decision = directory.authorize(user.arn, "s3:GetObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert "user alice inline Deny" in (decision.error or "")


def test_a_corrupt_store_file_denies(tmp_path: Any) -> None:
    from iamguard.store.sqlite import SQLiteStore

    path = tmp_path / "d.db"
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT, cache_ttl=0)
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "P", allow())
    store.close()
    for suffix in ("", "-wal", "-shm"):
        target = tmp_path / f"d.db{suffix}"
        if target.exists():
            target.write_bytes(b"this is not a database" * 100)
    decision = directory.authorize(user.arn, "s3:GetObject", OBJECT)
    assert decision.effect is Effect.EXPLICIT_DENY and decision.error


def test_bad_request_values_deny_instead_of_raising(directory: Directory) -> None:
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "P", allow())
    for action, resource, context in [(None, OBJECT, None), ("s3:GetObject", 7, None),
                                      ("s3:GetObject", OBJECT, {1: "x"}), ("s3:GetObject", OBJECT, "ctx")]:
        decision = directory.authorize(user.arn, action, resource, context)  # type: ignore[arg-type]
        assert decision.effect is Effect.EXPLICIT_DENY and decision.error
