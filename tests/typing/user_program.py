"""A strictly typed program written against iamguard's documented public API, as the README shows it.

It is type-checked with the package (`mypy --strict`, see `[tool.mypy] files`) so that a public
function returning `Any`, a parameter typed too narrowly, a name missing from a public module or a
Protocol that a user's own class cannot satisfy fails the check; `assert_type` pins each result
the program relies on, so an `Any` in its place is an error rather than a silent pass.

It imports only public modules (`iamguard`, `iamguard.web`, `iamguard.asgi`,
`iamguard.directory`, `iamguard.credentials`, `iamguard.client`, `iamguard.lint`,
`iamguard.audit`, `iamguard.clock`, `flask_iamguard`) and runs: `tests/typing/test_user_program.py`
calls `main()` against a `MemoryStore` and checks what it computed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import sys
import warnings
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from fastapi import Depends, FastAPI
from flask import Blueprint, Flask, g
from flask import Response as FlaskResponse
from flask.views import MethodView
from flask_iamguard import IamGuard, auth_blueprint
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import iamguard
from iamguard import (
    Decision,
    DirectoryStore,
    Effect,
    MemoryStore,
    Policy,
    PolicyError,
    PolicySet,
    StatementEffect,
    StatementRef,
)
from iamguard.asgi import Iam, auth_routes
from iamguard.audit import AuditRecord, AuditSink
from iamguard.client import IamAuth
from iamguard.clock import Clock, FrozenClock
from iamguard.credentials import (
    AccessKey,
    AccessKeyCredentials,
    Credentials,
    IssuedToken,
    ScryptCost,
    Session,
    VirtualMfaDevice,
)
from iamguard.directory import (
    Directory,
    ManagedPolicy,
    ResolvedPrincipal,
    Role,
    SimulationResult,
    Tenant,
    User,
)
from iamguard.lint import LintFinding, Severity, highest_severity, validate_policy
from iamguard.web import (
    ContextInput,
    ContextProvider,
    Guard,
    GuardConfig,
    IamContext,
    Login,
    PrincipalResolver,
    WebRequest,
    public,
    rule,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

if TYPE_CHECKING:
    # mypy knows typing_extensions.assert_type for every target version (the package targets 3.10,
    # where typing has no assert_type); nothing is imported at run time.
    from typing_extensions import assert_type
elif sys.version_info >= (3, 11):
    from typing import assert_type
else:
    _T = TypeVar("_T")

    def assert_type(value: _T, kind: object, /) -> _T:
        return value

TENANT = "111122223333"
ORDER_ARN = "arn:app:orders::{tenant}:order/{order_id}"
ORDERS_ARN = "arn:app:orders::{tenant}:orders"
TOTP_STEP = 30

# Who owns which order: read by a context provider into aws:ResourceTag/owner.
ORDER_OWNERS: dict[str, str] = {"1001": "alice", "1002": "bob"}

ORDERS_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ListFromTheWeb", "Effect": "Allow", "Action": "orders:ListOrders",
         "Resource": f"arn:app:orders::{TENANT}:orders",
         "Condition": {"StringEquals": {"app:channel": "web"}}},
        {"Sid": "ReadOwnOrders", "Effect": "Allow", "Action": "orders:GetOrder",
         "Resource": f"arn:app:orders::{TENANT}:order/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}},
        {"Sid": "DeleteWithFreshMfa", "Effect": "Allow", "Action": "orders:DeleteOrder",
         "Resource": f"arn:app:orders::{TENANT}:order/*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
    ],
}


# ---- the engine -------------------------------------------------------------------------------


def engine_quickstart() -> Decision:
    policy: dict[str, Any] = {
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
    request = iamguard.Request(
        principal="arn:aws:iam::123456789012:user/alice",
        action="orders:GetOrder",
        resource="arn:app:orders:us-east-1:123456789012:order/42",
        context={"aws:SourceIp": "10.0.0.7", "aws:PrincipalTag/team": ["blue"]},
    )
    decision = iamguard.evaluate(request, identity_policies=[policy])
    assert_type(decision, Decision)
    assert_type(decision.effect, Effect)
    assert_type(decision.allowed, bool)
    assert_type(decision.statements, tuple[StatementRef, ...])
    assert_type(decision.missing_context_keys, frozenset[str])
    assert_type(decision.errors, tuple[str, ...])
    assert_type(decision.error, str | None)
    assert_type(decision.explain(), str)
    for statement in decision.statements:
        assert_type(statement.sid, str | None)
        assert_type(statement.effect, StatementEffect)
        assert_type(statement.index, int)

    parsed = iamguard.parse_policy(policy)
    assert_type(parsed, Policy)
    policy_set = iamguard.PolicySet(identity_policies=[parsed], resource_policy=None, permissions_boundary=None,
                                    session_policies=None)
    assert_type(policy_set, PolicySet)
    again = policy_set.evaluate(request)
    assert_type(again, Decision)
    if again.effect is not decision.effect:
        raise AssertionError("a PolicySet and iamguard.evaluate disagree")
    return decision


def malformed_policy_pointers() -> list[str]:
    """The JSON pointers of a malformed document's problems (PolicyError is a ValueError)."""
    try:
        iamguard.parse_policy('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:B",'
                              ' "Resource": "*", "Conditon": {}}]}')
    except PolicyError as error:
        return [finding.pointer for finding in error.findings]
    raise AssertionError("the misspelled element was accepted")


