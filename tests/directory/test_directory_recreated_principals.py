"""A user or role deleted and recreated under the same name is a new principal (security spec
ROLE-04): trust policies that named the old one keep its unique id, as IAM's do, and so trust no one
now, while every other principal they name stays trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard.audit import MemorySink
from iamguard.credentials import AccessDenied, Session
from iamguard.directory import Directory
from iamguard.directory.documents import principal_replaced
from iamguard.policy.arn import PRINCIPAL_ID
from iamguard.store.memory import MemoryStore
from tests.credentials.conftest import TENANT, Env, build_env

OBJECT = "arn:aws:s3:::bucket/key"


@pytest.fixture(params=["memory", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    return build_env(request.param, tmp_path)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{TENANT}:{kind}/{name}"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}


def signed_in(env: Env, user_name: str) -> Session:
    key = env.creds.create_access_key(user_name)
    return env.creds.authenticate_access_key(key.access_key_id, key.secret_access_key)


def can_assume(env: Env, session: Session, role_name: str = "deploy") -> bool:
    try:
        env.creds.assume_role(arn("role", role_name), "s1", session)
    except AccessDenied:
        return False
    return True


def stored_trust(env: Env, role_name: str = "deploy") -> dict[str, Any]:
    document = env.directory.get_role(role_name).assume_role_policy_document
    return document if isinstance(document, dict) else iamguard.policy.jsondoc.load_document(document)


@pytest.mark.parametrize("written", [
    lambda bob: {"AWS": bob},
    lambda bob: {"AWS": [bob]},
    lambda bob: {"AWS": [arn("user", "carol"), bob]},
], ids=["string", "list", "list-of-two"])
def test_a_recreated_user_is_not_trusted_by_the_old_one_s_roles(env: Env, written: Any) -> None:
    old_bob = env.directory.create_user("bob")
    env.directory.create_user("carol")
    env.directory.create_role("deploy", trust(allow(written(arn("user", "bob")))))
    assert can_assume(env, signed_in(env, "bob"))
    env.creds.delete_access_key(env.creds.list_access_keys("bob")[0].access_key_id, "bob")
    env.directory.delete_user("bob")
    env.directory.create_user("bob")
    assert not can_assume(env, signed_in(env, "bob"))
    # The trust policy shows the deleted user's id where its ARN was; carol's entry is untouched.
    named = stored_trust(env)["Statement"][0]["Principal"]["AWS"]
    names = named if isinstance(named, list) else [named]
    assert old_bob.user_id in names and arn("user", "bob") not in names
    if len(names) == 2:
        assert arn("user", "carol") in names
        assert can_assume(env, signed_in(env, "carol"))


def test_a_recreated_role_is_not_trusted_by_the_roles_that_trusted_the_old_one(env: Env) -> None:
    env.directory.create_user("alice")
    old_first = env.directory.create_role("first", trust(allow({"AWS": arn("user", "alice")})))
    env.directory.create_role("deploy", trust(allow({"AWS": arn("role", "first")})))
    alice = signed_in(env, "alice")
    first_session = env.creds.authenticate(env.creds.assume_role(arn("role", "first"), "s0", alice).token)
    assert can_assume(env, first_session)
    env.directory.delete_role("first")
    env.directory.create_role("first", trust(allow({"AWS": arn("user", "alice")})))
    new_session = env.creds.authenticate(env.creds.assume_role(arn("role", "first"), "s0", alice).token)
    assert not can_assume(env, new_session)
    assert stored_trust(env)["Statement"][0]["Principal"]["AWS"] == old_first.role_id


def test_a_deny_that_exempted_the_old_user_does_not_exempt_the_new_one(env: Env) -> None:
    env.directory.create_user("bob")
    env.directory.create_role("deploy", trust(
        allow({"AWS": TENANT}),
        {"Effect": "Deny", "NotPrincipal": {"AWS": [arn("user", "bob"), TENANT]}, "Action": "sts:AssumeRole"},
    ))
    env.directory.put_user_policy("bob", "assume", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "deploy")}]})
    assert can_assume(env, signed_in(env, "bob"))
    env.creds.delete_access_key(env.creds.list_access_keys("bob")[0].access_key_id, "bob")
    env.directory.delete_user_policy("bob", "assume")
    env.directory.delete_user("bob")
    env.directory.create_user("bob")
    env.directory.put_user_policy("bob", "assume", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn("role", "deploy")}]})
    assert not can_assume(env, signed_in(env, "bob"))


def test_the_rewritten_trust_policy_can_be_stored_again_as_it_reads(env: Env) -> None:
    env.directory.create_user("bob")
    env.directory.create_role("deploy", trust(allow({"AWS": arn("user", "bob")})))
    env.directory.delete_user("bob")
    document = stored_trust(env)
    env.directory.update_assume_role_policy("deploy", document)
    assert stored_trust(env) == document


@pytest.mark.parametrize(("value", "is_id"), [
    ("AIDAABCDEFGHIJKLMNOP", True), ("AROA0123456789ABCDEF", True),
    ("AGPAABCDEFGHIJKLMNOP", False),  # a group is never a principal
    ("AIDAabcdefghijklmnop", False), ("AIDAABCDEFGHIJKLMNO", False), ("AIDAABCDEFGHIJKLMNOPQ", False),
])
def test_principal_ids_are_the_user_and_role_id_shapes_alone(value: str, is_id: bool) -> None:
    assert (PRINCIPAL_ID.fullmatch(value) is not None) is is_id
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": value}, "Action": "s3:GetObject", "Resource": OBJECT}]}
    if is_id:
        assert iamguard.parse_policy(document, kind="resource").document.statements[0].principal is not None
    else:
        with pytest.raises(iamguard.PolicyError) as raised:
            iamguard.parse_policy(document, kind="resource")
        assert raised.value.findings[0].pointer == "/Statement/0/Principal/AWS"


@pytest.mark.parametrize("principal", [
    arn("user", "bob"), f"arn:aws:sts::{TENANT}:assumed-role/deploy/s1", f"arn:aws:iam::{TENANT}:root",
])
def test_a_principal_id_in_a_policy_names_no_one_who_asks(principal: str) -> None:
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "AIDAABCDEFGHIJKLMNOP"}, "Action": "s3:GetObject",
         "Resource": OBJECT},
        {"Effect": "Deny", "NotPrincipal": {"AWS": "AIDAABCDEFGHIJKLMNOP"}, "Action": "s3:PutObject",
         "Resource": OBJECT},
    ]}
    resource_policy = iamguard.parse_policy(document, kind="resource")
    context = {"aws:userid": "AIDAABCDEFGHIJKLMNOP"}
    read = iamguard.Request(principal, "s3:GetObject", OBJECT, context)
    write = iamguard.Request(principal, "s3:PutObject", OBJECT, context)
    any_write = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert not iamguard.evaluate(read, resource_policy=resource_policy).allowed
    decision = iamguard.evaluate(write, identity_policies=[any_write], resource_policy=resource_policy)
    assert decision.effect is iamguard.Effect.EXPLICIT_DENY


@pytest.mark.parametrize(("text", "expected"), [
    ('{"Statement": {"Principal": {"AWS": "arn:x:iam::1:user\\/bob"}}}', {"Statement": {"Principal": {"AWS": "ID"}}}),
    ('{"Statement": [{"NotPrincipal": {"AWS": ["a", "arn:x:iam::1:user/bob"]}}]}',
     {"Statement": [{"NotPrincipal": {"AWS": ["a", "ID"]}}]}),
    ('{"Statement": [{"Principal": {"Service": "arn:x:iam::1:user/bob"}}]}', None),
    ('{"Statement": [{"Principal": {"AWS": "arn:x:iam::1:user/bobby"}}]}', None),
])
def test_principal_replaced_reads_the_json_and_touches_only_aws_principals(text: str, expected: Any) -> None:
    rewritten = principal_replaced(text, "arn:x:iam::1:user/bob", "ID")
    if expected is None:
        assert rewritten is text
    else:
        assert iamguard.policy.jsondoc.load_document(rewritten) == expected


def test_the_delete_record_lists_each_trust_policy_it_rewrote() -> None:
    store, sink = MemoryStore(), MemorySink()
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT, audit=sink)
    bob = directory.create_user("bob")
    directory.create_user("carol")
    directory.create_role("deploy", trust(allow({"AWS": arn("user", "bob")})))
    directory.create_role("other", trust(allow({"AWS": arn("user", "carol")})))
    deploy_id = directory.get_role("deploy").role_id
    sink.clear()
    directory.delete_user("bob")
    (record,) = sink.records
    changes = record.to_dict()["extra"]["changes"]
    assert [(change["op"], change["kind"]) for change in changes] == [("delete", "user"), ("update", "role")]
    assert changes[0]["before"]["id"] == bob.user_id and changes[1]["id"] == deploy_id
    assert changes[1]["before"]["trust_policy_sha256"] != changes[1]["after"]["trust_policy_sha256"]


def test_a_damaged_trust_policy_does_not_block_the_delete(tmp_path: Path) -> None:
    import sqlite3

    from iamguard.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "d.db")
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    directory.create_user("bob")
    directory.create_role("deploy", trust(allow({"AWS": arn("user", "bob")})))
    directory.create_role("other", trust(allow({"AWS": arn("user", "bob")})))
    raw = sqlite3.connect(tmp_path / "d.db")
    with raw:
        raw.execute("UPDATE dir_entities SET trust_policy = '{\"Statement\": [' WHERE name = 'deploy'")
        raw.execute("UPDATE generation SET value = value + 1")
    raw.close()
    directory.delete_user("bob")
    assert stored_trust_of(directory, "other")["Statement"][0]["Principal"]["AWS"].startswith("AIDA")
    # The damaged document is left as it was, for an administrator to replace: it cannot be
    # evaluated, so it lets no one assume the role meanwhile.
    raw = sqlite3.connect(tmp_path / "d.db")
    (damaged,) = raw.execute("SELECT trust_policy FROM dir_entities WHERE name = 'deploy'").fetchone()
    raw.close()
    assert damaged == '{"Statement": ['


def stored_trust_of(directory: Directory, role_name: str) -> dict[str, Any]:
    document = directory.get_role(role_name).assume_role_policy_document
    return document if isinstance(document, dict) else iamguard.policy.jsondoc.load_document(document)
