"""The README is the users' contract: its code samples run as written and give what it shows.

Each test runs one README sample (with the placeholders it leaves to the reader filled in) or pins
one entry of the configuration reference, so an edit to either side that breaks the other fails
here. Stores are in memory; nothing outside the repository is read.
"""

from __future__ import annotations

import importlib
import inspect
import json
import secrets
import warnings
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

import iamguard
from iamguard import Directory, MemoryStore
from iamguard.asgi import Iam, auth_routes
from iamguard.audit import MemorySink
from iamguard.clock import SYSTEM_CLOCK
from iamguard.credentials import AccessKeyCredentials, Credentials, CredentialsConfig
from iamguard.web import Guard, GuardConfig, public, rule

with warnings.catch_warnings():  # starlette's notice about its httpx-based test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

# ---- "Quickstart: the engine" ------------------------------------------------------------------

QUICKSTART_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "ReadTeamOrders",
        "Effect": "Allow",
        "Action": "orders:Get*",
        "Resource": "arn:app:orders:us-east-1:123456789012:order/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                      "StringEquals": {"aws:PrincipalTag/team": "blue"}},
    }],
}
ALICE = "arn:aws:iam::123456789012:user/alice"
ORDER_42 = "arn:app:orders:us-east-1:123456789012:order/42"


def quickstart_request(source_ip: str) -> iamguard.Request:
    return iamguard.Request(principal=ALICE, action="orders:GetOrder", resource=ORDER_42,
                            context={"aws:SourceIp": source_ip, "aws:PrincipalTag/team": ["blue"]})


def test_engine_quickstart_allows_and_policy_set_agrees() -> None:
    request = quickstart_request("10.0.0.7")
    decision = iamguard.evaluate(request, identity_policies=[QUICKSTART_POLICY])
    assert decision.effect is iamguard.Effect.ALLOW
    assert decision.effect == "Allow"
    assert decision.allowed is True
    assert [ref.sid for ref in decision.statements] == ["ReadTeamOrders"]
    assert decision.missing_context_keys == frozenset()
    assert decision.errors == ()
    policy_set = iamguard.PolicySet(identity_policies=[iamguard.parse_policy(QUICKSTART_POLICY)],
                                    resource_policy=None, permissions_boundary=None, session_policies=None)
    again = policy_set.evaluate(request)
    assert (again.effect, again.statements) == (decision.effect, decision.statements)


def test_engine_quickstart_explains_a_deny_as_the_readme_shows() -> None:
    decision = iamguard.evaluate(quickstart_request("192.0.2.1"), identity_policies=[QUICKSTART_POLICY])
    assert decision.explain() == (
        "ImplicitDeny: arn:aws:iam::123456789012:user/alice -> orders:GetOrder on "
        "arn:app:orders:us-east-1:123456789012:order/42\n"
        "  no statement allows this request (implicit deny).\n"
        "  closest Allow statements and why they did not apply:\n"
        "    - identity policy identity[0] statement #0 'ReadTeamOrders' (Allow)\n"
        "        IpAddress aws:SourceIp ['10.0.0.0/8'] fails: request value '192.0.2.1'"
    )


def test_malformed_document_lists_every_problem_as_the_readme_shows() -> None:
    document = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*", "Conditon": {},
        "Condition": {"StringEqualz": {"aws:username": "alice"}}}]}
    with pytest.raises(iamguard.PolicyError) as caught:
        iamguard.parse_policy(document)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == (
        "invalid policy (2 problems):\n"
        "  /Statement/0/Conditon: unknown element 'Conditon' in a statement; did you mean 'Condition'?\n"
        "  /Statement/0/Condition/StringEqualz: unknown condition operator 'StringEqualz'; "
        "did you mean 'StringEquals'?"
    )


DOCUMENT_FORMS = [
    ("JSON text", lambda path: json.dumps(QUICKSTART_POLICY)),
    ("bytes", lambda path: json.dumps(QUICKSTART_POLICY).encode()),
    ("mapping", lambda path: QUICKSTART_POLICY),
    ("pathlib.Path", lambda path: path),
    ("parsed Policy", lambda path: iamguard.parse_policy(QUICKSTART_POLICY)),
]


@pytest.mark.parametrize(("name", "make"), DOCUMENT_FORMS, ids=[row[0] for row in DOCUMENT_FORMS])
def test_every_documented_document_form_is_accepted(name: str, make: Any, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(QUICKSTART_POLICY))
    assert iamguard.evaluate(quickstart_request("10.0.0.7"), identity_policies=[make(path)]).allowed


def test_a_plain_string_is_json_text_never_a_file_name(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(QUICKSTART_POLICY))
    with pytest.raises(iamguard.PolicyError, match="not valid JSON"):
        iamguard.parse_policy(str(path))


# ---- "The identity directory" and "Credentials, sessions and MFA" ----------------------------

