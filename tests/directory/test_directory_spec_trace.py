"""Security catalogue items of sections 8-11 (ROLE, ESC, FAIL, CACHE) that no other test proved in
full, each test named after its item. The traceability table that cites these next to the older
tests is the "Roles, escalation, failure handling and caching" part of the audit document."""

from __future__ import annotations

import inspect
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import (
    AccessDenied,
    AccessKeyCredentials,
    Credentials,
    RevokedToken,
    Session,
    ValidationError,
)
from iamguard.directory import AccessDeniedError, AuthorizedDirectory, Directory, authorize_iam_call
from iamguard.directory.errors import MalformedPolicyDocumentError
from iamguard.engine.decision import Effect
from iamguard.lint import validate_policy
from iamguard.store.database import StoreError
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard
from iamguard.web.endpoints import AuthEndpoints
from iamguard.web.guard import GuardConfig
from tests.credentials.conftest import TENANT as CRED_TENANT
from tests.credentials.conftest import Env, build_env, cheap_settings
from tests.directory.helpers import allow, arn, refused, statements, trust
from tests.directory.test_directory_authorized import (
    ADMIN,
    ADMIN_DOC,
    OTHER_BOUNDARY,
    READ_ONLY,
    SELF_READ,
    make_directory,
)
from tests.web.stubs import standard_authority
from tests.web.test_web_guard import ROUTES, request

ROLE_ARN = f"arn:aws:iam::{CRED_TENANT}:role/deploy"
OBJECT = "arn:aws:s3:::bucket/key"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return build_env("memory", tmp_path)


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{CRED_TENANT}:user/{name}"


def cred_trust(principal: Any, condition: dict[str, Any] | None = None,
               actions: str | list[str] = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def long_term(env: Env, key: AccessKeyCredentials) -> Session:
    return env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)


# ---- ROLE-01: a role anyone may assume is refused, however it is spelled and written ----------

OPEN_PRINCIPALS: list[Any] = ["*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": [arn("user", "alice"), "*"]}]


@pytest.mark.parametrize("principal", OPEN_PRINCIPALS)
@pytest.mark.parametrize("write", ["create_role", "update_assume_role_policy"])
def test_role_01_open_trust_is_refused_on_every_write_path(directory: Directory, principal: Any, write: str) -> None:
    directory.create_user("alice")
    directory.create_role("app", trust())
    call = directory.create_role if write == "create_role" else directory.update_assume_role_policy
    name = "other" if write == "create_role" else "app"
    error = refused(directory, MalformedPolicyDocumentError, call, name, trust(principal))
    assert (error.status, [finding.code for finding in error.findings]) == (400, ["OpenTrust"])


# ---- ROLE-02: sts:ExternalId has AWS's bounds and only the explicit argument sets it ----------

EXTERNAL_IDS: list[tuple[str, dict[str, Any], type[Exception] | None]] = [
    ("one character is too short", {"external_id": "a"}, ValidationError),
    ("1,225 characters are too long", {"external_id": "x" * 1225}, ValidationError),
    ("a character outside IAM's set", {"external_id": "tenant 7"}, ValidationError),
    ("1,224 characters are accepted, then compared", {"external_id": "x" * 1224}, AccessDenied),
    ("another tenant's id", {"external_id": "tenant-0000"}, AccessDenied),
    ("no id", {}, AccessDenied),
    ("an id smuggled through request_context", {"request_context": {"sts:ExternalId": "tenant-7f3a",
                                                                    "STS:externalid": "tenant-7f3a"}}, AccessDenied),
    ("the right id", {"external_id": "tenant-7f3a"}, None),
]


@pytest.mark.parametrize(("given", "error"), [case[1:] for case in EXTERNAL_IDS],
                         ids=[case[0] for case in EXTERNAL_IDS])
def test_role_02_external_id_is_bounded_and_never_taken_from_the_context(env: Env, given: dict[str, Any],
                                                                         error: type[Exception] | None) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")},
                                                   {"StringEquals": {"sts:ExternalId": "tenant-7f3a"}}))
    if error is None:
        assert env.creds.assume_role(ROLE_ARN, "s1", long_term(env, key), **given).session_arn.endswith("/deploy/s1")
        return
    with pytest.raises(error):
        env.creds.assume_role(ROLE_ARN, "s1", long_term(env, key), **given)


