"""The IAM-authorized face of the directory (security spec ESC-01..06): each call is decided for the
caller on the target's ARN with IAM's condition keys, and a refused call changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.directory import AccessDeniedError, AuthorizedDirectory, Directory, IamError, authorize_iam_call
from iamguard.directory import authorized as authorized_module
from iamguard.directory.errors import NoSuchEntityError
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from tests.directory.helpers import TENANT, allow, arn, statements, trust

ADMIN = arn("policy", "Admin")
READ_ONLY = arn("policy", "ReadOnly")
SELF_READ = arn("policy", "SelfRead")
BOUNDARY = arn("policy", "DelegatedBoundary")
OTHER_BOUNDARY = arn("policy", "OtherBoundary")
ADMIN_DOC = allow("*", "*")


# Self-service reads only: the user may read itself and the managed policy it holds, nothing else.
SELF_SERVICE = statements(
    {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"],
     "Resource": f"arn:aws:iam::{TENANT}:user/${{aws:username}}"},
    {"Effect": "Allow", "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"], "Resource": SELF_READ},
)

# A delegated administrator who may create users only with the delegated boundary, and manage
# only users that carry it (AWS's delegation example).
DELEGATE = statements(
    {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:PutUserPermissionsBoundary"],
     "Resource": f"arn:aws:iam::{TENANT}:user/*",
     "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
    {"Effect": "Allow", "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy"],
     "Resource": f"arn:aws:iam::{TENANT}:user/*",
     "Condition": {"ArnEquals": {"iam:PolicyARN": READ_ONLY},
                   "StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
    {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListUsers"], "Resource": "*"},
)

# The deny-list form of the same delegation: everything in IAM except what would escape the boundary.
GUARDED_ADMIN = statements(
    {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
    {"Effect": "Deny", "Action": ["iam:CreateUser", "iam:CreateRole", "iam:PutUserPermissionsBoundary",
                                  "iam:PutRolePermissionsBoundary"],
     "Resource": "*", "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}},
    {"Effect": "Deny", "Action": ["iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary"],
     "Resource": "*"},
    {"Effect": "Deny", "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                                  "iam:SetDefaultPolicyVersion"], "Resource": BOUNDARY},
)

# "Manage my profile": a user may set or remove only the nickname tag, only on itself.
PROFILE = statements(
    {"Effect": "Allow", "Action": ["iam:TagUser", "iam:UntagUser"],
     "Resource": f"arn:aws:iam::{TENANT}:user/${{aws:username}}",
     "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["nickname"]},
                   "Null": {"aws:TagKeys": "false"}}},
    {"Effect": "Allow", "Action": "iam:ListUserTags", "Resource": f"arn:aws:iam::{TENANT}:user/${{aws:username}}"},
)

# A team lead may tag users of its own team (aws:ResourceTag) but never the break-glass admin.
TEAM_LEAD = statements(
    {"Effect": "Allow", "Action": "iam:TagUser", "Resource": f"arn:aws:iam::{TENANT}:user/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Effect": "Deny", "Action": "iam:*", "Resource": f"arn:aws:iam::{TENANT}:user/root-admin"},
)

# Attach only from an approved list of policies, on anyone (iam:PolicyARN without a boundary).
ATTACHER = statements(
    {"Effect": "Allow", "Action": ["iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy"],
     "Resource": "*", "Condition": {"ArnEquals": {"iam:PolicyARN": READ_ONLY}}},
)

# Requests from the office network only (the caller's context from the web layer).
OFFICE_ONLY = statements(
    {"Effect": "Allow", "Action": "iam:CreateGroup", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
)

CALLERS = {"mallory": SELF_SERVICE, "delegate": DELEGATE, "guarded": GUARDED_ADMIN, "alice": PROFILE,
           "bob": PROFILE, "lead": TEAM_LEAD, "attacher": ATTACHER, "office": OFFICE_ONLY}


def populate(directory: Directory) -> None:
    """The same tenant for every test (and for the twin a call is replayed on)."""
    directory.create_policy("Admin", ADMIN_DOC)
    directory.create_policy("ReadOnly", allow("iam:Get*"))
    directory.create_policy("SelfRead", allow("iam:GetUser", arn("user", "mallory")))
    # A stronger, non-default version waiting on the caller's own policy (Rhino: SetDefaultPolicyVersion).
    directory.create_policy_version(SELF_READ, ADMIN_DOC)
    directory.create_policy("DelegatedBoundary", allow("s3:*"))
    directory.create_policy("OtherBoundary", allow("*"))
    directory.create_group("admins")
    directory.attach_group_policy("admins", ADMIN)
    directory.create_group("staff")
    directory.create_role("admin-role", trust())
    directory.attach_role_policy("admin-role", ADMIN)
    for name, document in CALLERS.items():
        directory.create_user(name, tags={"lead": {"team": "ops"}, "alice": {"nickname": "ally"}}.get(name))
        directory.put_user_policy(name, "access", document)
    directory.attach_user_policy("mallory", SELF_READ)
    directory.add_user_to_group("staff", "mallory")
    directory.create_user("bounded", permissions_boundary=BOUNDARY, tags={"team": "ops"})
    directory.create_user("carol", tags={"team": "dev"})
    directory.create_user("root-admin", tags={"team": "ops"})


def make_directory(store: Any, clock: FrozenClock, audit: Any = None) -> Directory:
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=audit if audit is not None else [])
    populate(directory)
    return directory


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def directory(sink: MemorySink) -> Iterator[Directory]:
    store = MemoryStore()
    yield make_directory(store, FrozenClock(), sink)
    store.close()


def caller(directory: Directory, name: str, context: dict[str, Any] | None = None) -> AuthorizedDirectory:
    return directory.acting_as(arn("user", name), context)


def assert_refused(directory: Directory, call: Callable[[], object], action: str, resource: str) -> None:
    before = directory.get_account_authorization_details()
    exported, generation = directory.export_tenant(), directory.store.generation()
    with pytest.raises(AccessDeniedError) as info:
        call()
    error = info.value
    assert isinstance(error, IamError)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert error.action == action and error.resource == resource
    assert action in error.message and resource in error.message
    assert "Statement" not in error.message and "Allow" not in error.message  # no policy content
    assert directory.get_account_authorization_details() == before
    assert directory.export_tenant() == exported
    assert directory.store.generation() == generation


def assert_decided(directory: Directory, who: str, call: Callable[[Any], object], denied_action: str | None,
                   resource: str) -> None:
    """`call(caller)` is refused for `denied_action` on `resource` (nothing changes), or, when
    `denied_action` is None, goes through and changes the tenant."""
    me = caller(directory, who)
    if denied_action is not None:
        assert_refused(directory, lambda: call(me), denied_action, resource)
        return
    before = directory.get_account_authorization_details()
    call(me)
    assert directory.get_account_authorization_details() != before


# ESC-01 and ESC-05: Rhino Security Labs' one-call escalations, for a caller with self-service reads.

ESCALATIONS: list[tuple[str, Callable[[AuthorizedDirectory], object], str, str]] = [
    ("attach admin policy to oneself", lambda me: me.attach_user_policy("mallory", ADMIN),
     "iam:AttachUserPolicy", arn("user", "mallory")),
    ("inline policy on oneself", lambda me: me.put_user_policy("mallory", "pwn", ADMIN_DOC),
     "iam:PutUserPolicy", arn("user", "mallory")),
    ("attach admin policy to own group", lambda me: me.attach_group_policy("staff", ADMIN),
     "iam:AttachGroupPolicy", arn("group", "staff")),
    ("inline policy on own group", lambda me: me.put_group_policy("staff", "pwn", ADMIN_DOC),
     "iam:PutGroupPolicy", arn("group", "staff")),
    ("join the admin group", lambda me: me.add_user_to_group("admins", "mallory"),
     "iam:AddUserToGroup", arn("group", "admins")),
    ("new default version of own policy",
     lambda me: me.create_policy_version(SELF_READ, ADMIN_DOC, set_as_default=True),
     "iam:CreatePolicyVersion", SELF_READ),
    ("make a waiting version the default", lambda me: me.set_default_policy_version(SELF_READ, "v2"),
     "iam:SetDefaultPolicyVersion", SELF_READ),
    ("trust oneself in an admin role (ESC-05)",
     lambda me: me.update_assume_role_policy("admin-role", trust({"AWS": arn("user", "mallory")})),
     "iam:UpdateAssumeRolePolicy", arn("role", "admin-role")),
    ("inline policy on an admin role", lambda me: me.put_role_policy("admin-role", "pwn", ADMIN_DOC),
     "iam:PutRolePolicy", arn("role", "admin-role")),
    ("tag oneself into an ABAC team", lambda me: me.tag_user("mallory", {"team": "admins"}),
     "iam:TagUser", arn("user", "mallory")),
    ("mint a user", lambda me: me.create_user("mallory2"), "iam:CreateUser", arn("user", "mallory2")),
    ("mint an admin policy", lambda me: me.create_policy("Mine", ADMIN_DOC), "iam:CreatePolicy",
     arn("policy", "Mine")),
    ("mint a role trusting oneself",
     lambda me: me.create_role("escape", trust({"AWS": arn("user", "mallory")})), "iam:CreateRole",
     arn("role", "escape")),
    ("read someone else", lambda me: me.get_user("alice"), "iam:GetUser", arn("user", "alice")),
    ("read every identity", lambda me: me.get_account_authorization_details(),
     "iam:GetAccountAuthorizationDetails", "*"),
    ("read the admin policy", lambda me: me.get_policy_version(ADMIN, "v1"), "iam:GetPolicyVersion", ADMIN),
    ("detach a guard from oneself", lambda me: me.detach_user_policy("mallory", SELF_READ),
     "iam:DetachUserPolicy", arn("user", "mallory")),
    ("remove a user that does not exist", lambda me: me.delete_user("ghost"), "iam:DeleteUser",
     arn("user", "ghost")),
]


@pytest.mark.parametrize(("call", "action", "resource"), [case[1:] for case in ESCALATIONS],
                         ids=[case[0] for case in ESCALATIONS])
def test_escalation_paths_are_denied_and_change_nothing(directory: Directory, call: Any, action: str,
                                                        resource: str) -> None:
    assert_refused(directory, lambda: call(caller(directory, "mallory")), action, resource)


SELF_READS: list[tuple[str, Callable[[Any], object]]] = [
    ("get self", lambda d: d.get_user("mallory")),
    ("own attached policies", lambda d: d.list_attached_user_policies("mallory")),
    ("own inline policies", lambda d: d.list_user_policies("mallory")),
    ("own inline policy", lambda d: d.get_user_policy("mallory", "access")),
    ("own groups", lambda d: d.list_groups_for_user("mallory")),
    ("own policy document", lambda d: d.get_policy_version(SELF_READ, "v1")),
]


@pytest.mark.parametrize("call", [case[1] for case in SELF_READS], ids=[case[0] for case in SELF_READS])
def test_self_service_reads_are_allowed(directory: Directory, call: Any) -> None:
    assert call(caller(directory, "mallory")) == call(directory)


# ESC-03: delegated administration under a permissions boundary.

DELEGATION: list[tuple[str, str, Callable[[AuthorizedDirectory], object], str | None, str]] = [
    ("create with the boundary", "delegate", lambda me: me.create_user("svc-1", permissions_boundary=BOUNDARY),
     None, arn("user", "svc-1")),
    ("create without a boundary", "delegate", lambda me: me.create_user("svc-2"), "iam:CreateUser",
     arn("user", "svc-2")),
    ("create with another boundary", "delegate",
     lambda me: me.create_user("svc-3", permissions_boundary=OTHER_BOUNDARY), "iam:CreateUser", arn("user", "svc-3")),
    ("remove a boundary", "delegate", lambda me: me.delete_user_permissions_boundary("bounded"),
     "iam:DeleteUserPermissionsBoundary", arn("user", "bounded")),
    ("swap the boundary", "delegate", lambda me: me.put_user_permissions_boundary("bounded", OTHER_BOUNDARY),
     "iam:PutUserPermissionsBoundary", arn("user", "bounded")),
    ("attach an approved policy to a bounded user", "delegate",
     lambda me: me.attach_user_policy("bounded", READ_ONLY), None, arn("user", "bounded")),
    ("attach an approved policy to an unbounded user", "delegate",
     lambda me: me.attach_user_policy("carol", READ_ONLY), "iam:AttachUserPolicy", arn("user", "carol")),
    ("attach an unapproved policy to a bounded user", "delegate",
     lambda me: me.attach_user_policy("bounded", ADMIN), "iam:AttachUserPolicy", arn("user", "bounded")),
    ("create a role", "delegate", lambda me: me.create_role("r", trust(), permissions_boundary=BOUNDARY),
     "iam:CreateRole", arn("role", "r")),
    ("guarded: create with the boundary", "guarded",
     lambda me: me.create_user("svc-4", permissions_boundary=BOUNDARY), None, arn("user", "svc-4")),
    ("guarded: create without a boundary", "guarded", lambda me: me.create_user("svc-5"), "iam:CreateUser",
     arn("user", "svc-5")),
    ("guarded: create with another boundary", "guarded",
     lambda me: me.create_user("svc-6", permissions_boundary=OTHER_BOUNDARY), "iam:CreateUser", arn("user", "svc-6")),
    ("guarded: role without a boundary", "guarded", lambda me: me.create_role("r2", trust()), "iam:CreateRole",
     arn("role", "r2")),
    ("guarded: role with the boundary", "guarded",
     lambda me: me.create_role("r3", trust(), permissions_boundary=BOUNDARY), None, arn("role", "r3")),
    ("guarded: remove a boundary", "guarded", lambda me: me.delete_user_permissions_boundary("bounded"),
     "iam:DeleteUserPermissionsBoundary", arn("user", "bounded")),
    ("guarded: rewrite the boundary policy", "guarded",
     lambda me: me.create_policy_version(BOUNDARY, ADMIN_DOC, set_as_default=True), "iam:CreatePolicyVersion",
     BOUNDARY),
    ("guarded: delete the boundary policy", "guarded", lambda me: me.delete_policy(BOUNDARY), "iam:DeletePolicy",
     BOUNDARY),
]


@pytest.mark.parametrize(("who", "call", "denied_action", "resource"), [case[1:] for case in DELEGATION],
                         ids=[case[0] for case in DELEGATION])
def test_delegated_administration_keeps_the_boundary(directory: Directory, who: str, call: Any,
                                                     denied_action: str | None, resource: str) -> None:
    assert_decided(directory, who, call, denied_action, resource)


def test_delegate_creates_users_that_carry_the_boundary(directory: Directory) -> None:
    created = caller(directory, "delegate").create_user("svc-9", permissions_boundary=BOUNDARY)
    assert created.permissions_boundary == BOUNDARY
    assert directory.get_user("svc-9").permissions_boundary == BOUNDARY


def test_caller_context_cannot_claim_a_boundary_or_policy(directory: Directory) -> None:
    forged = {"iam:PermissionsBoundary": BOUNDARY, "IAM:PolicyArn": READ_ONLY, "aws:TagKeys": ["nickname"],
              "aws:RequestTag/nickname": "x", "aws:ResourceTag/team": "ops"}
    assert_refused(directory, lambda: caller(directory, "delegate", forged).create_user("svc-7"),
                   "iam:CreateUser", arn("user", "svc-7"))
    assert_refused(directory, lambda: caller(directory, "attacher", forged).attach_user_policy("carol", ADMIN),
                   "iam:AttachUserPolicy", arn("user", "carol"))
    assert_refused(directory, lambda: caller(directory, "lead", forged).tag_user("carol", {"x": "y"}),
                   "iam:TagUser", arn("user", "carol"))


# iam:PolicyARN: which policies may be attached, on users, groups and roles alike.

@pytest.mark.parametrize(("call", "allowed", "action", "resource"), [
    (lambda me: me.attach_user_policy("carol", READ_ONLY), True, "iam:AttachUserPolicy", arn("user", "carol")),
    (lambda me: me.attach_user_policy("carol", ADMIN), False, "iam:AttachUserPolicy", arn("user", "carol")),
    (lambda me: me.attach_group_policy("staff", READ_ONLY), True, "iam:AttachGroupPolicy", arn("group", "staff")),
    (lambda me: me.attach_group_policy("staff", ADMIN), False, "iam:AttachGroupPolicy", arn("group", "staff")),
    (lambda me: me.attach_role_policy("admin-role", READ_ONLY), True, "iam:AttachRolePolicy",
     arn("role", "admin-role")),
    (lambda me: me.attach_role_policy("admin-role", OTHER_BOUNDARY), False, "iam:AttachRolePolicy",
     arn("role", "admin-role")),
    (lambda me: me.detach_user_policy("mallory", SELF_READ), False, "iam:DetachUserPolicy",
     arn("user", "mallory")),
])
def test_policy_arn_limits_what_may_be_attached(directory: Directory, call: Any, allowed: bool, action: str,
                                                resource: str) -> None:
    me = caller(directory, "attacher")
    if not allowed:
        assert_refused(directory, lambda: call(me), action, resource)
        return
    before = directory.get_account_authorization_details()
    call(me)
    assert directory.get_account_authorization_details() != before


# ${aws:username} self-service, aws:RequestTag / aws:TagKeys and aws:ResourceTag.

@pytest.mark.parametrize(("who", "call", "allowed", "action", "resource"), [
    ("alice", lambda me: me.tag_user("alice", {"nickname": "al"}), True, "iam:TagUser", arn("user", "alice")),
    ("alice", lambda me: me.tag_user("ALICE", {"nickname": "al"}), True, "iam:TagUser", arn("user", "alice")),
    ("alice", lambda me: me.untag_user("alice", ["nickname"]), True, "iam:UntagUser", arn("user", "alice")),
    ("alice", lambda me: me.tag_user("bob", {"nickname": "b"}), False, "iam:TagUser", arn("user", "bob")),
    ("alice", lambda me: me.tag_user("alice", {"team": "ops"}), False, "iam:TagUser", arn("user", "alice")),
    ("alice", lambda me: me.tag_user("alice", {"nickname": "al", "team": "ops"}), False, "iam:TagUser",
     arn("user", "alice")),
    ("alice", lambda me: me.untag_user("alice", ["team"]), False, "iam:UntagUser", arn("user", "alice")),
    ("bob", lambda me: me.list_user_tags("alice"), False, "iam:ListUserTags", arn("user", "alice")),
    ("lead", lambda me: me.tag_user("bounded", {"x": "1"}), True, "iam:TagUser", arn("user", "bounded")),
    ("lead", lambda me: me.tag_user("carol", {"x": "1"}), False, "iam:TagUser", arn("user", "carol")),
    # user names ignore case and ARNs do not: the Deny on user/root-admin must still apply (the
    # refusal names the user as the caller spelled it, so it does not confirm that it exists)
    ("lead", lambda me: me.tag_user("ROOT-ADMIN", {"x": "1"}), False, "iam:TagUser", arn("user", "ROOT-ADMIN")),
    ("lead", lambda me: me.tag_user("root-admin", {"x": "1"}), False, "iam:TagUser", arn("user", "root-admin")),
])
def test_tagging_is_scoped_by_caller_request_and_resource_tags(directory: Directory, who: str, call: Any,
                                                               allowed: bool, action: str, resource: str) -> None:
    assert_decided(directory, who, call, None if allowed else action, resource)


def test_self_service_user_sees_its_own_tags_only(directory: Directory) -> None:
    caller(directory, "alice").tag_user("alice", {"nickname": "al"})
    assert [(tag.key, tag.value) for tag in caller(directory, "alice").list_user_tags("alice")] == [("nickname", "al")]


def test_caller_context_reaches_the_decision(directory: Directory) -> None:
    assert_refused(directory, lambda: caller(directory, "office", {"aws:SourceIp": "203.0.113.9"}).create_group("g"),
                   "iam:CreateGroup", arn("group", "g"))
    assert caller(directory, "office", {"aws:SourceIp": "10.1.2.3"}).create_group("g").group_name == "g"


def test_caller_context_cannot_change_who_the_caller_is(directory: Directory) -> None:
    forged = {"aws:username": "alice", "aws:PrincipalArn": arn("user", "alice")}
    assert_refused(directory, lambda: caller(directory, "bob", forged).tag_user("alice", {"nickname": "x"}),
                   "iam:TagUser", arn("user", "alice"))


def test_creating_with_tags_needs_tag_permission_too(directory: Directory) -> None:
    directory.put_user_policy("delegate", "access", statements(
        {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"}))
    me = caller(directory, "delegate")
    assert_refused(directory, lambda: me.create_user("svc-t", tags={"team": "ops"}), "iam:TagUser",
                   arn("user", "svc-t"))
    assert me.create_user("svc-u").user_name == "svc-u"


def test_rename_needs_permission_on_the_new_name(directory: Directory) -> None:
    directory.put_user_policy("delegate", "access", statements(
        {"Effect": "Allow", "Action": "iam:UpdateUser", "Resource": f"arn:aws:iam::{TENANT}:user/team/*"},
        {"Effect": "Allow", "Action": "iam:UpdateUser", "Resource": arn("user", "carol")}))
    me = caller(directory, "delegate")
    assert_refused(directory, lambda: me.update_user("carol", new_user_name="carla"), "iam:UpdateUser",
                   arn("user", "carla"))
    assert me.update_user("carol", new_path="/team/").arn == arn("user", "carol", "/team/")


def test_unknown_caller_is_denied(directory: Directory) -> None:
    assert_refused(directory, lambda: directory.acting_as(arn("user", "nobody")).get_user("alice"), "iam:GetUser",
                   arn("user", "alice"))


def test_denial_is_audited_without_policy_content(directory: Directory, sink: MemorySink) -> None:
    sink.clear()
    with pytest.raises(AccessDeniedError):
        caller(directory, "mallory").attach_user_policy("mallory", ADMIN)
    [record] = sink.records
    assert (record.effect, record.status, record.action, record.resource, record.principal) == (
        "Deny", 403, "iam:AttachUserPolicy", arn("user", "mallory"), arn("user", "mallory"))
    assert "Statement" not in record.to_json()


def test_an_allowed_change_names_its_caller_and_a_trusted_one_names_nobody(directory: Directory,
                                                                          sink: MemorySink) -> None:
    directory.put_user_policy("delegate", "tagger", statements(
        {"Effect": "Allow", "Action": "iam:TagUser", "Resource": arn("user", "alice")}))
    sink.clear()
    caller(directory, "delegate").tag_user("alice", {"team": "red"})
    directory.tag_user("alice", {"floor": "2"})
    assert [(record.action, record.principal) for record in sink.records] == [
        ("iam:TagUser", arn("user", "delegate")), ("iam:TagUser", None)]


# An allowed call performs exactly the change the trusted directory would make.

def normalized(details: dict[str, Any]) -> Any:
    """Details with the random unique ids blanked (the twin tenants draw different ones)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: "<id>" if key in {"UserId", "GroupId", "RoleId", "PolicyId"} else walk(item)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value
    return walk(details)