def test_directory_sample_allows_own_documents_and_explains_others() -> None:
    store = MemoryStore()
    tenant = Directory.create_tenant(store, name="acme")
    iam = Directory(store, tenant.tenant_id)
    read_own = iam.create_policy("ReadOwnDocs", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "docs:GetDocument",
        "Resource": "arn:app:docs:::${aws:username}/*"}]})
    iam.create_user("alice", tags={"team": "blue"})
    iam.create_group("readers")
    iam.add_user_to_group("readers", "alice")
    iam.attach_group_policy("readers", read_own.arn)
    alice = iam.get_user("alice")
    assert iam.authorize(alice.arn, "docs:GetDocument", "arn:app:docs:::alice/report.txt").allowed is True
    results = list(iam.simulate_principal_policy(alice.arn, ["docs:GetDocument"], ["arn:app:docs:::bob/x"]))
    assert len(results) == 1
    assert results[0].explain().startswith("ImplicitDeny: ")


def test_credentials_sample_trades_a_key_for_a_session_that_is_authorized() -> None:
    store = MemoryStore()
    directory = Directory(store, Directory.create_tenant(store, name="acme").tenant_id)
    directory.create_user("alice")
    directory.put_user_policy("alice", "ReadOwn", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "docs:GetDocument", "Resource": "arn:app:docs:::${aws:username}/*"}]})
    credentials = Credentials(directory, data_key=secrets.token_bytes(32), pepper=secrets.token_bytes(32))
    key = credentials.create_access_key("alice")
    token = credentials.get_session_token(AccessKeyCredentials(key.access_key_id, key.secret_access_key)).token
    session = credentials.authenticate(token)
    assert credentials.authorize(session, "docs:GetDocument", "arn:app:docs:::alice/report.txt").allowed is True
    assert credentials.authorize(session, "docs:GetDocument", "arn:app:docs:::bob/report.txt").allowed is False


# ---- "Quickstart: Starlette and FastAPI" ---------------------------------------------------------

TENANT = "111122223333"


def starlette_quickstart(**guard_extra: Any) -> tuple[Starlette, Credentials]:
    """The README's Starlette sample, with the names it leaves to the reader defined."""
    store = MemoryStore()
    Directory.create_tenant(store, name="shop", tenant_id=TENANT)
    directory = Directory(store, TENANT)
    directory.create_user("alice")
    directory.put_user_policy("alice", "Orders", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["orders:ListOrders", "orders:GetOrder"], "Resource": "*"}]})
    credentials = Credentials(directory, data_key=secrets.token_bytes(32), pepper=secrets.token_bytes(32))
    guard = Guard(credentials, tenant=TENANT, step_up_endpoint="/auth/step-up", routes=[
        rule("orders:ListOrders", "arn:app:orders::{tenant}:orders", methods="GET", path="/orders"),
        public(methods="GET", path="/health"),
    ], audit=MemorySink(), **guard_extra)
    iam = Iam(guard)

    async def list_orders(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"principal": request.state.iam.principal})

    async def health(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @iam.protect("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET")
    async def get_order(request: StarletteRequest) -> JSONResponse:
        context = request.state.iam
        return JSONResponse({"principal": context.principal, "action": context.action,
                             "resource": context.resource, "effect": str(context.decision.effect),
                             "path_params": dict(context.path_params), "has_session": context.session is not None,
                             "has_request_id": bool(context.request_id)})

    app = Starlette(
        routes=[Route("/orders", list_orders), Route("/orders/{order_id}", get_order),
                Route("/health", health), Mount("/auth", routes=auth_routes(credentials))],
        middleware=[iam.middleware(strict=True)],
    )
    return app, credentials


def bearer(client: TestClient, credentials: Credentials) -> dict[str, str]:
    key = credentials.create_access_key("alice")
    answer = client.post("/auth/token", json={"access_key_id": key.access_key_id,
                                              "secret_access_key": key.secret_access_key})
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['token']}"}


# Guard's clock is documented as `clock=None` (the system clock), as for Directory and Credentials:
# an explicit None was stored as the clock and every protected request then failed with 503.
GUARD_CLOCKS = [("clock left out", {}), ("clock=None as documented", {"clock": None})]


@pytest.mark.parametrize(("name", "extra"), GUARD_CLOCKS, ids=[row[0] for row in GUARD_CLOCKS])
def test_starlette_quickstart_serves_the_documented_answers(name: str, extra: dict[str, Any]) -> None:
    app, credentials = starlette_quickstart(**extra)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        anonymous = client.get("/orders")
        assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")
        headers = bearer(client, credentials)
        listed = client.get("/orders", headers=headers)
        assert listed.status_code == 200
        assert listed.json() == {"principal": f"arn:aws:iam::{TENANT}:user/alice"}
        read = client.get("/orders/42", headers=headers)
        assert read.status_code == 200
        assert read.json() == {"principal": f"arn:aws:iam::{TENANT}:user/alice", "action": "orders:GetOrder",
                               "resource": f"arn:app:orders::{TENANT}:order/42", "effect": "Allow",
                               "path_params": {"order_id": "42"}, "has_session": True, "has_request_id": True}


def test_guard_clock_none_is_the_system_clock() -> None:
    assert Guard(clock=None).clock is SYSTEM_CLOCK


# ---- "Configuration reference" ------------------------------------------------------------------