# ---- audit, clock, TOTP -----------------------------------------------------------------------


class ListSink:
    """A user's own audit sink: satisfies the `AuditSink` Protocol structurally."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def emit(self, record: AuditRecord) -> None:
        self.records.append(record)

    def actions(self, effect: str | None = None) -> list[str]:
        return [record.action or "" for record in self.records if effect is None or record.effect == effect]


def totp(seed: str, moment: float) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), as any authenticator app computes it from the seed."""
    key = base64.b32decode(seed + "=" * (-len(seed) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(moment) // TOTP_STEP), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


# ---- the directory ----------------------------------------------------------------------------


@dataclass
class People:
    directory: Directory
    tenant: Tenant
    alice: User
    bob: User
    auditor_role: Role
    read_own: ManagedPolicy


def build_directory(store: DirectoryStore, clock: Clock, sink: AuditSink) -> People:
    tenant = Directory.create_tenant(store, TENANT, name="acme", clock=clock, audit=sink)
    assert_type(tenant, Tenant)
    iam = Directory(store, tenant.tenant_id, clock=clock, audit=sink)
    read_own = iam.create_policy("Orders", ORDERS_POLICY)
    assert_type(read_own, ManagedPolicy)
    alice = iam.create_user("alice", tags={"team": "blue"})
    bob = iam.create_user("bob")
    assert_type(alice, User)
    iam.create_group("shoppers")
    iam.add_user_to_group("shoppers", "alice")
    iam.add_user_to_group("shoppers", "bob")
    iam.attach_group_policy("shoppers", read_own.arn)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role("auditor", trust)
    assert_type(role, Role)
    iam.put_role_policy("auditor", "read-all", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/*"}]})
    return People(iam, tenant, iam.get_user("alice"), bob, role, read_own)


@dataclass
class DirectoryAnswers:
    own_order: bool
    other_order: bool
    simulated: list[str]
    resolved_arn: str


def ask_directory(people: People) -> DirectoryAnswers:
    iam = people.directory
    own = iam.authorize(people.alice.arn, "orders:GetOrder", f"arn:app:orders::{TENANT}:order/1001",
                        context={"aws:ResourceTag/owner": "alice"})
    assert_type(own, Decision)
    other = iam.authorize(people.alice.arn, "orders:GetOrder", f"arn:app:orders::{TENANT}:order/1002",
                          context={"aws:ResourceTag/owner": "bob"})
    results = iam.simulate_principal_policy(people.alice.arn, ["orders:ListOrders", "orders:GetOrder"],
                                            [f"arn:app:orders::{TENANT}:orders"])
    assert_type(results, list[SimulationResult])
    simulated: list[str] = []
    for result in results:
        assert_type(result.eval_decision, str)
        assert_type(result.explain(), str)
        simulated.append(f"{result.action}={result.eval_decision}")
    resolved = iam.resolve(people.alice.arn)
    assert_type(resolved, ResolvedPrincipal)
    return DirectoryAnswers(own.allowed, other.allowed, simulated, resolved.arn)


# ---- credentials, sessions, MFA ---------------------------------------------------------------


@dataclass
class Keys:
    credentials: Credentials
    alice_key: AccessKey
    bob_key: AccessKey
    device: VirtualMfaDevice


def build_credentials(people: People, clock: FrozenClock, sink: AuditSink) -> Keys:
    credentials = Credentials(people.directory, clock=clock, audit=sink, data_key=b"k" * 32, pepper=b"p" * 32,
                              password_cost=ScryptCost(n=16, r=1, p=1), recovery_code_cost=ScryptCost(n=16, r=1, p=1))
    alice_key = credentials.create_access_key("alice")  # the secret is shown only now
    assert_type(alice_key, AccessKey)
    assert_type(alice_key.secret_access_key, str)
    bob_key = credentials.create_access_key("bob")
    device = credentials.create_virtual_mfa_device("alice", "phone")
    assert_type(device, VirtualMfaDevice)
    now = clock.time()
    credentials.enable_mfa_device("alice", device.serial_number, totp(device.base32_seed, now - TOTP_STEP),
                                  totp(device.base32_seed, now))
    clock.advance(TOTP_STEP)  # the enrolment's time step is used up
    return Keys(credentials, alice_key, bob_key, device)


@dataclass
class SessionAnswers:
    principal: str
    allowed_own_order: bool
    mfa_session: bool
    stepped_up: bool
    role_session: str
    role_type: str


def use_sessions(keys: Keys, people: People, clock: FrozenClock) -> SessionAnswers:
    credentials = keys.credentials
    issued = credentials.get_session_token(AccessKeyCredentials(keys.alice_key.access_key_id,
                                                                keys.alice_key.secret_access_key))
    assert_type(issued, IssuedToken)
    assert_type(issued.token, str)
    session = credentials.authenticate(issued.token)  # signature, claims and revocation
    assert_type(session, Session)
    assert_type(session.principal_arn, str)
    assert_type(session.mfa_authenticated_at, datetime | None)
    decision = credentials.authorize(session, "orders:GetOrder", f"arn:app:orders::{TENANT}:order/1001",
                                     {"aws:ResourceTag/owner": "alice"})
    assert_type(decision, Decision)

    with_mfa = credentials.get_session_token(
        AccessKeyCredentials(keys.alice_key.access_key_id, keys.alice_key.secret_access_key),
        mfa_code=totp(keys.device.base32_seed, clock.time()))
    mfa_session = credentials.authenticate(with_mfa.token)
    clock.advance(TOTP_STEP)
    fresh = credentials.step_up(session, totp(keys.device.base32_seed, clock.time()))
    assert_type(fresh, IssuedToken)
    stepped = credentials.authenticate(fresh.token)
    clock.advance(TOTP_STEP)

    role_token = credentials.assume_role(people.auditor_role.arn, "audit-run", session)
    assert_type(role_token, IssuedToken)
    role_session = credentials.authenticate(role_token.token)
    return SessionAnswers(session.principal_arn, decision.allowed, mfa_session.mfa_authenticated_at is not None,
                          stepped.mfa_authenticated_at is not None, role_session.principal_arn,
                          role_session.principal_type)


# ---- the web guard ----------------------------------------------------------------------------


def owner_tag(given: ContextInput) -> Mapping[str, str]:
    """A synchronous context provider: the order's owner, from the app's own data."""
    assert_type(given.path_params, Mapping[str, str])
    assert_type(given.principal, str)
    owner = ORDER_OWNERS.get(given.path_params.get("order_id", ""))
    return {"aws:ResourceTag/owner": owner} if owner is not None else {}


async def channel(given: ContextInput) -> dict[str, Any]:
    """An asynchronous context provider: a key of the app's own namespace."""
    assert_type(given.request, WebRequest)
    return {"app:channel": "web"}


# Server-side logins of an app that signs users in itself: cookie value -> (user ARN, MFA time).
APP_LOGINS: dict[str, tuple[str, datetime | None]] = {}


def cookie_login(request: WebRequest) -> Login | None:
    """A principal resolver: the app's own login (never a value the client chose) as a Login."""
    cookie = request.first_header("cookie") or ""
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "app_session" and value in APP_LOGINS:
            principal, mfa_at = APP_LOGINS[value]
            return Login(principal, mfa_authenticated_at=mfa_at, session_id=value)
    return None


def build_guard(keys: Keys, clock: Clock, sink: AuditSink) -> Guard:
    """The README's Guard: positional credentials, routes, context providers, audit and options."""
    provider_list: list[ContextProvider] = [owner_tag, channel]  # sync and async providers
    guard = Guard(
        keys.credentials,
        routes=[
            rule("orders:ListOrders", ORDERS_ARN, methods="GET", path="/orders"),
            public(methods="GET", path="/health"),
        ],
        context=provider_list,
        audit=sink,
        clock=clock,
        tenant=TENANT,
        step_up_endpoint="/auth/step-up",
        step_up_max_age=300,
        trusted_proxies=["10.0.0.0/8"],
        timeout=5.0,
        realm="orders",
    )
    assert_type(guard.config, GuardConfig)
    return guard


def build_resolver_guard(people: People, keys: Keys, clock: Clock, sink: AuditSink) -> Guard:
    """A guard given a whole GuardConfig, a directory and a principal resolver."""
    config = GuardConfig(tenant=TENANT, step_up_endpoint="/auth/step-up", cookie_name=None)
    resolver: PrincipalResolver = cookie_login
    return Guard(keys.credentials, directory=people.directory, resolver=resolver, context=[owner_tag, channel],
                 audit=[sink], clock=clock, config=config)


# ---- Starlette and FastAPI --------------------------------------------------------------------


def starlette_app(guard: Guard, credentials: Credentials) -> Starlette:
    iam = Iam(guard)

    async def list_orders(request: StarletteRequest) -> JSONResponse:
        context: IamContext = request.state.iam
        return JSONResponse({"orders": sorted(ORDER_OWNERS), "principal": context.principal})

    @iam.protect("orders:GetOrder", ORDER_ARN, methods="GET")
    @iam.protect("orders:DeleteOrder", ORDER_ARN, methods="DELETE")
    async def order(request: StarletteRequest) -> JSONResponse:
        context: IamContext = request.state.iam
        assert_type(context.path_params, Mapping[str, str])
        assert_type(context.decision, Decision | None)
        return JSONResponse({"id": context.path_params["order_id"], "action": context.action,
                             "principal": context.principal})

    async def health(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    middleware = iam.middleware(strict=True)  # strict: an unmapped route stops startup
    assert_type(middleware, Middleware)
    return Starlette(
        routes=[Route("/orders", list_orders), Route("/orders/{order_id}", order, methods=["GET", "DELETE"]),
                Route("/health", health), Mount("/auth", routes=auth_routes(credentials))],
        middleware=[middleware],
    )


def fastapi_app(guard: Guard, credentials: Credentials) -> FastAPI:
    iam = Iam(guard)
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    iam.install(api)  # a denial from the dependency answers as the middleware's would
    dependency = iam.require("orders:GetOrder", ORDER_ARN)
    assert_type(dependency, Callable[[HTTPConnection], Coroutine[Any, Any, IamContext]])
    authorized = Depends(dependency)

    @api.get("/orders/{order_id}")
    async def read_order(order_id: str, context: IamContext = authorized) -> dict[str, str]:
        return {"id": order_id, "principal": context.principal}

    for route in auth_routes(credentials, prefix="/auth"):
        api.router.routes.append(route)
    return api


# ---- Flask ------------------------------------------------------------------------------------


def flask_app(guard: Guard, credentials: Credentials) -> Flask:
    app = Flask(__name__, static_folder=None)  # strict: every route is mapped, Flask's static route too
    iam = IamGuard(app, guard=guard, strict=True)
    app.register_blueprint(auth_blueprint(credentials))  # /auth/token, /auth/assume-role, /auth/step-up

    @app.get("/orders/<order_id>")
    @iam.require("orders:GetOrder", ORDER_ARN)
    def get_order(order_id: str) -> dict[str, str]:
        context: IamContext = g.iam
        return {"id": order_id, "principal": context.principal, "source": context.source}

    @app.get("/health")
    @iam.public
    def health() -> dict[str, str]:
        return {"status": "ok"}

    assert_type(health, Callable[[], dict[str, str]])  # marked, not wrapped: the very function

    iam.check_app(app)
    return app


# ---- the httpx client -------------------------------------------------------------------------


def client_auth(key: AccessKey, clock: Clock, code: Callable[[], str]) -> IamAuth:
    auth = IamAuth("http://testserver/auth/token", key.access_key_id, key.secret_access_key,
                   step_up_url="http://testserver/auth/step-up", mfa_code=code, clock=clock)
    assert_type(auth, IamAuth)
    return auth


# ---- the linter -------------------------------------------------------------------------------


def lint_codes() -> tuple[list[str], Severity | None]:
    findings = validate_policy({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "*", "Resource": "*"}]}, "identity", declared_keys=["app:channel"])
    assert_type(findings, list[LintFinding])
    for finding in findings:
        assert_type(finding.severity, Severity)
        assert_type(finding.code, str)
        assert_type(finding.pointer, str)
    worst = highest_severity(findings)
    assert_type(worst, Severity | None)
    clean = validate_policy(ORDERS_POLICY, "identity", declared_keys=["app:channel"], min_severity="WARNING")
    return [finding.code for finding in findings + clean], worst


# ---- names that are not there -----------------------------------------------------------------


def _unexported_names_are_errors() -> None:
    """Type-checked, never run: `iamguard` loads its layers lazily, and a misspelled or unexported
    name must still be a type error rather than Any (the ignores fail as unused if it is Any)."""
    iamguard.FrozenClock()  # type: ignore[attr-defined]
    iamguard.SessionTokn  # type: ignore[attr-defined]  # noqa: B018


def _decorated_endpoints_keep_their_parameters(iam: Iam, request: StarletteRequest) -> None:
    """Type-checked, never run: `@iam.protect` keeps the endpoint's parameters (its result may be
    the guard's denial instead of the endpoint's own answer), so a wrong call is still an error."""

    @iam.protect("orders:GetOrder", ORDER_ARN, methods="GET")
    async def order(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({})

    answer = assert_type(order(request), Coroutine[Any, Any, Any])
    answer.close()
    order("not a request").close()  # type: ignore[arg-type]


class ShopBlueprint(Blueprint):
    """A user's own Blueprint subclass: the decorators hand it back as that subclass."""


def _starlette_public_hands_back_what_it_marks(iam: Iam, request: StarletteRequest) -> None:
    """Type-checked, never run: `@iam.public` and `@iam.public(methods=...)` mark an endpoint
    function, an endpoint class or an ASGI app object and return that very object, typed as it was;
    anything that cannot be an endpoint is an error."""

    @iam.public
    async def health(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({})

    @iam.public(methods="GET")
    def version(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({})

    class Ping(HTTPEndpoint):
        async def get(self, request: StarletteRequest) -> JSONResponse:
            return JSONResponse({})

    assert_type(health(request), Coroutine[Any, Any, JSONResponse]).close()
    assert_type(version(request), JSONResponse)
    assert_type(iam.public(Ping), type[Ping])
    assert_type(iam.public(methods="GET")(Ping), type[Ping])
    static = assert_type(iam.public(StaticFiles(directory="static", check_dir=False)), StaticFiles)
    Route("/health", health), Route("/version", version), Route("/ping", Ping), Mount("/static", static)

    health("not a request").close()  # type: ignore[arg-type]  # the endpoint keeps its parameters
    version(request, "extra")  # type: ignore[call-arg]
    iam.public("GET")  # type: ignore[call-overload]  # methods are keyword-only: "GET" is no endpoint
    iam.public(methods="GET")(42)  # type: ignore[type-var]


def _flask_decorators_keep_their_types(iam: IamGuard) -> None:
    """Type-checked, never run: `@iam.require` keeps a view's parameters and adds the guard's denial
    (a Flask Response) to what the view answers; an `async def` view stays a coroutine function; a
    blueprint, and whatever `@iam.public` marks, come back as they were."""

    @iam.require("orders:GetOrder", ORDER_ARN)
    def get_order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    @iam.require("orders:GetOrder", ORDER_ARN, methods="GET")
    async def get_order_later(order_id: str) -> tuple[dict[str, str], int]:
        return {"id": order_id}, 200

    class Lines(MethodView):
        @iam.require("orders:ListOrders", ORDERS_ARN, methods="GET")
        def get(self, order_id: str) -> str:
            return order_id

    class Notes(MethodView):
        decorators = [iam.require("orders:GetOrder", ORDER_ARN)]  # Flask's own place for view decorators

    @iam.public
    def health() -> dict[str, str]:
        return {}

    @iam.public(methods="GET")
    def status() -> str:
        return "ok"

    assert_type(get_order("1001"), dict[str, str] | FlaskResponse)
    assert_type(get_order_later("1001"), Coroutine[Any, Any, tuple[dict[str, str], int] | FlaskResponse]).close()
    assert_type(Lines().get("1001"), str | FlaskResponse)
    assert_type(health, Callable[[], dict[str, str]])
    assert_type(status, Callable[[], str])
    shop = ShopBlueprint("shop", __name__)
    assert_type(iam.require("orders:GetOrder", ORDER_ARN)(shop), ShopBlueprint)
    assert_type(iam.public(shop), ShopBlueprint)
    assert_type(iam.public(methods="GET")(shop), ShopBlueprint)
    app = Flask(__name__)
    # An as_view() function (typed by Flask as a sync or an async view) stays one Flask accepts.
    app.add_url_rule("/lines/<order_id>", view_func=iam.require("orders:ListOrders", ORDERS_ARN)(
        Lines.as_view("lines")))
    app.add_url_rule("/notes/<order_id>", view_func=iam.public(Notes.as_view("notes")))


def _flask_decorator_misuse_is_an_error(iam: IamGuard) -> None:
    """Type-checked, never run: each ignore fails as unused if the decorators hand back Any."""

    @iam.require("orders:GetOrder", ORDER_ARN)
    def get_order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    get_order(1001)  # type: ignore[arg-type]  # the view keeps its parameters
    get_order("1001")["id"]  # type: ignore[index]  # the answer may be the guard's denial, a Response

    @iam.require("orders:GetOrder", ORDER_ARN)  # type: ignore[type-var]  # None is no answer Flask sends
    def forgot_to_answer(order_id: str) -> None:
        pass

    class Lines(MethodView):
        pass

    iam.require("orders:ListOrders", ORDERS_ARN)(Lines)  # type: ignore[type-var]  # a class: refused at run time too
    iam.require("orders:GetOrder", ORDER_ARN)(42)  # type: ignore[call-overload]
    iam.public("GET")  # type: ignore[call-overload]  # methods are keyword-only: "GET" is no view
    iam.public(methods="GET")(42)  # type: ignore[type-var]


# ---- the whole program ------------------------------------------------------------------------


@dataclass
class Outcome:
    engine: Effect
    malformed_pointers: list[str]
    directory: DirectoryAnswers
    sessions: SessionAnswers
    starlette: dict[str, int] = field(default_factory=dict)
    fastapi: dict[str, int] = field(default_factory=dict)
    flask: dict[str, int] = field(default_factory=dict)
    flask_login_principal: str = ""
    mfa_codes_asked: int = 0
    lint_codes: list[str] = field(default_factory=list)
    worst_finding: Severity | None = None
    audited_actions: list[str] = field(default_factory=list)


def main(store: DirectoryStore | None = None) -> Outcome:
    clock = FrozenClock()
    sink = ListSink()
    people = build_directory(store if store is not None else MemoryStore(), clock, sink)
    keys = build_credentials(people, clock, sink)
    outcome = Outcome(engine_quickstart().effect, malformed_policy_pointers(), ask_directory(people),
                      use_sessions(keys, people, clock))

    asked: list[str] = []

    def code() -> str:  # what a person would type from the authenticator app
        clock.advance(TOTP_STEP)  # each step-up needs a time step not used before
        asked.append(code_now := totp(keys.device.base32_seed, clock.time()))
        return code_now

    guard = build_guard(keys, clock, sink)
    with TestClient(starlette_app(guard, keys.credentials), base_url="http://testserver") as client:
        client.auth = client_auth(keys.alice_key, clock, code)
        outcome.starlette = {
            "GET /health": client.get("/health").status_code,
            "GET /orders": client.get("/orders").status_code,
            "GET /orders/1001": client.get("/orders/1001").status_code,
            "GET /orders/1002": client.get("/orders/1002").status_code,
            "DELETE /orders/1001": client.delete("/orders/1001").status_code,  # steps up, retries once
        }
    with TestClient(fastapi_app(build_guard(keys, clock, sink), keys.credentials),
                    base_url="http://testserver") as client:
        client.auth = client_auth(keys.bob_key, clock, code)
        outcome.fastapi = {
            "GET /orders/1002": client.get("/orders/1002").status_code,
            "GET /orders/1001": client.get("/orders/1001").status_code,
        }
    flask = flask_app(build_resolver_guard(people, keys, clock, sink), keys.credentials)
    auth = client_auth(keys.alice_key, clock, code)
    with httpx.Client(transport=httpx.WSGITransport(app=flask), base_url="http://testserver", auth=auth) as client:
        outcome.flask = {
            "GET /health": client.get("/health").status_code,
            "GET /orders/1001": client.get("/orders/1001").status_code,
            "GET /orders/1002": client.get("/orders/1002").status_code,
        }
    APP_LOGINS["s3cr3t"] = (people.bob.arn, None)
    with httpx.Client(transport=httpx.WSGITransport(app=flask), base_url="http://testserver",
                      cookies={"app_session": "s3cr3t"}) as client:
        answer = client.get("/orders/1002")
        outcome.flask["GET /orders/1002 (app login)"] = answer.status_code
        outcome.flask_login_principal = str(answer.json().get("principal", ""))
    outcome.mfa_codes_asked = len(asked)
    outcome.lint_codes, outcome.worst_finding = lint_codes()
    outcome.audited_actions = sink.actions()
    return outcome


if __name__ == "__main__":  # pragma: no cover - manual use
    print(main())
