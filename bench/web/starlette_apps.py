"""The Starlette hello-world app: bare, behind iamguard's ASGI middleware, behind pycasbin."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.web.casbin_asgi import CasbinMiddleware, SubjectOf, enforcer_for
from bench.web.tenant import ROUTE, WebTenant
from iamguard.asgi import Iam


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _app(middleware: Sequence[Middleware] = ()) -> Starlette:
    return Starlette(routes=[Route(ROUTE, hello, methods=["GET"])], middleware=list(middleware))


def bare() -> Starlette:
    return _app()


def with_iamguard(tenant: WebTenant) -> Starlette:
    return _app([Iam(tenant.guard()).middleware()])


def with_casbin(tenant: WebTenant, subject_of: SubjectOf) -> Starlette:
    return _app([Middleware(CasbinMiddleware, enforcer=enforcer_for(tenant.reader_arn), subject_of=subject_of)])


def verified_subject(tenant: WebTenant) -> SubjectOf:
    """The token checked by iamguard's credentials (signature, expiry, revocation), as iamguard's
    middleware checks it: the subject is the session's principal ARN."""
    authenticate = tenant.credentials.authenticate
    return lambda token: authenticate(token).principal_arn


def table_subject(tenant: WebTenant) -> SubjectOf:
    """An opaque-token table: a dict lookup, the cheapest authentication there is."""
    outsider = tenant.credentials.authenticate(tenant.outsider_token).principal_arn
    return {tenant.reader_token: tenant.reader_arn, tenant.outsider_token: outsider}.get