GUARD_OPTION_DEFAULTS = [
    ("tenant", None),
    ("template_values", {}),
    ("cookie_name", None),
    ("trusted_origins", ()),
    ("step_up_endpoint", None),
    ("step_up_max_age", 300),
    ("debug", False),
    ("timeout", 5.0),
    ("audit_allows", True),
    ("audit_public", False),
    ("require_audit", True),
    ("reuse_allows", True),
]


@pytest.mark.parametrize(("option", "default"), GUARD_OPTION_DEFAULTS, ids=[row[0] for row in GUARD_OPTION_DEFAULTS])
def test_guard_options_have_the_documented_defaults(option: str, default: Any) -> None:
    assert getattr(GuardConfig(), option) == default


def test_guard_trusts_no_proxy_by_default() -> None:
    assert tuple(GuardConfig().trusted_proxies.networks) == ()


GUARD_KEYWORDS = [("directory", None), ("resolver", None), ("routes", ()), ("context", ()), ("audit", None)]


@pytest.mark.parametrize(("keyword", "default"), GUARD_KEYWORDS, ids=[row[0] for row in GUARD_KEYWORDS])
def test_guard_keywords_are_keyword_only_with_the_documented_defaults(keyword: str, default: Any) -> None:
    parameter = inspect.signature(Guard).parameters[keyword]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default == default


DIRECTORY_DEFAULTS = [("partition", None), ("clock", None), ("quotas", None), ("cache_ttl", 1.0),
                      ("cache_size", 4096), ("allow_open_trust", False), ("audit", None)]


@pytest.mark.parametrize(("keyword", "default"), DIRECTORY_DEFAULTS, ids=[row[0] for row in DIRECTORY_DEFAULTS])
def test_directory_keywords_have_the_documented_defaults(keyword: str, default: Any) -> None:
    parameter = inspect.signature(Directory).parameters[keyword]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default == default


CREDENTIALS_DEFAULTS = [("issuer", "iamguard"), ("audience", "iamguard"), ("signing_algorithm", "EdDSA"),
                        ("leeway_seconds", 30), ("max_token_lifetime", 12 * 3600), ("max_access_keys_per_user", 2),
                        ("recovery_code_count", 10), ("data_key", None), ("pepper", None), ("oidc_issuers", ())]


@pytest.mark.parametrize(("setting", "default"), CREDENTIALS_DEFAULTS, ids=[row[0] for row in CREDENTIALS_DEFAULTS])
def test_credentials_settings_have_the_documented_defaults(setting: str, default: Any) -> None:
    assert getattr(CredentialsConfig(), setting) == default


def test_engine_limits_and_cache_have_the_documented_defaults() -> None:
    limits = iamguard.Limits()
    assert (limits.max_bytes, limits.max_depth, limits.max_statements) == (128 * 1024, 16, 500)
    assert iamguard.PolicyCache().maxsize == 4096
    assert callable(iamguard.DEFAULT_CACHE.resize) and callable(iamguard.DEFAULT_CACHE.clear)


# ---- names the README imports ----------------------------------------------------------------

README_NAMES = [
    ("iamguard", "Directory"), ("iamguard", "SQLiteStore"), ("iamguard", "MemoryStore"), ("iamguard", "Quotas"),
    ("iamguard", "Limits"), ("iamguard", "PolicyCache"), ("iamguard", "DEFAULT_CACHE"),
    ("iamguard", "validate_policy"), ("iamguard", "PolicyError"), ("iamguard", "Effect"),
    ("iamguard.asgi", "Iam"), ("iamguard.asgi", "auth_routes"),
    ("iamguard.credentials", "Credentials"), ("iamguard.credentials", "AccessKeyCredentials"),
    ("iamguard.credentials", "Lockout"), ("iamguard.credentials", "OidcIssuer"),
    ("iamguard.web", "Guard"), ("iamguard.web", "public"), ("iamguard.web", "rule"), ("iamguard.web", "IamContext"),
    ("iamguard.web", "Login"), ("iamguard.web", "SourceLimit"), ("iamguard.web.memo", "VerdictMemo"),
    ("iamguard.client", "IamAuth"), ("iamguard.client", "IamAuthError"), ("iamguard.client", "TokenExchangeError"),
    ("iamguard.client", "StepUpError"),
    ("iamguard.audit", "Auditor"), ("iamguard.audit", "JsonLinesSink"), ("iamguard.audit", "LoggingSink"),
    ("iamguard.audit", "AuditRecord"),
    ("flask_iamguard", "IamGuard"), ("flask_iamguard", "auth_blueprint"),
    ("django_iamguard.decorators", "iam_required"), ("django_iamguard.mixins", "IamRequiredMixin"),
    ("django_iamguard.middleware", "IamGuardMiddleware"), ("django_iamguard.resolvers", "user_resolver"),
    ("django_iamguard.endpoints", "auth_urlpatterns"),
]


@pytest.mark.parametrize(("module", "name"), README_NAMES, ids=[f"{row[0]}.{row[1]}" for row in README_NAMES])
def test_every_name_the_readme_imports_exists(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name, None) is not None