def test_role_02_the_http_endpoint_takes_no_context_keys_from_the_body(env: Env) -> None:
    """A service acting for a tenant fills aws:SourceArn itself (request_context=...); a client of
    POST /auth/assume-role cannot, whatever its body says."""
    key = env.user_with_key("alice")
    token = env.creds.get_session_token(key).token
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")}, {
        "ArnEquals": {"aws:SourceArn": "arn:app:export:::tenant/7"}, "StringEquals": {"sts:ExternalId": "t-7f3a"}}))
    body = {"role_arn": ROLE_ARN, "session_name": "s1", "external_id": "t-7f3a", "aws:SourceArn":
            "arn:app:export:::tenant/7", "request_context": {"aws:SourceArn": "arn:app:export:::tenant/7"}}
    answer = AuthEndpoints(env.creds, source_limit=None).assume_role(
        (("authorization", f"Bearer {token}"), ("content-type", "application/json")), json.dumps(body).encode(),
        "192.0.2.1")
    assert answer.status == 403
    env.creds.assume_role(ROLE_ARN, "s1", long_term(env, key), external_id="t-7f3a",
                          request_context={"aws:SourceArn": "arn:app:export:::tenant/7"})


# ---- ROLE-03: role policies ∩ role boundary ∩ session policy, through Credentials.authorize ----

def test_role_03_a_role_session_gets_the_intersection_of_its_policies_boundary_and_session_policy(
        env: Env) -> None:
    key = env.user_with_key("alice")
    boundary = env.directory.create_policy("RoleBoundary", allow(["s3:GetObject", "s3:PutObject", "s3:ListBucket"]))
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")}))
    env.directory.put_role_policy("deploy", "s3", allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]))
    env.directory.put_role_permissions_boundary("deploy", boundary.arn)
    session_policy = allow(["s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "iam:*"])
    plain = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "plain", long_term(env, key)).token)
    scoped = env.creds.authenticate(env.creds.assume_role(ROLE_ARN, "scoped", long_term(env, key),
                                                          session_policy=session_policy).token)
    table = [
        (plain, "s3:GetObject", True),  # role ∩ boundary
        (plain, "s3:PutObject", True),
        (plain, "s3:DeleteObject", False),  # outside the boundary
        (plain, "s3:ListBucket", False),  # the boundary alone never grants
        (scoped, "s3:GetObject", True),  # in all three
        (scoped, "s3:PutObject", False),  # not in the session policy
        (scoped, "s3:DeleteObject", False),  # not in the boundary
        (scoped, "s3:ListBucket", False),  # not in the role's policies
        (scoped, "iam:CreateUser", False),  # the session policy adds nothing
    ]
    for session, action, allowed in table:
        assert env.creds.authorize(session, action, OBJECT).allowed is allowed, (session.role_session_name, action)


# ---- ROLE-04: a principal recreated under the same name inherits nothing ----------------------

def test_role_04_a_recreated_role_does_not_revive_the_old_role_s_sessions(env: Env) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")}))
    env.directory.put_role_policy("deploy", "read", allow("s3:GetObject"))
    old = env.creds.assume_role(ROLE_ARN, "s1", long_term(env, key)).token
    env.directory.delete_role_policy("deploy", "read")
    env.directory.delete_role("deploy")
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")}))
    env.directory.put_role_policy("deploy", "read", allow("s3:GetObject"))
    with pytest.raises(RevokedToken):
        env.creds.authenticate(old)


def test_role_04_a_recreated_user_does_not_inherit_the_old_user_s_trust(env: Env) -> None:
    env.directory.create_user("bob")
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("bob")}))
    env.directory.delete_user("bob")
    env.directory.create_user("bob")
    key = env.creds.create_access_key("bob")
    with pytest.raises(AccessDenied):
        env.creds.assume_role(ROLE_ARN, "s1", long_term(env, AccessKeyCredentials(key.access_key_id,
                                                                                  key.secret_access_key)))


