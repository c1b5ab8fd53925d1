"""Red-team round 6 on session tags, source identity and tag conditions in AssumeRole.

- Role chaining with a source identity: AWS requires `sts:SetSourceIdentity` in the target
  role's trust policy whenever the source identity is carried into the new session, not only
  when it is first set ("Permissions required to set source identity").
- The role is the resource of `sts:AssumeRole`: `aws:ResourceTag/*` and `iam:ResourceTag/*` are
  the role's stored tags (AWS's ABAC tutorial matches them against `${aws:PrincipalTag/...}`),
  and a caller's request context cannot supply them.
"""

from __future__ import annotations

from typing import Any

import pytest

from iamguard.credentials import AccessDenied, AccessKeyCredentials, Session
from tests.credentials.conftest import TENANT, Env

USER_ARN = f"arn:aws:iam::{TENANT}:user/alice"
FIRST_ARN = f"arn:aws:iam::{TENANT}:role/first"
SECOND_ARN = f"arn:aws:iam::{TENANT}:role/second"
V2012 = "2012-10-17"


def trust(principal: str, actions: list[str]) -> dict[str, Any]:
    return {"Version": V2012, "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions}]}


def key_session(env: Env, key: AccessKeyCredentials) -> Session:
    return env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)


# source identity carried through role chaining


@pytest.mark.parametrize(("first_source", "second_actions", "passed_again", "expected_source"), [
    # carried without the permission in the target's trust policy: refused, as in AWS
    ("alice", ["sts:AssumeRole"], None, None),
    # naming the same value again is still setting it on the new session
    ("alice", ["sts:AssumeRole"], "alice", None),
    ("alice", ["sts:AssumeRole", "sts:SetSourceIdentity"], None, "alice"),
    ("alice", ["sts:AssumeRole", "sts:SetSourceIdentity"], "alice", "alice"),
    # no source identity anywhere: sts:AssumeRole alone is enough
    (None, ["sts:AssumeRole"], None, ""),
])
def test_chained_source_identity_needs_set_source_identity(
        env: Env, first_source: str | None, second_actions: list[str], passed_again: str | None,
        expected_source: str | None) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("first", trust(USER_ARN, ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    env.directory.create_role("second", trust(FIRST_ARN, second_actions))
    first = env.creds.authenticate(env.creds.assume_role(FIRST_ARN, "hop-1", key_session(env, key),
                                                         source_identity=first_source).token)
    if expected_source is None:
        with pytest.raises(AccessDenied) as refused:
            env.creds.assume_role(SECOND_ARN, "hop-2", first, source_identity=passed_again)
        assert "sts:SetSourceIdentity" in str(refused.value)
        return
    second = env.creds.authenticate(env.creds.assume_role(SECOND_ARN, "hop-2", first,
                                                          source_identity=passed_again).token)
    assert (second.source_identity or "") == expected_source
    assert second.context(env.clock.now()).get("aws:SourceIdentity", "") == expected_source


# the role's tags as resource tags of sts:AssumeRole


ABAC_ASSUME = {"Version": V2012, "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{TENANT}:role/access-*",
    "Condition": {"StringEquals": {"iam:ResourceTag/team": "${aws:PrincipalTag/team}",
                                   "aws:ResourceTag/project": "${aws:PrincipalTag/project}"}}}]}


@pytest.mark.parametrize(("role_tags", "forged", "allowed"), [
    ({"team": "blue", "project": "apollo"}, {}, True),
    ({"Team": "blue", "PROJECT": "apollo"}, {}, True),  # tag key names ignore case
    ({"team": "red", "project": "apollo"}, {}, False),
    ({"team": "blue"}, {}, False),  # a tag the role lacks never matches
    # the caller's request context cannot stand in for the role's tags, in either direction
    ({"team": "red", "project": "apollo"}, {"iam:ResourceTag/team": "blue", "aws:ResourceTag/project": "apollo"},
     False),
    ({"team": "blue"}, {"IAM:RESOURCETAG/TEAM": "blue", "aws:resourcetag/project": "apollo"}, False),
    ({"team": "blue", "project": "apollo"}, {"iam:ResourceTag/team": "red", "aws:ResourceTag/project": "x"}, True),
])
def test_assume_role_sees_the_roles_stored_tags(env: Env, role_tags: dict[str, str], forged: dict[str, str],
                                                allowed: bool) -> None:
    env.directory.create_user("alice", tags={"team": "blue", "project": "apollo"})
    env.directory.put_user_policy("alice", "abac", ABAC_ASSUME)
    key = env.creds.create_access_key("alice")
    caller = key_session(env, AccessKeyCredentials(key.access_key_id, key.secret_access_key))
    env.directory.create_role("access-ops", trust(TENANT, ["sts:AssumeRole"]), tags=role_tags)
    role_arn = f"arn:aws:iam::{TENANT}:role/access-ops"
    if allowed:
        issued = env.creds.assume_role(role_arn, "abac", caller, request_context=forged)
        assert issued.session_arn == f"arn:aws:sts::{TENANT}:assumed-role/access-ops/abac"
    else:
        with pytest.raises(AccessDenied):
            env.creds.assume_role(role_arn, "abac", caller, request_context=forged)


def test_trust_policy_deny_on_the_roles_tag_cannot_be_masked(env: Env) -> None:
    key = env.user_with_key("alice")
    locked = {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": USER_ARN}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:ResourceTag/state": "locked"}}}]}
    env.directory.create_role("vault", locked, tags={"state": "locked"})
    role_arn = f"arn:aws:iam::{TENANT}:role/vault"
    for forged in ({}, {"aws:ResourceTag/state": "open"}, {"aws:resourcetag/STATE": None}):
        with pytest.raises(AccessDenied):
            env.creds.assume_role(role_arn, "try", key_session(env, key), request_context=forged)
    env.directory.untag_role("vault", ["state"])
    assert env.creds.assume_role(role_arn, "try", key_session(env, key)).session_arn.endswith("/vault/try")
