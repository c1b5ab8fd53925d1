"""The Starlette hello-world app: bare, behind iamguard's ASGI middleware, behind pycasbin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.web.casbin_asgi import CasbinMiddleware, SubjectOf, enforcer_for
from bench.web.tenant import HELLO, ROUTE, WebTenant
from iamguard.asgi import Iam
from iamguard.credentials import Credentials
from iamguard.engine.evaluator import PolicySet


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


def _app(middleware: Sequence[Middleware] = ()) -> Starlette:
    return Starlette(routes=[Route(ROUTE, hello, methods=["GET"])], middleware=list(middleware))


def bare() -> Starlette:
    return _app()


def with_iamguard(tenant: WebTenant) -> Starlette:
    return _app([Iam(tenant.guard()).middleware()])


class RememberedSessions:
    """A session authority that verifies each token once and then hands back the same session.
    For the diagnostic row only: it skips the per-request expiry and revocation checks, so it
    shows what iamguard's pipeline costs apart from token verification."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._sessions: dict[str, Any] = {}

    def authenticate(self, token: str) -> Any:
        session = self._sessions.get(token)
        if session is None:
            session = self._sessions[token] = self.credentials.authenticate(token)
        return session

    def policy_set_for(self, session: Any, resource_policy: Any = None) -> PolicySet:
        return self.credentials.policy_set_for(session, resource_policy)


def with_iamguard_remembered_sessions(tenant: WebTenant) -> Starlette:
    return _app([Iam(tenant.guard(RememberedSessions(tenant.credentials))).middleware()])


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