# ---- ROLE-06: durations outside the bounds are a 400 at the HTTP endpoint ---------------------

@pytest.mark.parametrize(("duration", "chained", "status"), [
    (899, False, 400), (3601, False, 400), (43200, False, 400), (900, False, 200), (3600, False, 200),
    (3601, True, 400), (3600, True, 200),
])
def test_role_06_durations_outside_the_bounds_are_refused_with_400(env: Env, duration: int, chained: bool,
                                                                   status: int) -> None:
    key = env.user_with_key("alice")
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("alice")}), max_session_duration=3600)
    env.directory.create_role("next", cred_trust({"AWS": ROLE_ARN}), max_session_duration=43200)
    if chained:
        token = env.creds.assume_role(ROLE_ARN, "s0", long_term(env, key), duration=3600).token
        target = f"arn:aws:iam::{CRED_TENANT}:role/next"
    else:
        token, target = env.creds.get_session_token(key).token, ROLE_ARN
    body = json.dumps({"role_arn": target, "session_name": "s1", "duration_seconds": duration}).encode()
    answer = AuthEndpoints(env.creds, source_limit=None).assume_role(
        (("authorization", f"Bearer {token}"), ("content-type", "application/json")), body, "192.0.2.1")
    assert answer.status == status, answer.body
    if status == 400:
        assert json.loads(answer.body)["error"] == "ValidationError"


# ---- ROLE-07: a session name is never taken for who the caller is -----------------------------

def test_role_07_a_session_named_after_another_user_is_still_the_role_session_of_its_caller(env: Env) -> None:
    sink = MemorySink()
    creds = env.credentials(audit=sink)
    env.user_with_key("alice", allow("*"))  # the user the session name imitates, allowed everything
    env.directory.create_user("bob")
    creds.create_login_profile("bob", "correct horse battery")
    bob = creds.authenticate(creds.login("bob", "correct horse battery").token)
    env.directory.create_role("deploy", cred_trust({"AWS": user_arn("bob")}))
    env.directory.put_role_policy("deploy", "read", allow("s3:GetObject"))
    session = creds.authenticate(creds.assume_role(ROLE_ARN, "alice", bob).token)
    context = session.context(env.clock.now())
    assert session.principal_arn == f"arn:aws:sts::{CRED_TENANT}:assumed-role/deploy/alice"
    assert "aws:username" not in context and context["aws:PrincipalArn"] == ROLE_ARN
    assert context["aws:userid"] == f"{env.directory.get_role('deploy').role_id}:alice"
    assert creds.authorize(session, "s3:GetObject", OBJECT).allowed
    assert creds.authorize(session, "s3:DeleteObject", OBJECT).effect is Effect.IMPLICIT_DENY  # not alice's rights
    [record] = [record for record in sink.records if record.extra.get("event") == "assume_role"]
    assert record.extra["caller_arn"] == user_arn("bob")  # who asked, whatever name was chosen
    assert record.extra["session_name"] == "alice" and record.principal == session.principal_arn


# ---- ESC-01: every IAM change by a caller without IAM permissions is a 403 that changes nothing -