ADMIN_CALLS: list[tuple[str, Callable[[Any], object]]] = [
    ("create user", lambda d: d.create_user("new", "/team/", {"k": "v"}, BOUNDARY)),
    ("update user", lambda d: d.update_user("carol", "carla", "/team/")),
    ("tag user", lambda d: d.tag_user("carol", {"nickname": "c"})),
    ("untag user", lambda d: d.untag_user("carol", ["team"])),
    ("put boundary", lambda d: d.put_user_permissions_boundary("carol", BOUNDARY)),
    ("delete boundary", lambda d: d.delete_user_permissions_boundary("bounded")),
    ("attach user policy", lambda d: d.attach_user_policy("carol", READ_ONLY)),
    ("detach user policy", lambda d: d.detach_user_policy("mallory", SELF_READ)),
    ("put user policy", lambda d: d.put_user_policy("carol", "p", allow())),
    ("delete user policy", lambda d: d.delete_user_policy("alice", "access")),
    ("add to group", lambda d: d.add_user_to_group("admins", "carol")),
    ("remove from group", lambda d: d.remove_user_from_group("staff", "mallory")),
    ("create group", lambda d: d.create_group("ops", "/x/")),
    ("update group", lambda d: d.update_group("staff", "crew")),
    ("put group policy", lambda d: d.put_group_policy("staff", "p", allow())),
    ("attach group policy", lambda d: d.attach_group_policy("staff", READ_ONLY)),
    ("detach group policy", lambda d: d.detach_group_policy("admins", ADMIN)),
    ("create role", lambda d: d.create_role("r", trust(), "/svc/", "d", 7200, BOUNDARY, {"k": "v"})),
    ("update role", lambda d: d.update_role("admin-role", "described", 7200)),
    ("trust policy", lambda d: d.update_assume_role_policy("admin-role", trust({"AWS": arn("user", "carol")}))),
    ("tag role", lambda d: d.tag_role("admin-role", {"k": "v"})),
    ("role boundary", lambda d: d.put_role_permissions_boundary("admin-role", BOUNDARY)),
    ("put role policy", lambda d: d.put_role_policy("admin-role", "p", allow())),
    ("detach role policy", lambda d: d.detach_role_policy("admin-role", ADMIN)),
    ("create policy", lambda d: d.create_policy("P", allow(), "/p/", "about")),
    ("create policy version", lambda d: d.create_policy_version(READ_ONLY, allow(), True)),
    ("set default version", lambda d: d.set_default_policy_version(SELF_READ, "v2")),
    ("delete policy version", lambda d: d.delete_policy_version(SELF_READ, "v2")),
    ("delete policy", lambda d: d.delete_policy(OTHER_BOUNDARY)),
    ("delete user", lambda d: d.delete_user("carol")),
]


