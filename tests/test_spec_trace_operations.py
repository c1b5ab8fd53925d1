"""Traceability tests for the operations sections of the security catalogue (DOS, ID, CSRF, LOG, APP).

Each test fills a gap found while tracing a catalogue item to the suite: the part of the item's
expected behaviour that no other test asserted. Tests are named after the item they cover.
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from iamguard.asgi import auth_routes
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import (
    AccessDenied,
    AccessKeyCredentials,
    Credentials,
    InvalidClientTokenId,
    hashing,
    names,
    totp,
)
from iamguard.credentials.errors import InvalidToken, ValidationError
from iamguard.credentials.signing import KID
from iamguard.directory import Directory
from iamguard.directory.errors import EntityAlreadyExistsError, InvalidInputError, MalformedPolicyDocumentError
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import WEBSOCKET, ContextInput, Guard, WebRequest, rule
from tests.credentials.conftest import TENANT as CREDENTIALS_TENANT
from tests.credentials.conftest import build_env, cheap_settings
from tests.credentials.test_credentials_oidc import ROLE_ARN, Idp, env_with, web_trust
from tests.web.stubs import ALICE, BOB, standard_authority
from tests.web.test_web_answers import StubIssuer
from tests.web.test_web_guard import STATUS_TABLE, make_guard, request

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ORDER_TEMPLATE = "arn:app:orders::{tenant}:order/{order_id}"
COOKIE = "__Host-iamguard"


# ---- DOS-01: deeply nested JSON on every attacker-influenced channel ------------------------------

def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_dos_01_a_deeply_nested_token_header_is_an_invalid_token(tmp_path: Path) -> None:
    """Deep enough that Python's json raises RecursionError, small enough to pass the 8 KiB limit,
    so the nesting itself (not the size check) is what is refused."""
    env = build_env("memory", tmp_path)
    token = env.creds.get_session_token(env.user_with_key()).token
    header = base64.urlsafe_b64encode(_nested(2500)).rstrip(b"=").decode()
    forged = header + "." + token.split(".", 1)[1]
    assert len(forged) < 8192
    with pytest.raises(InvalidToken, match="header is not valid base64url JSON"):
        env.creds.authenticate(forged)


@pytest.mark.parametrize("body", [_nested(5000), b'{"user_name": ' + _nested(5000) + b', "password": "x"}'],
                         ids=["array", "inside-an-object"])
def test_dos_01_a_deeply_nested_token_endpoint_body_is_a_400(body: bytes) -> None:
    app = Starlette(routes=[Mount("/auth", routes=auth_routes(StubIssuer()))])
    with TestClient(app) as client:
        response = client.post("/auth/token", content=body, headers={"content-type": "application/json"})
        still_up = client.post("/auth/token", json={"user_name": "reader", "password": "nope"})
    assert (response.status_code, response.json()["error"]) == (400, "ValidationError")
    assert still_up.status_code == 403  # the process answers the next request as usual


def test_dos_01_a_policy_nested_past_the_limit_is_malformed_in_the_directory(tmp_path: Path) -> None:
    """Under the size quota but 20 levels deep: the directory refuses it with a pointer, as a 400."""
    env = build_env("memory", tmp_path)
    deep = '{"Version": "2012-10-17", "Statement": ' + "[" * 20 + "]" * 20 + "}"
    with pytest.raises(MalformedPolicyDocumentError) as refused:
        env.directory.create_policy("Deep", deep)
    assert refused.value.status == 400
    assert [finding.code for finding in refused.value.findings] == ["TooDeep"]
    assert env.directory.list_policies().items == ()


# ---- DOS-04: oversized tokens, paths and identifiers cost no credential check ---------------------

_LONG_ID = "7" * 1500
_LONG_PATH_ID = "7" * 3000

OVERSIZED = [
    ("token over 8 KiB", request(token="a" * 9000), 400, "invalid_request"),
    ("path over 2 KiB", request(path=f"/orders/{_LONG_PATH_ID}", raw_path=f"/orders/{_LONG_PATH_ID}".encode(),
                                params={"order_id": _LONG_PATH_ID}), 400, "malformed_request"),
    ("resource id over 1 KiB", request(path=f"/orders/{_LONG_ID}", params={"order_id": _LONG_ID}), 400,
     "invalid_path_parameter"),
]


@pytest.mark.parametrize(("name", "web_request", "status", "reason"), OVERSIZED, ids=[row[0] for row in OVERSIZED])
def test_dos_04_oversized_inputs_are_refused_before_any_token_check(name: str, web_request: WebRequest, status: int,
                                                                    reason: str) -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(web_request)
    assert (verdict.allowed, verdict.status, verdict.reason) == (False, status, reason)
    assert guard.authority.seen_tokens == []  # type: ignore[union-attr]
    assert [(record.effect, record.reason) for record in sink.records] == [("Deny", reason)]


# ---- DOS-05: the access-key exchange never runs the slow password hash ----------------------------

def test_dos_05_the_access_key_exchange_does_no_slow_hashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = build_env("memory", tmp_path)
    key = env.user_with_key()
    env.creds.create_login_profile("alice", "a Long enough password 1")
    work: list[str] = []
    original = hashing._scrypt
    monkeypatch.setattr(hashing, "_scrypt", lambda *args: (work.append("scrypt"), original(*args))[1])
    attempts: list[AccessKeyCredentials] = [
        key, AccessKeyCredentials(key.access_key_id, "x" * 40), AccessKeyCredentials("AKIAAAAAAAAAAAAAAAAA", "x" * 40)]
    assert env.creds.get_session_token(attempts[0]).token
    for attempt in attempts[1:]:  # a wrong secret, an unknown key id
        with pytest.raises(InvalidClientTokenId):
            env.creds.get_session_token(attempt)
    assert work == []
    env.creds.login("alice", "a Long enough password 1")
    assert work  # the password, a low-entropy secret, does go through scrypt


# ---- ID-01: names are unique whatever their case; ARNs compare exactly ----------------------------

def _create_case_variant(directory: Directory, kind: str) -> Callable[[], object]:
    if kind == "user":
        directory.create_user("Admins")
        return lambda: directory.create_user("ADMINS")
    if kind == "group":
        directory.create_group("Admins")
        return lambda: directory.create_group("admins")
    if kind == "role":
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": directory.tenant_id}}]}
        directory.create_role("Admins", trust)
        return lambda: directory.create_role("aDMINS", trust)
    if kind == "managed policy":
        directory.create_policy("Admins", ALLOW_ALL)
        return lambda: directory.create_policy("ADMINS", ALLOW_ALL)
    directory.create_user("Admins")
    directory.create_user("bob")
    return lambda: directory.update_user("bob", new_user_name="admins")


@pytest.mark.parametrize("kind", ["user", "group", "role", "managed policy", "user renamed"])
def test_id_01_a_name_that_differs_only_in_case_is_a_409(tmp_path: Path, kind: str) -> None:
    env = build_env("memory", tmp_path)
    create_again = _create_case_variant(env.directory, kind)
    before = env.directory.export_tenant()
    with pytest.raises(EntityAlreadyExistsError) as refused:
        create_again()
    assert (refused.value.code, refused.value.status) == ("EntityAlreadyExists", 409)
    assert env.directory.export_tenant() == before


def test_id_01_principal_arns_compare_case_sensitively(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path)
    env.directory.create_user("bob")
    env.directory.put_user_policy("bob", "all", ALLOW_ALL)
    tenant = env.directory.tenant_id
    assert env.directory.authorize(f"arn:aws:iam::{tenant}:user/bob", "s3:GetObject", "*").allowed
    for spelling in ("BOB", "Bob"):
        decision = env.directory.authorize(f"arn:aws:iam::{tenant}:user/{spelling}", "s3:GetObject", "*")
        assert not decision.allowed and decision.error is not None and "NoSuchEntity" in decision.error


# ---- ID-02: every credentials validator is ASCII-only and whole-string --------------------------

LOOK_ALIKES = [
    "admin\n",  # `$` would accept a trailing newline
    "\u0430dmin",  # Cyrillic a
    "\uff41dmin",  # fullwidth a
    "adm\u0131n",  # dotless i, which [a-z] with IGNORECASE accepts
    "\u212aelvin",  # Kelvin sign, folds to k
    "ad\u017fmin",  # long s, folds to s
    "admin\u0663",  # Arabic-Indic digit, which \d accepts
    "ad\x00min",
]
VALIDATORS: list[tuple[str, Callable[[str], object]]] = [
    ("RoleSessionName", names.role_session_name),
    ("SourceIdentity", names.source_identity),
    ("ExternalId", names.external_id),
    ("VirtualMFADeviceName", names.device_name),
    ("session tag key", lambda value: names.session_tags({value: "v"})),
    ("session tag value", lambda value: names.session_tags({"team": value})),
]


@pytest.mark.parametrize(("parameter", "validate"), VALIDATORS, ids=[row[0] for row in VALIDATORS])
@pytest.mark.parametrize("value", LOOK_ALIKES, ids=[ascii(value) for value in LOOK_ALIKES])
def test_id_02_credentials_validators_refuse_look_alikes(parameter: str, validate: Callable[[str], object],
                                                          value: str) -> None:
    assert validate("admin") is not None  # the ASCII spelling passes, so the refusal is about the letters
    with pytest.raises(ValidationError):
        validate(value)


@pytest.mark.parametrize(("name", "pattern", "good"), [
    ("access key id", names.ACCESS_KEY_ID.fullmatch, "AKIA0000000000000000"),
    ("signing key id", KID.fullmatch, "key-1"),
    ("TOTP code", totp.well_formed, "123456"),
])
def test_id_02_identifier_patterns_match_whole_ascii_strings(name: str, pattern: Callable[[str], Any],
                                                             good: str) -> None:
    assert pattern(good)
    fullwidth = "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in good)
    for bad in (good + "\n", fullwidth, good[:-1] + "\u0663", " " + good):
        assert not pattern(bad), ascii(bad)


@pytest.mark.parametrize("tenant_id", ["111122223333\n", "\uff11" * 12, "tenant-\u0430"])
def test_id_02_tenant_ids_are_ascii_only(tmp_path: Path, tenant_id: str) -> None:
    store = SQLiteStore(tmp_path / "tenants.db")
    try:
        with pytest.raises(InvalidInputError):
            Directory.create_tenant(store, tenant_id)
        assert Directory.list_tenants(store) == ()
    finally:
        store.close()


# ---- ID-03: a federated subject is an opaque identifier, compared exactly ------------------------

def test_id_03_web_identity_subjects_are_compared_exactly_never_normalized(tmp_path: Path) -> None:
    """iamguard stores no federated identities; an OIDC `sub` is the IdP's opaque identifier and is
    compared as sent. Normalizing would merge two subjects the IdP keeps apart."""
    composed = "jos\u00e9"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    idp = Idp()
    env = env_with(tmp_path, idp, inline=True)
    env.directory.create_role("web", web_trust(condition={"StringEquals": {
        "idp.example.com:aud": "my-app", "idp.example.com:sub": composed}}))
    issued = env.creds.assume_role_with_web_identity(ROLE_ARN, "web-1", idp.token(env.clock.time(), sub=composed))
    assert env.creds.authenticate(issued.token).context(env.clock.now())["idp.example.com:sub"] == composed
    with pytest.raises(AccessDenied):
        env.creds.assume_role_with_web_identity(ROLE_ARN, "web-2", idp.token(env.clock.time(), sub=decomposed))


# ---- CSRF-01: a cookie-authenticated unsafe request needs one exact trusted Origin ----------------

def _cookie(token: str) -> tuple[str, str]:
    return ("cookie", f"{COOKIE}={token}")


CROSS_SITE = [
    # name, method, headers, trusted origins, status, reason
    ("no origin", "DELETE", (_cookie("writer-mfa"),), ("https://shop.example",), 403, "csrf_failed"),
    ("opaque origin", "DELETE", (_cookie("writer-mfa"), ("origin", "null")), ("https://shop.example",), 403,
     "csrf_failed"),
    ("referer is not an origin", "DELETE", (_cookie("writer-mfa"), ("referer", "https://shop.example/x")),
     ("https://shop.example",), 403, "csrf_failed"),
    ("two origin headers", "DELETE", (_cookie("writer-mfa"), ("origin", "https://shop.example"),
                                      ("origin", "https://shop.example")), ("https://shop.example",), 403,
     "csrf_failed"),
    ("other scheme", "DELETE", (_cookie("writer-mfa"), ("origin", "http://shop.example")), ("https://shop.example",),
     403, "csrf_failed"),
    ("suffix look-alike", "DELETE", (_cookie("writer-mfa"), ("origin", "https://shop.example.evil.example")),
     ("https://shop.example",), 403, "csrf_failed"),
    ("trusted origin", "DELETE", (_cookie("writer-mfa"), ("origin", "https://shop.example")),
     ("https://shop.example",), None, "allowed"),
    ("default: the request's own host", "DELETE", (_cookie("writer-mfa"), ("origin", "https://shop.example"),
                                                   ("host", "shop.example")), (), None, "allowed"),
    ("default refuses another host", "DELETE", (_cookie("writer-mfa"), ("origin", "https://evil.example"),
                                                ("host", "shop.example")), (), 403, "csrf_failed"),
    ("safe method from anywhere", "GET", (_cookie("reader"), ("origin", "https://evil.example")),
     ("https://shop.example",), None, "allowed"),
]


@pytest.mark.parametrize(("name", "method", "headers", "origins", "status", "reason"), CROSS_SITE,
                         ids=[row[0] for row in CROSS_SITE])
def test_csrf_01_cookie_requests_need_an_exact_trusted_origin(name: str, method: str,
                                                              headers: tuple[tuple[str, str], ...],
                                                              origins: tuple[str, ...], status: int | None,
                                                              reason: str) -> None:
    guard, sink = make_guard(cookie_name=COOKIE, trusted_origins=origins)
    verdict = guard.check_sync(request(method, token=None, headers=headers, scheme="https"))
    assert (verdict.status, verdict.reason, verdict.allowed) == (status, reason, status is None)
    assert [record.reason for record in sink.records] == [reason]


@pytest.mark.parametrize(("credential", "origin", "allowed"), [
    ("cookie", "https://evil.example", False),
    ("cookie", "https://shop.example", True),
    ("bearer", "https://evil.example", True),  # a bearer header is not ambient: no origin check
])
def test_csrf_01_a_websocket_handshake_with_a_cookie_needs_a_trusted_origin(credential: str, origin: str,
                                                                            allowed: bool) -> None:
    routes = [rule("orders:GetOrder", ORDER_TEMPLATE, methods=WEBSOCKET, path="/orders/{order_id}")]
    guard, _ = make_guard(cookie_name=COOKIE, trusted_origins=("https://shop.example",), routes=routes)
    headers = ((_cookie("reader"),) if credential == "cookie" else ()) + (("origin", origin),)
    verdict = guard.check_sync(request(token="reader" if credential == "bearer" else None, headers=headers,
                                       websocket=True))
    assert verdict.allowed is allowed
    assert verdict.reason == ("allowed" if allowed else "csrf_failed")


# ---- CSRF-03: new session identifiers; logout ends the cookie session on the server ---------------

def test_csrf_03_logout_ends_a_cookie_session_on_the_server(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path)
    key = env.user_with_key()
    guard = Guard(env.creds, routes=[rule("orders:GetOrder", ORDER_TEMPLATE, methods="GET", path="/orders/{order_id}")],
                  tenant=CREDENTIALS_TENANT, cookie_name=COOKIE, clock=env.clock, audit=MemorySink())
    first, second = env.creds.get_session_token(key).token, env.creds.get_session_token(key).token
    assert env.creds.authenticate(first).jti != env.creds.authenticate(second).jti  # each login: a new id

    def by_cookie(token: str) -> WebRequest:
        return WebRequest("GET", "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                          headers=(_cookie(token),), client="192.0.2.1", scheme="https")

    assert guard.check_sync(by_cookie(first)).allowed
    env.creds.revoke_session(env.creds.authenticate(first))  # what an app's logout calls
    refused = guard.check_sync(by_cookie(first))
    assert (refused.status, refused.reason) == (401, "invalid_token")
    assert guard.check_sync(by_cookie(second)).allowed  # the other login is untouched


@pytest.mark.parametrize("name", ["sid;x", "a b", "", "sid=1", "s\u00e9", "sid\n"])
def test_csrf_03_a_cookie_name_must_be_an_rfc_6265_token(name: str) -> None:
    with pytest.raises(ValueError, match="cookie_name"):
        Guard(standard_authority(), tenant="123456789012", cookie_name=name)


# ---- LOG-02: every deny record names who, what, where from, when, why ----------------------------

AUTHENTICATED_DENIES = {"implicit_deny", "explicit_deny", "mfa_required", "unmapped_route"}
DENY_ROWS = [row for row in STATUS_TABLE if row[2] is not None and row[3] not in ("public", "preflight")]


@pytest.mark.parametrize(("name", "web_request", "status", "reason"), DENY_ROWS, ids=[row[0] for row in DENY_ROWS])
def test_log_02_every_deny_record_carries_reason_principal_source_id_and_utc_time(
        name: str, web_request: WebRequest, status: int, reason: str) -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(web_request)
    [record] = sink.records
    assert (record.effect, record.reason, record.status) == ("Deny", reason, status)
    assert record.request_id and record.source_ip == "192.0.2.10" and record.method == web_request.method
    assert record.time.utcoffset() is not None and record.time.utcoffset().total_seconds() == 0
    assert record.to_dict()["time"].endswith("Z")
    expected_principal = {ALICE, BOB} if reason in AUTHENTICATED_DENIES else {None}
    assert record.principal in expected_principal
    assert verdict.response is not None  # the client got the refusal the record describes


def test_log_02_a_deny_caused_by_an_error_is_recorded_with_its_reason() -> None:
    from iamguard.store.base import StoreError

    guard, sink = make_guard()
    guard.authority.fail["authenticate"] = StoreError("database is locked")  # type: ignore[union-attr]
    verdict = guard.check_sync(request())
    [record] = sink.records
    assert (verdict.status, record.effect, record.reason, record.status) == (503, "Deny", "store_unavailable", 503)
    assert record.request_id and record.source_ip == "192.0.2.10" and record.action == "orders:GetOrder"


# ---- APP-03: a missing object and someone else's answer alike ------------------------------------

def test_app_03_a_missing_object_and_someone_elses_object_get_the_same_refusal() -> None:
    owners = {"7": "alice", "8": "bob"}

    def owner_tag(given: ContextInput) -> Mapping[str, Any]:
        owner = owners.get(given.path_params["order_id"])
        return {} if owner is None else {"aws:ResourceTag/owner": owner}

    guard, sink = make_guard(context=[owner_tag])
    answers = {}
    for order_id in ("7", "8", "999"):
        verdict = guard.check_sync(request(token="owner", path=f"/orders/{order_id}", params={"order_id": order_id}))
        response = verdict.response
        shown = None if response is None else (
            sorted(response.headers), response.body.replace(f"order/{order_id}".encode(), b"order/<id>"))
        answers[order_id] = (verdict.status, verdict.reason, shown)
    assert answers["7"] == (None, "allowed", None)
    assert answers["8"] == answers["999"]
    assert answers["8"][:2] == (403, "implicit_deny")
    assert [record.reason for record in sink.records] == ["allowed", "implicit_deny", "implicit_deny"]


# ---- APP-04: one store, two tenants, the same names: no decision crosses -------------------------

def test_app_04_same_names_in_two_tenants_never_share_a_decision(tmp_path: Path) -> None:
    clock = FrozenClock()
    store = SQLiteStore(tmp_path / "shared.db")
    settings = cheap_settings(data_key=secrets.token_bytes(32), pepper=secrets.token_bytes(32))
    tenants = ("111111111111", "222222222222")
    directories: dict[str, Directory] = {}
    credentials: dict[str, Credentials] = {}
    tokens: dict[str, str] = {}
    try:
        for tenant in tenants:
            Directory.create_tenant(store, tenant, clock=clock)
            directories[tenant] = Directory(store, tenant, clock=clock)
            directories[tenant].create_user("alice")
            credentials[tenant] = Credentials(directories[tenant], clock=clock, **settings)
            key = credentials[tenant].create_access_key("alice")
            tokens[tenant] = credentials[tenant].get_session_token(
                AccessKeyCredentials(key.access_key_id, key.secret_access_key)).token
        first, second = tenants
        directories[first].put_user_policy("alice", "all", ALLOW_ALL)

        def allowed(tenant: str) -> bool:
            session = credentials[tenant].authenticate(tokens[tenant])
            resource = f"arn:app:orders::{tenant}:order/7"
            return credentials[tenant].authorize(session, "orders:GetOrder", resource).allowed

        for _ in range(3):  # warm caches in both tenants, interleaved
            assert (allowed(first), allowed(second)) == (True, False)
        directories[first].delete_user_policy("alice", "all")
        directories[second].put_user_policy("alice", "all", ALLOW_ALL)
        assert (allowed(first), allowed(second)) == (False, True)
        for tenant, other in ((first, second), (second, first)):
            with pytest.raises(InvalidToken):
                credentials[tenant].authenticate(tokens[other])
            guard = Guard(credentials[tenant], routes=[rule("orders:GetOrder", ORDER_TEMPLATE, methods="GET",
                                                            path="/orders/{order_id}")],
                          tenant=tenant, clock=clock, audit=MemorySink())
            crossing = guard.check_sync(WebRequest("GET", "/orders/7", route="/orders/{order_id}",
                                                   path_params={"order_id": "7"},
                                                   headers=(("authorization", f"Bearer {tokens[other]}"),)))
            assert (crossing.status, crossing.reason) == (401, "invalid_token")
    finally:
        store.close()
