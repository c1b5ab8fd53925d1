"""STS: GetSessionToken, AssumeRole (trust evaluation, durations, session policies and tags,
chaining), step-up, revocation, and the context keys sessions contribute."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamguard.credentials import (
    AccessDenied,
    AccessKeyCredentials,
    ExpiredToken,
    InvalidAuthenticationCode,
    MalformedPolicyDocument,
    PackedPolicyTooLarge,
    RevokedToken,
    Session,
    ValidationError,
)
from iamguard.engine.decision import Effect
from tests.credentials.conftest import TENANT, Env

USER_ARN = f"arn:aws:iam::{TENANT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{TENANT}:role/deploy"
BUCKET = "arn:aws:s3:::bucket/key"


def trust(principal: Any, action: str | list[str] = "sts:AssumeRole", condition: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def caller(env: Env, key: AccessKeyCredentials) -> Session:
    return env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)


@pytest.fixture
def alice(env: Env) -> AccessKeyCredentials:
    return env.user_with_key("alice", allow(["s3:GetObject", "s3:PutObject"]))


# GetSessionToken


def test_session_token_context_keys(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.tag_user("alice", {"team": "blue"})
    issued = env.creds.get_session_token(alice)
    session = env.creds.authenticate(issued.token)
    env.clock.advance(5)
    context = session.context(env.clock.now())
    assert context == {
        "aws:PrincipalArn": USER_ARN, "aws:PrincipalAccount": TENANT, "aws:PrincipalType": "User",
        "aws:userid": env.directory.get_user("alice").user_id, "aws:username": "alice",
        "aws:PrincipalTag/team": "blue", "aws:TokenIssueTime": "2026-01-01T00:00:00Z",
        "aws:MultiFactorAuthPresent": False,
    }
    assert session.access_key_id == alice.access_key_id
    assert issued.expires_at - int(env.clock.time()) + 5 == env.creds.config.session_token_default_seconds


def test_long_term_keys_have_no_mfa_or_token_keys(env: Env, alice: AccessKeyCredentials) -> None:
    context = caller(env, alice).context(env.clock.now())
    assert not {"aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge", "aws:TokenIssueTime"} & set(context)
    assert context["aws:PrincipalArn"] == USER_ARN


def test_mfa_age_comes_from_the_signed_time(env: Env, alice: AccessKeyCredentials) -> None:
    device = env.enabled_device()
    session = env.creds.authenticate(env.creds.get_session_token(alice, mfa_code=env.code(device)).token)
    env.clock.advance(250)
    context = session.context(env.clock.now())
    assert context["aws:MultiFactorAuthPresent"] is True and context["aws:MultiFactorAuthAge"] == 250


@pytest.mark.parametrize("duration", [899, 0, -1, 43201, 10**9])
def test_session_token_duration_out_of_range(env: Env, alice: AccessKeyCredentials, duration: int) -> None:
    with pytest.raises(ValidationError):
        env.creds.get_session_token(alice, duration=duration)


@pytest.mark.parametrize("duration", [900.0, "3600", True, 1800.5])
def test_session_token_duration_must_be_an_integer(env: Env, alice: AccessKeyCredentials, duration: Any) -> None:
    with pytest.raises(ValidationError):
        env.creds.get_session_token(alice, duration=duration)


def test_session_token_needs_long_term_credentials(env: Env, alice: AccessKeyCredentials) -> None:
    session = env.creds.authenticate(env.creds.get_session_token(alice).token)
    with pytest.raises(ValidationError):
        env.creds.get_session_token(session)
    env.creds.get_session_token(caller(env, alice), duration=900)


def test_password_login_issues_a_session(env: Env) -> None:
    env.directory.create_user("carol")
    env.creds.create_login_profile("carol", "correct horse battery")
    session = env.creds.authenticate(env.creds.login("carol", "correct horse battery").token)
    assert session.access_key_id is None and session.user_name == "carol"


# AssumeRole: trust evaluation (ROLE-01)


def test_trust_naming_the_user_allows_without_identity_permission(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    issued = env.creds.assume_role(ROLE_ARN, "build-42", caller(env, alice))
    session = env.creds.authenticate(issued.token)
    assert session.principal_arn == f"arn:aws:sts::{TENANT}:assumed-role/deploy/build-42"
    assert issued.session_arn == session.principal_arn


def test_trust_naming_the_account_needs_an_identity_allow(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": f"arn:aws:iam::{TENANT}:root"}))
    with pytest.raises(AccessDenied) as denied:
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))
    assert denied.value.code == "AccessDenied" and "sts:AssumeRole" in str(denied.value)
    env.directory.put_user_policy("alice", "assume", allow("sts:AssumeRole", ROLE_ARN))
    env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))


def test_trust_naming_the_tenant_id_is_the_account_too(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": TENANT}))
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))
    env.directory.put_user_policy("alice", "assume", allow("sts:AssumeRole"))
    env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))


def test_trust_naming_someone_else_denies(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_user("bob")
    env.directory.put_user_policy("alice", "assume", allow("sts:AssumeRole"))
    env.directory.create_role("deploy", trust({"AWS": f"arn:aws:iam::{TENANT}:user/bob"}))
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))


def test_an_explicit_deny_in_the_callers_policies_wins(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.directory.put_user_policy("alice", "no-roles", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]})
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))


def test_unknown_roles_are_denied_like_forbidden_ones(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_user("nobody-else")
    env.directory.create_role("deploy", trust({"AWS": f"arn:aws:iam::{TENANT}:user/nobody-else"}))
    messages = []
    for arn in (ROLE_ARN, f"arn:aws:iam::{TENANT}:role/missing", f"arn:aws:iam::{TENANT}:role/team/deploy",
                "arn:aws:iam::999999999999:role/deploy"):
        with pytest.raises(AccessDenied) as denied:
            env.creds.assume_role(arn, "s1", caller(env, alice))
        messages.append(str(denied.value).replace(arn, "<role>"))
    assert len(set(messages)) == 1


def test_malformed_role_arn_is_a_validation_error(env: Env, alice: AccessKeyCredentials) -> None:
    with pytest.raises(ValidationError):
        env.creds.assume_role("not-an-arn", "s1", caller(env, alice))


def test_trust_conditions_see_the_callers_mfa_state(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, condition={
        "Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    device = env.enabled_device()
    with pytest.raises(AccessDenied):  # long-term key: the key is absent
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))
    plain = env.creds.authenticate(env.creds.get_session_token(alice).token)
    with pytest.raises(AccessDenied):  # session without MFA: false
        env.creds.assume_role(ROLE_ARN, "s1", plain)
    with_mfa = env.creds.authenticate(env.creds.get_session_token(alice, mfa_code=env.code(device)).token)
    role_session = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", with_mfa).token)
    assert role_session.mfa_present  # the MFA time travels with the chain, unchanged
    assert role_session.mfa_authenticated_at == with_mfa.mfa_authenticated_at
    env.clock.advance(30)
    direct = env.creds.assume_role(ROLE_ARN, "s2", caller(env, alice), mfa_code=env.code(device))
    assert env.creds.authenticate(direct.token).mfa_age(env.clock.now()) == 0


def test_mfa_code_given_to_assume_role_is_checked(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.enabled_device()
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), mfa_code="00000")


def test_external_id_condition(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, condition={
        "StringEquals": {"sts:ExternalId": "tenant-7f3a"}}))
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice))
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), external_id="tenant-0000")
    env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), external_id="tenant-7f3a")


def test_request_context_cannot_impersonate(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, condition={
        "Bool": {"aws:MultiFactorAuthPresent": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    forged = {"aws:MultiFactorAuthPresent": True, "AWS:PrincipalArn": "x", "sts:ExternalId": "x",
              "aws:SourceIp": "10.1.2.3"}
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), request_context=forged)


# durations (KEY-05, ROLE-06)


def test_role_duration_bounds(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}), max_session_duration=7200)
    start = int(env.clock.time())
    assert env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).expires_at == start + 3600
    assert env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), duration=7200).expires_at == start + 7200
    for bad in (7201, 899, 43200):
        with pytest.raises(ValidationError):
            env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), duration=bad)


def test_chained_sessions_are_capped_at_an_hour_and_by_the_parent(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}), max_session_duration=43200)
    env.directory.create_role("next", trust({"AWS": ROLE_ARN}), max_session_duration=43200)
    first = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), duration=1800).token)
    next_arn = f"arn:aws:iam::{TENANT}:role/next"
    with pytest.raises(ValidationError):
        env.creds.assume_role(next_arn, "s2", first, duration=3601)
    env.clock.advance(1000)
    chained = env.creds.assume_role(next_arn, "s2", first, duration=3600)
    assert chained.expires_at == int(first.expires_at.timestamp())  # not later than the parent
    session = env.creds.authenticate(chained.token)
    assert session.lineage[-1] == env.directory.get_role("next").role_id


def test_chained_session_dies_with_its_parent(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.directory.create_role("next", trust({"AWS": ROLE_ARN}))
    first = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token)
    chained = env.creds.assume_role(f"arn:aws:iam::{TENANT}:role/next", "s2", first).token
    env.clock.advance(5)
    env.creds.revoke_sessions(ROLE_ARN)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(chained)


# session policies, tags, source identity


def test_session_policies_only_narrow(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.directory.put_role_policy("deploy", "read", allow("s3:GetObject"))
    broad = allow(["s3:GetObject", "s3:DeleteObject", "iam:*"])
    narrow = allow("s3:GetObject", "arn:aws:s3:::bucket/public/*")
    plain = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token)
    widened = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s2", caller(env, alice),
                                                           session_policy=broad).token)
    narrowed = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s3", caller(env, alice),
                                                            session_policy=json.dumps(narrow)).token)
    assert widened.session_policies[0].kind.value == "session"
    table = [
        (plain, "s3:GetObject", BUCKET, True),
        (plain, "s3:DeleteObject", BUCKET, False),
        (widened, "s3:GetObject", BUCKET, True),
        (widened, "s3:DeleteObject", BUCKET, False),  # the session policy cannot add
        (widened, "iam:CreateUser", "*", False),
        (narrowed, "s3:GetObject", BUCKET, False),
        (narrowed, "s3:GetObject", "arn:aws:s3:::bucket/public/a", True),
    ]
    for session, action, resource, allowed in table:
        assert env.creds.authorize(session, action, resource).allowed is allowed, (session.role_session_name, action)


def test_bad_session_policies_are_refused(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    for bad in ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]},
                '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny", "Action": "*", '
                '"Resource": "*"}]}', "not json", {"Statement": []}):
        with pytest.raises(MalformedPolicyDocument):
            env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), session_policy=bad)
    huge = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"s3:GetObject{index}", "Resource": "*"} for index in range(80)]}
    with pytest.raises(ValidationError):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), session_policy=huge)


def test_session_tags_override_role_tags_and_need_tag_session(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}), tags={"team": "blue", "tier": "1"})
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), tags={"Team": "red"})
    env.directory.update_assume_role_policy("deploy", trust({"AWS": USER_ARN}, ["sts:AssumeRole", "sts:TagSession"]))
    session = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice),
                                                           tags=[{"Key": "Team", "Value": "red"}]).token)
    context = session.context(env.clock.now())
    assert context["aws:PrincipalTag/Team"] == "red" and context["aws:PrincipalTag/tier"] == "1"
    assert "aws:PrincipalTag/team" not in context
    assert context["aws:PrincipalArn"] == ROLE_ARN and "aws:username" not in context
    assert context["aws:userid"] == f"{env.directory.get_role('deploy').role_id}:s1"
    assert context["sts:RoleSessionName"] == "s1" and context["aws:PrincipalType"] == "AssumedRole"


@pytest.mark.parametrize("tags", [{"aws:team": "x"}, {"k": "v", "K": "w"}, {"bad\u00e9": "x"}, {"k": "x" * 257},
                                  {f"k{i}": "v" for i in range(51)}])
def test_bad_tags_are_refused(env: Env, alice: AccessKeyCredentials, tags: dict[str, str]) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, ["sts:AssumeRole", "sts:TagSession"]))
    with pytest.raises(ValidationError):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), tags=tags)


def test_tags_and_policy_too_large_for_a_token(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, ["sts:AssumeRole", "sts:TagSession"]))
    tags = {f"key-{index:02d}-" + "k" * 100: "v" * 256 for index in range(30)}
    with pytest.raises(PackedPolicyTooLarge):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), tags=tags)


def test_source_identity_needs_permission_and_is_sticky(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), source_identity="alice@example.com")
    env.directory.update_assume_role_policy("deploy", trust({"AWS": USER_ARN},
                                                            ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    first = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice),
                                                         source_identity="alice@example.com").token)
    assert first.context(env.clock.now())["aws:SourceIdentity"] == "alice@example.com"
    env.directory.create_role("next", trust({"AWS": ROLE_ARN}, ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    next_arn = f"arn:aws:iam::{TENANT}:role/next"
    with pytest.raises(AccessDenied):
        env.creds.assume_role(next_arn, "s2", first, source_identity="mallory")
    inherited = env.creds.authenticate(env.creds.assume_role(next_arn, "s2", first).token)
    assert inherited.source_identity == "alice@example.com"


@pytest.mark.parametrize("name", ["a", "x" * 65, "has space", "new\nline", "caf\u00e9", "s1$", "", 42])
def test_session_names_follow_iams_ascii_charset(env: Env, alice: AccessKeyCredentials, name: Any) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    with pytest.raises(ValidationError):
        env.creds.assume_role(ROLE_ARN, name, caller(env, alice))


@pytest.mark.parametrize("value", ["a", "aws:me", "caf\u00e9", "x" * 65])
def test_source_identity_charset(env: Env, alice: AccessKeyCredentials, value: str) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}, ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    with pytest.raises(ValidationError):
        env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice), source_identity=value)


# permissions are evaluated per request from current policies (ROLE-05)


def test_role_permissions_are_current_and_role_deletion_kills_sessions(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    env.directory.put_role_policy("deploy", "read", allow("s3:GetObject"))
    token = env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token
    session = env.creds.authenticate(token)
    assert env.creds.authorize(session, "s3:GetObject", BUCKET).allowed
    env.directory.delete_role_policy("deploy", "read")
    assert env.creds.authorize(session, "s3:GetObject", BUCKET).effect is Effect.IMPLICIT_DENY
    env.directory.delete_role("deploy")
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)
    decision = env.creds.authorize(session, "s3:GetObject", BUCKET)
    assert decision.effect is Effect.EXPLICIT_DENY and decision.error


def test_narrowing_the_trust_policy_does_not_kill_live_sessions(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    token = env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token
    env.directory.update_assume_role_policy("deploy", trust({"AWS": f"arn:aws:iam::{TENANT}:root"}))
    env.creds.authenticate(token)
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s2", caller(env, alice))


# revocation


def test_revoke_sessions_before_a_moment(env: Env, alice: AccessKeyCredentials) -> None:
    old = env.creds.get_session_token(alice).token
    env.clock.advance(60)
    newer = env.creds.get_session_token(alice).token
    env.clock.advance(60)
    env.creds.revoke_sessions(USER_ARN, before=env.clock.time() - 90)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(old)
    env.creds.authenticate(newer)
    env.creds.revoke_sessions(USER_ARN)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(newer)
    env.clock.advance(1)
    env.creds.authenticate(env.creds.get_session_token(alice).token)  # new sessions work


def test_revoking_the_user_ends_role_sessions_derived_from_them(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    token = env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token
    env.clock.advance(1)
    env.creds.revoke_sessions(USER_ARN)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(token)


def test_revoke_one_session(env: Env, alice: AccessKeyCredentials) -> None:
    first = env.creds.get_session_token(alice).token
    second = env.creds.get_session_token(alice).token
    env.creds.revoke_session(env.creds.authenticate(first))
    with pytest.raises(RevokedToken):
        env.creds.authenticate(first)
    env.creds.authenticate(second)


def test_revocation_is_seen_by_another_facade_at_once(env: Env, alice: AccessKeyCredentials) -> None:
    other = env.credentials()
    token = env.creds.get_session_token(alice).token
    other.authenticate(token)
    env.clock.advance(1)
    env.creds.revoke_sessions(USER_ARN)
    with pytest.raises(RevokedToken):
        other.authenticate(token)


def test_deactivating_or_deleting_the_key_ends_its_sessions(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    token = env.creds.get_session_token(alice).token
    role_token = env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token
    env.creds.update_access_key(alice.access_key_id, "Inactive")
    for dead in (token, role_token):
        with pytest.raises(RevokedToken):
            env.creds.authenticate(dead)
    # Activating the key again does not bring them back (KEY-04: deactivation answers a leak)...
    env.clock.advance(1)
    env.creds.update_access_key(alice.access_key_id, "Active")
    for dead in (token, role_token):
        with pytest.raises(RevokedToken):
            env.creds.authenticate(dead)
    # ...but the key works again, and so do the sessions minted from it since.
    fresh = env.creds.get_session_token(alice).token
    assert env.creds.authenticate(fresh).principal_arn == USER_ARN
    env.creds.delete_access_key(alice.access_key_id)
    with pytest.raises(RevokedToken):
        env.creds.authenticate(fresh)


# step-up


def test_step_up_refreshes_mfa_time_and_keeps_the_expiry(env: Env, alice: AccessKeyCredentials) -> None:
    device = env.enabled_device()
    issued = env.creds.get_session_token(alice, duration=3600)
    session = env.creds.authenticate(issued.token)
    assert not session.mfa_present
    env.clock.advance(600)
    stepped = env.creds.step_up(issued.token, env.code(device))
    upgraded = env.creds.authenticate(stepped.token)
    assert stepped.expires_at == issued.expires_at
    assert upgraded.mfa_age(env.clock.now()) == 0
    assert upgraded.principal_arn == session.principal_arn and upgraded.jti != session.jti
    assert upgraded.issued_at is not None and upgraded.issued_at > session.issued_at  # type: ignore[operator]
    with pytest.raises(InvalidAuthenticationCode):
        env.creds.step_up(session, env.code(device))  # the same code again
    with pytest.raises(ValidationError):
        env.creds.step_up(session)
    with pytest.raises(ValidationError):
        env.creds.step_up(caller(env, alice), env.code(device, 1))


def test_step_up_of_a_role_session_uses_the_users_device(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.create_role("deploy", trust({"AWS": USER_ARN}))
    device = env.enabled_device()
    role_session = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "s1", caller(env, alice)).token)
    stepped = env.creds.authenticate(env.creds.step_up(role_session, env.code(device)).token)
    assert stepped.mfa_present and stepped.principal_arn == role_session.principal_arn
    assert stepped.expires_at == role_session.expires_at


def test_step_up_of_an_expired_session_fails(env: Env, alice: AccessKeyCredentials) -> None:
    device = env.enabled_device()
    session = env.creds.authenticate(env.creds.get_session_token(alice, duration=900).token)
    env.clock.advance(1000)
    with pytest.raises(ExpiredToken):
        env.creds.step_up(session, env.code(device))


def test_authorize_uses_the_session_context(env: Env, alice: AccessKeyCredentials) -> None:
    env.directory.put_user_policy("alice", "mfa", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "300"}}},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]})
    device = env.enabled_device()
    plain = env.creds.authenticate(env.creds.get_session_token(alice).token)
    strong = env.creds.authenticate(env.creds.get_session_token(alice, mfa_code=env.code(device)).token)
    long_term = caller(env, alice)
    assert not env.creds.authorize(plain, "s3:PutObject", BUCKET).allowed
    assert env.creds.authorize(strong, "s3:PutObject", BUCKET).allowed
    # BoolIfExists ... false also stops long-term keys, whose context has no MFA key at all
    assert env.creds.authorize(long_term, "s3:PutObject", BUCKET).effect is Effect.EXPLICIT_DENY
    assert env.creds.authorize(long_term, "s3:GetObject", BUCKET).allowed
    env.clock.advance(301)
    assert not env.creds.authorize(strong, "s3:PutObject", BUCKET).allowed
    policy_set = env.creds.policy_set_for(strong)
    assert policy_set is env.creds.policy_set_for(strong)  # memoized


def test_request_context_keeps_request_keys_and_drops_identity_keys(env: Env, alice: AccessKeyCredentials) -> None:
    session = env.creds.authenticate(env.creds.get_session_token(alice).token)
    env.clock.advance(42)
    context = env.creds.request_context(session, {
        "aws:SourceIp": "192.0.2.10", "aws:RequestTag/env": "prod", "aws:TagKeys": ["env"],
        "aws:PrincipalArn": "arn:aws:iam::111122223333:user/admin", "aws:MultiFactorAuthPresent": True,
        "aws:CurrentTime": "2030-01-01T00:00:00Z", "aws:userid": "AIDAFAKE", "sts:RoleSessionName": "x"})
    assert context["aws:SourceIp"] == "192.0.2.10" and context["aws:RequestTag/env"] == "prod"
    assert context["aws:TagKeys"] == ["env"]
    assert context["aws:PrincipalArn"] == USER_ARN and context["aws:MultiFactorAuthPresent"] is False
    assert context["aws:CurrentTime"] == "2026-01-01T00:00:42Z" and context["aws:EpochTime"] == 1767225642
    assert context["aws:userid"] == session.userid and "sts:RoleSessionName" not in context
