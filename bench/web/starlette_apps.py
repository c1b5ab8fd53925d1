"""The Starlette hello-world app: bare, behind iamguard's ASGI middleware, behind pycasbin, and
behind the least middleware that checks a token (the floor)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.web.casbin_asgi import CasbinMiddleware, SubjectOf, enforcer_for
from bench.web.tenant import HELLO, ROUTE, WebTenant
from iamguard.asgi import Iam
from iamguard.audit import AuditSink


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


def _app(middleware: Sequence[Middleware] = ()) -> Starlette:
    return Starlette(routes=[Route(ROUTE, hello, methods=["GET"])], middleware=list(middleware))


def bare() -> Starlette:
    return _app()


def with_iamguard(tenant: WebTenant, *, reuse_allows: bool = True, audit: AuditSink | None = None) -> Starlette:
    return _app([Iam(tenant.guard(reuse_allows=reuse_allows, audit=audit)).middleware()])


class TokenTableMiddleware:
    """The least any token-checking ASGI middleware does: find the bearer token among the headers,
    look it up in a dict (reader: allowed; outsider: 403; anything else: 401) and call the app.
    No policy, no expiry, no revocation: the floor under every real contender, not a setup to deploy."""

    def __init__(self, app: ASGIApp, allowed: str, refused: str) -> None:
        self.app = app
        self.answers = {f"Bearer {allowed}".encode(): 200, f"Bearer {refused}".encode(): 403}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 401
        for name, value in scope["headers"]:
            if name == b"authorization":
                status = self.answers.get(value, 401)
                break
        if status == 200:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def with_token_table(tenant: WebTenant) -> Starlette:
    return _app([Middleware(TokenTableMiddleware, allowed=tenant.reader_token, refused=tenant.outsider_token)])


def with_casbin(tenant: WebTenant, subject_of: SubjectOf) -> Starlette:
    enforcer = enforcer_for(tenant.reader_arn)
    return _app([Middleware(CasbinMiddleware, enforcer=enforcer, subject_of=subject_of)])


def verified_subject(tenant: WebTenant) -> SubjectOf:
    """The token checked by iamguard's credentials (signature, expiry, revocation), as iamguard's
    middleware checks it: the subject is the session's principal ARN."""
    authenticate = tenant.credentials.authenticate
    return lambda token: authenticate(token).principal_arn


def table_subject(tenant: WebTenant) -> SubjectOf:
    """An opaque-token table: a dict lookup, the cheapest authentication there is."""
    outsider = tenant.credentials.authenticate(tenant.outsider_token).principal_arn
    return {tenant.reader_token: tenant.reader_arn, tenant.outsider_token: outsider}.get