MUTATIONS: list[tuple[str, tuple[Any, ...]]] = [
    ("add_user_to_group", ("admins", "nobody")),
    ("attach_group_policy", ("staff", ADMIN)),
    ("attach_role_policy", ("admin-role", READ_ONLY)),
    ("attach_user_policy", ("nobody", ADMIN)),
    ("create_group", ("ops",)),
    ("create_policy", ("Mine", ADMIN_DOC)),
    ("create_policy_version", (SELF_READ, ADMIN_DOC, True)),
    ("create_role", ("escape", trust({"AWS": arn("user", "nobody")}))),
    ("create_user", ("nobody2",)),
    ("delete_group", ("staff",)),
    ("delete_group_policy", ("staff", "p")),
    ("delete_policy", (OTHER_BOUNDARY,)),
    ("delete_policy_version", (SELF_READ, "v2")),
    ("delete_role", ("admin-role",)),
    ("delete_role_permissions_boundary", ("admin-role",)),
    ("delete_role_policy", ("admin-role", "p")),
    ("delete_user", ("carol",)),
    ("delete_user_permissions_boundary", ("bounded",)),
    ("delete_user_policy", ("alice", "access")),
    ("detach_group_policy", ("admins", ADMIN)),
    ("detach_role_policy", ("admin-role", ADMIN)),
    ("detach_user_policy", ("mallory", SELF_READ)),
    ("put_group_policy", ("staff", "p", ADMIN_DOC)),
    ("put_role_permissions_boundary", ("admin-role", OTHER_BOUNDARY)),
    ("put_role_policy", ("admin-role", "p", ADMIN_DOC)),
    ("put_user_permissions_boundary", ("carol", OTHER_BOUNDARY)),
    ("put_user_policy", ("nobody", "p", ADMIN_DOC)),
    ("remove_user_from_group", ("staff", "mallory")),
    ("set_default_policy_version", (SELF_READ, "v2")),
    ("tag_role", ("admin-role", {"k": "v"})),
    ("tag_user", ("nobody", {"team": "ops"})),
    ("untag_role", ("admin-role", ["k"])),
    ("untag_user", ("carol", ["team"])),
    ("update_assume_role_policy", ("admin-role", trust({"AWS": arn("user", "nobody")}))),
    ("update_group", ("staff", "crew")),
    ("update_role", ("admin-role", "x", 7200)),
    ("update_user", ("carol", "carla")),
]
# Methods of AuthorizedDirectory that change nothing themselves (they only decide).
DECIDE_ONLY = {"authorize_call", "authorize_on_user"}


@pytest.fixture
def tenant() -> Iterator[tuple[Directory, MemorySink]]:
    store, sink = MemoryStore(), MemorySink()
    directory = make_directory(store, FrozenClock(), sink)
    directory.create_user("nobody")  # no policy at all
    yield directory, sink
    store.close()


@pytest.mark.parametrize(("method", "args"), MUTATIONS, ids=[name for name, _ in MUTATIONS])
def test_esc_01_a_caller_with_no_iam_permission_changes_nothing(tenant: tuple[Directory, MemorySink], method: str,
                                                                args: tuple[Any, ...]) -> None:
    directory, sink = tenant
    before, generation = directory.export_tenant(), directory.store.generation()
    sink.clear()
    with pytest.raises(AccessDeniedError) as denied:
        getattr(directory.acting_as(arn("user", "nobody")), method)(*args)
    action = "iam:" + "".join(part.capitalize() for part in method.split("_"))
    assert (denied.value.status, denied.value.action) == (403, action)
    assert directory.export_tenant() == before and directory.store.generation() == generation
    assert [(record.effect, record.action) for record in sink.records] == [("Deny", action)]


def test_esc_01_the_table_covers_every_mutation_of_the_authorized_directory() -> None:
    public = {name for name, _ in inspect.getmembers(AuthorizedDirectory, inspect.isfunction)
              if not name.startswith(("_", "get_", "list_", "simulate_"))}
    assert public - DECIDE_ONLY == {name for name, _ in MUTATIONS}


# ---- ESC-02: iam:PassRole on the role's ARN, with iam:PassedToService from the application ----

PASS_ROLE_POLICY = statements({
    "Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "runner"),
    "Condition": {"StringEquals": {"iam:PassedToService": "jobs.example.com"}}})


@pytest.mark.parametrize(("role", "service", "forged", "allowed"), [
    ("runner", "jobs.example.com", None, True),
    ("runner", "hooks.example.com", None, False),  # the right role handed to another kind of thing
    ("admin-role", "jobs.example.com", None, False),  # a role the caller may not hand out
    ("runner", None, "jobs.example.com", False),  # the caller's context cannot name the service
])
def test_esc_02_pass_role_is_decided_on_the_role_arn_and_the_service_it_goes_to(
        directory: Directory, role: str, service: str | None, forged: str | None, allowed: bool) -> None:
    directory.create_role("runner", trust())
    directory.create_role("admin-role", trust())
    directory.create_user("dev")
    directory.put_user_policy("dev", "pass", PASS_ROLE_POLICY)
    keys = {"iam:PassedToService": service} if service else None
    context = {"iam:PassedToService": forged} if forged else None
    if allowed:
        assert authorize_iam_call(directory, arn("user", "dev"), "iam:PassRole", arn("role", role), context,
                                  request_keys=keys).allowed
        return
    with pytest.raises(AccessDeniedError):
        authorize_iam_call(directory, arn("user", "dev"), "iam:PassRole", arn("role", role), context,
                           request_keys=keys)