@pytest.mark.parametrize("call", [case[1] for case in ADMIN_CALLS], ids=[case[0] for case in ADMIN_CALLS])
def test_allowed_call_makes_exactly_the_underlying_change(call: Any) -> None:
    clock = FrozenClock()
    through_facade, direct = make_directory(MemoryStore(), clock), make_directory(MemoryStore(), clock)
    before = normalized(through_facade.get_account_authorization_details())
    admin = statements({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    for directory in (through_facade, direct):
        directory.create_user("root", path="/ops/")
        directory.put_user_policy("root", "all", admin)
    result_facade = call(through_facade.acting_as(arn("user", "root", "/ops/")))
    result_direct = call(direct)
    after = normalized(through_facade.get_account_authorization_details())
    assert after == normalized(direct.get_account_authorization_details())
    assert after != before
    assert type(result_facade) is type(result_direct)


def test_allowed_read_returns_what_the_directory_returns(directory: Directory) -> None:
    directory.put_user_policy("delegate", "access", statements(
        {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}))
    me = caller(directory, "delegate")
    assert me.get_account_authorization_details() == directory.get_account_authorization_details()
    assert me.get_role("admin-role") == directory.get_role("admin-role")
    assert me.get_group("admins") == directory.get_group("admins")
    assert me.list_policies() == directory.list_policies()
    assert me.list_entities_for_policy(ADMIN) == directory.list_entities_for_policy(ADMIN)
    with pytest.raises(NoSuchEntityError):  # allowed, so the caller learns the user does not exist
        me.get_user("ghost")


def test_helper_authorizes_calls_the_facade_does_not_wrap(directory: Directory) -> None:
    directory.put_user_policy("alice", "keys", statements(
        {"Effect": "Allow", "Action": "iam:CreateAccessKey",
         "Resource": f"arn:aws:iam::{TENANT}:user/${{aws:username}}"}))
    decision = authorize_iam_call(directory, arn("user", "alice"), "iam:CreateAccessKey", arn("user", "alice"))
    assert decision.allowed
    with pytest.raises(AccessDeniedError):
        authorize_iam_call(directory, arn("user", "alice"), "iam:CreateAccessKey", arn("user", "bob"))
    with pytest.raises(AccessDeniedError):
        caller(directory, "alice").authorize_on_user("iam:CreateAccessKey", "bob")
    caller(directory, "alice").authorize_on_user("iam:CreateAccessKey", "ALICE")


def test_sqlite_store_smoke(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "directory.db")
    try:
        directory = make_directory(store, FrozenClock())
        assert_refused(directory, lambda: caller(directory, "mallory").attach_user_policy("mallory", ADMIN),
                       "iam:AttachUserPolicy", arn("user", "mallory"))
        assert_refused(directory, lambda: caller(directory, "delegate").create_user("svc-2"),
                       "iam:CreateUser", arn("user", "svc-2"))
        created = caller(directory, "delegate").create_user("svc-1", permissions_boundary=BOUNDARY)
        assert directory.get_user("svc-1") == created
    finally:
        store.close()


def test_a_read_answers_with_the_state_its_decision_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change committed by another process between the decision and the answer is not shown:
    both read one snapshot (here bob leaves the team the reader may see, and gains a tag)."""
    path = tmp_path / "directory.db"
    store, other_store = SQLiteStore(path), None
    try:
        Directory.create_tenant(store, TENANT, clock=FrozenClock())
        directory = Directory(store, TENANT, clock=FrozenClock(), audit=[])
        directory.create_user("reader")
        directory.put_user_policy("reader", "blue-team", statements(
            {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListUserTags"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}}))
        directory.create_user("bob", tags={"team": "blue"})
        other_store = SQLiteStore(path)  # another process's connection to the same file
        other = Directory(other_store, TENANT, clock=FrozenClock(), audit=[])
        decide = authorized_module.authorize_iam_call

        def decide_then_another_process_writes(*args: Any, **kwargs: Any) -> Any:
            decision = decide(*args, **kwargs)
            other.tag_user("bob", {"team": "red", "clearance": "high"})
            return decision

        monkeypatch.setattr(authorized_module, "authorize_iam_call", decide_then_another_process_writes)
        shown = caller(directory, "reader").get_user("bob")
        assert {tag.key: tag.value for tag in shown.tags} == {"team": "blue"}
        monkeypatch.undo()
        assert {tag.key: tag.value for tag in directory.get_user("bob").tags} == {"team": "red", "clearance": "high"}
        with pytest.raises(AccessDeniedError):  # judged on the new state now
            caller(directory, "reader").get_user("bob")
    finally:
        store.close()
        if other_store is not None:
            other_store.close()
