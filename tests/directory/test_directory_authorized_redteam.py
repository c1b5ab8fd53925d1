"""Red-team regressions for the IAM-authorized directory (security spec ESC-01..06): a refusal must not
confirm that its target exists, and IAM's own iam:ResourceTag/<key> must see the target's tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.directory import AccessDeniedError, AuthorizedDirectory, Directory
from iamguard.store.memory import MemoryStore
from tests.directory.helpers import TENANT, allow, arn, refused, statements, trust

# A help desk that may do anything in IAM except touch principals tagged protected=true, written
# with IAM's own key for the tags of users and roles.
HELPDESK = statements(
    {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:*", "Resource": "*",
     "Condition": {"StringEquals": {"iam:ResourceTag/protected": "true"}}},
)

# Reads only of principals tagged team=ops, again with iam:ResourceTag.
OPS_READER = statements(
    {"Effect": "Allow", "Action": ["iam:GetUser", "iam:GetRole"], "Resource": "*",
     "Condition": {"StringEquals": {"iam:ResourceTag/team": "ops"}}},
)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def directory(sink: MemorySink) -> Iterator[Directory]:
    store = MemoryStore()
    clock = FrozenClock()
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock, audit=sink)
    directory.create_user("nobody")  # no policy at all
    directory.create_user("helpdesk")
    directory.put_user_policy("helpdesk", "access", HELPDESK)
    directory.create_user("reader")
    directory.put_user_policy("reader", "access", OPS_READER)
    # Entities whose stored path and case differ from how an outsider would name them.
    directory.create_user("Secret", path="/division/hidden/", tags={"protected": "true", "team": "ops"})
    directory.create_role("Vault", trust(), path="/ops/", tags={"protected": "true", "team": "ops"})
    directory.create_group("Board", path="/execs/")
    directory.create_policy("Admin", allow("*", "*"))
    directory.create_user("plain", tags={"team": "dev"})
    yield directory
    store.close()


def acting(directory: Directory, name: str, context: dict[str, Any] | None = None) -> AuthorizedDirectory:
    return directory.acting_as(arn("user", name), context)


# A refusal reads the same whether or not the target exists: it names the target as the caller
# spelled it, never by its stored path and case (those would confirm that it exists).

PROBES: list[tuple[str, str, Callable[[AuthorizedDirectory, str], object], str]] = [
    ("get user", "user", lambda me, name: me.get_user(name), "iam:GetUser"),
    ("inline policy on a user", "user", lambda me, name: me.put_user_policy(name, "p", allow()), "iam:PutUserPolicy"),
    ("list user tags", "user", lambda me, name: me.list_user_tags(name), "iam:ListUserTags"),
    ("credentials helper", "user", lambda me, name: me.authorize_on_user("iam:CreateAccessKey", name),
     "iam:CreateAccessKey"),
    ("get role", "role", lambda me, name: me.get_role(name), "iam:GetRole"),
    ("edit a trust policy", "role", lambda me, name: me.update_assume_role_policy(name, trust()),
     "iam:UpdateAssumeRolePolicy"),
    ("get group", "group", lambda me, name: me.get_group(name), "iam:GetGroup"),
    ("join a group", "group", lambda me, name: me.add_user_to_group(name, "nobody"), "iam:AddUserToGroup"),
    ("rename a group", "group", lambda me, name: me.update_group(name, "Other"), "iam:UpdateGroup"),
]
EXISTING = {"user": ("secret", arn("user", "Secret", "/division/hidden/")),
            "role": ("VAULT", arn("role", "Vault", "/ops/")),
            "group": ("board", arn("group", "Board", "/execs/"))}


@pytest.mark.parametrize(("kind", "call", "action"), [case[1:] for case in PROBES], ids=[case[0] for case in PROBES])
def test_a_refusal_does_not_confirm_that_the_target_exists(directory: Directory, sink: MemorySink, kind: str,
                                                           call: Any, action: str) -> None:
    me = acting(directory, "nobody")
    spelled, stored = EXISTING[kind]
    existing = refused(directory, AccessDeniedError, call, me, spelled)
    missing = refused(directory, AccessDeniedError, call, me, "ghost")
    assert (existing.action, existing.resource) == (action, arn(kind, spelled))
    assert (missing.action, missing.resource) == (action, arn(kind, "ghost"))
    assert existing.message == missing.message.replace(arn(kind, "ghost"), arn(kind, spelled))
    assert stored not in existing.message
    # The operator's records and the application's decision still name the stored entity.
    assert existing.decision is not None and existing.decision.request.resource == stored
    assert [record.resource for record in sink.records if record.effect == "Deny"][-2:] == [stored, arn(kind, "ghost")]


# iam:ResourceTag/<key>: IAM's own key for the tags of the user or role acted on.

PROTECTED: list[tuple[str, Callable[[AuthorizedDirectory], object], str]] = [
    ("admin inline policy on a protected user", lambda me: me.put_user_policy("secret", "pwn", allow("*", "*")),
     "iam:PutUserPolicy"),
    ("attach admin to a protected user", lambda me: me.attach_user_policy("secret", arn("policy", "Admin")),
     "iam:AttachUserPolicy"),
    ("untag to escape the Deny", lambda me: me.untag_user("secret", ["protected"]), "iam:UntagUser"),
    ("retag to escape the Deny", lambda me: me.tag_user("secret", {"protected": "false"}), "iam:TagUser"),
    ("trust oneself in a protected role",
     lambda me: me.update_assume_role_policy("vault", trust({"AWS": arn("user", "helpdesk")})),
     "iam:UpdateAssumeRolePolicy"),
    ("admin inline policy on a protected role", lambda me: me.put_role_policy("vault", "pwn", allow("*", "*")),
     "iam:PutRolePolicy"),
    ("issue credentials for a protected user", lambda me: me.authorize_on_user("iam:CreateAccessKey", "secret"),
     "iam:CreateAccessKey"),
]


@pytest.mark.parametrize(("call", "action"), [case[1:] for case in PROTECTED], ids=[case[0] for case in PROTECTED])
@pytest.mark.parametrize("forged", [None, {"iam:ResourceTag/protected": "false", "IAM:RESOURCETAG/PROTECTED": "false"}])
def test_a_deny_on_iam_resource_tag_applies(directory: Directory, call: Any, action: str,
                                            forged: dict[str, Any] | None) -> None:
    error = refused(directory, AccessDeniedError, call, acting(directory, "helpdesk", forged))
    assert error.action == action


def test_the_helpdesk_still_manages_unprotected_users(directory: Directory) -> None:
    acting(directory, "helpdesk").put_user_policy("plain", "p", allow())
    assert directory.list_user_policies("plain").items == ("p",)


@pytest.mark.parametrize(("call", "allowed"), [
    (lambda me: me.get_user("secret"), True),
    (lambda me: me.get_role("vault"), True),
    (lambda me: me.get_user("plain"), False),
])
def test_an_allow_on_iam_resource_tag_sees_the_target_tags(directory: Directory, call: Any, allowed: bool) -> None:
    me = acting(directory, "reader")
    if allowed:
        assert call(me).arn in {arn("user", "Secret", "/division/hidden/"), arn("role", "Vault", "/ops/")}
    else:
        refused(directory, AccessDeniedError, call, me)