@pytest.mark.parametrize(("statement", "flagged"), [
    ({"Effect": "Allow", "NotAction": "s3:*", "Resource": arn("role", "*")}, True),
    ({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": arn("role", "runner")}, True),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, True),
    ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn("role", "runner")}, False),
])
def test_esc_02_pass_role_granted_through_not_action_or_not_resource_is_flagged(statement: dict[str, Any],
                                                                                flagged: bool) -> None:
    found = {finding.code for finding in validate_policy(statements(statement), "identity")}
    assert ("PASS_ROLE_WITH_STAR" in found) is flagged, found


# ---- ESC-03: admin policies on a bounded principal stay inside the boundary -------------------

@pytest.mark.parametrize("kind", ["user", "role"])
def test_esc_03_admin_policies_never_lift_a_principal_above_its_boundary(directory: Directory, kind: str) -> None:
    boundary = directory.create_policy("Boundary", allow("s3:*"))
    admin = directory.create_policy("Admin", ADMIN_DOC)
    if kind == "user":
        principal = directory.create_user("svc", permissions_boundary=boundary.arn).arn
        directory.attach_user_policy("svc", admin.arn)
        directory.put_user_policy("svc", "inline-admin", ADMIN_DOC)
    else:
        principal = directory.create_role("svc", trust(), permissions_boundary=boundary.arn).arn
        directory.attach_role_policy("svc", admin.arn)
        directory.put_role_policy("svc", "inline-admin", ADMIN_DOC)
    assert directory.authorize(principal, "s3:GetObject", OBJECT).allowed
    for action, resource in [("iam:CreateUser", arn("user", "x")), ("iam:DeleteUserPermissionsBoundary", principal),
                             ("orders:DeleteOrder", "arn:app:orders:::order/1")]:
        assert directory.authorize(principal, action, resource).effect is Effect.IMPLICIT_DENY, action


# ---- ESC-04: another user's MFA: admin permission plus the actor's fresh MFA ------------------

HELPDESK = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:DeactivateMFADevice", "Resource": f"arn:aws:iam::{CRED_TENANT}:user/*",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                   "NumericLessThan": {"aws:MultiFactorAuthAge": "300"}}}]}
SELF_SERVICE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:DeactivateMFADevice",
     "Resource": f"arn:aws:iam::{CRED_TENANT}:user/${{aws:username}}"}]}


@pytest.mark.parametrize(("actor", "mfa", "age", "target", "allowed"), [
    ("helpdesk", True, 60, "bob", True),
    ("helpdesk", True, 400, "bob", False),  # MFA too old
    ("helpdesk", False, 0, "bob", False),  # signed in without MFA
    ("carol", False, 0, "carol", True),  # self-service through ${aws:username}
    ("carol", False, 0, "bob", False),  # ...never someone else
])
def test_esc_04_deactivating_another_users_mfa_needs_admin_rights_and_fresh_mfa(
        env: Env, actor: str, mfa: bool, age: int, target: str, allowed: bool) -> None:
    key = env.user_with_key(actor, HELPDESK if actor == "helpdesk" else SELF_SERVICE)
    if actor != "bob":
        env.directory.create_user("bob")
    code = env.code(env.enabled_device(actor)) if mfa else None
    session = env.creds.authenticate(env.creds.get_session_token(key, mfa_code=code).token)
    env.clock.advance(age)
    me = env.directory.acting_as(session.principal_arn, env.creds.request_context(session))
    if allowed:
        me.authorize_on_user("iam:DeactivateMFADevice", target)
        return
    with pytest.raises(AccessDeniedError):
        me.authorize_on_user("iam:DeactivateMFADevice", target)


# ---- ESC-06: update calls take no security-relevant field ------------------------------------

@pytest.mark.parametrize(("method", "args", "smuggled"), [
    ("update_user", ("bounded",), {"permissions_boundary": None}),
    ("update_user", ("carol",), {"tags": {"admin": "true"}}),
    ("update_user", ("carol",), {"is_admin": True}),
    ("update_role", ("admin-role",), {"assume_role_policy_document": trust({"AWS": arn("user", "updater")})}),
    ("update_role", ("admin-role",), {"permissions_boundary": None}),
    ("update_group", ("staff",), {"policy_arn": ADMIN}),
])
def test_esc_06_update_calls_refuse_security_fields_and_change_nothing(
        tenant: tuple[Directory, MemorySink], method: str, args: tuple[Any, ...], smuggled: dict[str, Any]) -> None:
    directory, _ = tenant
    directory.create_user("updater")
    directory.put_user_policy("updater", "updates", statements(
        {"Effect": "Allow", "Action": ["iam:UpdateUser", "iam:UpdateRole", "iam:UpdateGroup"], "Resource": "*"}))
    before, generation = directory.export_tenant(), directory.store.generation()
    with pytest.raises(TypeError):
        getattr(directory.acting_as(arn("user", "updater")), method)(*args, **smuggled)
    assert directory.export_tenant() == before and directory.store.generation() == generation
    # The field's own action is still required: UpdateUser alone does not reach the boundary.
    with pytest.raises(AccessDeniedError):
        directory.acting_as(arn("user", "updater")).delete_user_permissions_boundary("bounded")


# ---- FAIL-01: a real SQLite lock at the token endpoint is a 503, audited, not remembered -------

def test_fail_01_a_locked_store_is_a_503_with_a_store_unavailable_record(tmp_path: Path) -> None:
    path, clock, sink = tmp_path / "locked.db", FrozenClock(), MemorySink()
    store = SQLiteStore(path, timeout=0.1)
    try:
        Directory.create_tenant(store, CRED_TENANT, clock=clock)
        directory = Directory(store, CRED_TENANT, clock=clock)
        directory.create_user("carol")
        creds = Credentials(directory, clock=clock, audit=sink, **cheap_settings())
        creds.create_login_profile("carol", "correct horse battery")
        endpoints = AuthEndpoints(creds, source_limit=None)
        body = json.dumps({"user_name": "carol", "password": "correct horse battery"}).encode()

        def login() -> int:
            return endpoints.token((("content-type", "application/json"),), body, "192.0.2.1").status

        rival = sqlite3.connect(path, isolation_level=None)
        rival.execute("BEGIN IMMEDIATE")  # another process holds the write lock past our timeout
        try:
            sink.clear()
            assert login() == 503
            assert [(record.effect, record.reason, record.status) for record in sink.records] == [
                ("Deny", "store_unavailable", 503)]
        finally:
            rival.execute("ROLLBACK")
            rival.close()
        assert login() == 200  # the failure was not kept as an answer
    finally:
        store.close()


# ---- FAIL-04: no option of the guard turns a failure into an allow ----------------------------

BOOLEAN_OPTIONS = [name for name, value in inspect.signature(GuardConfig).parameters.items()
                   if isinstance(value.default, bool)]


@pytest.mark.parametrize("option", BOOLEAN_OPTIONS)
@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("fault", [StoreError("database is locked"), RuntimeError("bug")])
def test_fail_04_no_guard_option_lets_a_failed_decision_through(option: str, value: bool,
                                                               fault: Exception) -> None:
    authority = standard_authority()
    authority.fail["policy_set_for"] = fault
    sink = MemorySink()
    guard = Guard(authority, routes=ROUTES, audit=sink, clock=FrozenClock(), tenant="111122223333",
                  **{option: value})
    for _ in range(2):  # nothing from the first failure is reused for the second request
        verdict = guard.check_sync(request())
        assert not verdict.allowed and verdict.status == 503
    assert {record.effect for record in sink.records} == {"Deny"}


def test_fail_04_the_guard_has_no_fail_open_or_bypass_setting() -> None:
    names = set(inspect.signature(GuardConfig).parameters)
    assert not {name for name in names if any(word in name for word in ("fail", "open", "bypass", "skip",
                                                                          "break_glass", "permissive"))}
    assert BOOLEAN_OPTIONS  # the table above really ran over options
