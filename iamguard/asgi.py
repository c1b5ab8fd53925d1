"""iamguard for ASGI apps: a pure ASGI middleware, Starlette route decorators and a FastAPI
dependency, all deciding through one `iamguard.web.Guard`.

    iam = Iam(Guard(credentials, tenant="123456789012", step_up_endpoint="/auth/step-up"))

    @iam.protect("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}")
    async def get_order(request): ...                      # request.state.iam is an IamContext

    app = Starlette(routes=[Route("/orders/{order_id}", get_order)],
                    middleware=[iam.middleware(strict=True)])

    # FastAPI: per-route dependency (works with or without the middleware)
    @api.get("/orders/{order_id}")
    async def read(order_id: str,
                   ctx: IamContext = Depends(iam.require("orders:GetOrder", "arn:...:order/{order_id}"))):

The middleware decides before the app runs, for the route the router will dispatch: it asks
every route's own `matches(scope)` in the router's order (see `iamguard.web.asgi_routes`), so
`root_path`, mounts and converters mean the same to the guard as to the router (spec MAP-01,
MAP-10). Requests no route matches are screened and then left to the router (404 or a
trailing-slash redirect, no endpoint runs). A partial match (wrong method) is answered 405.
WebSocket handshakes are decided before `accept`: a deny closes with 1008 (or sends the HTTP
denial response when the server supports the `websocket.http.response` extension).

The decorators and the dependency also work without the middleware; with it they re-check that
the router dispatched the request with the same path parameters the middleware authorized.

An HTTP request equal to one the middleware allowed earlier in the same second (every scope field
the guard and the router read, headers included) gets that allow again from the middleware's
`VerdictMemo` (see `iamguard.web.memo`), for routers whose matching reads the scope alone.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException, WebSocketException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from iamguard import audit as codes
from iamguard.web.asgi_routes import (
    NoRoute,
    RouteMatch,
    find_router,
    reads_scope_only,
    reparsed_parameter,
    resolve,
    route_entries,
)
from iamguard.web.endpoints import MAX_BODY, AuthEndpoints
from iamguard.web.guard import ContextProvider, Guard, Verdict
from iamguard.web.memo import VerdictMemo, scope_key
from iamguard.web.network import TrustedProxies
from iamguard.web.request import IamContext, WebRequest
from iamguard.web.responses import WebResponse, json_response
from iamguard.web.routes import (
    RouteReport,
    RouteRule,
    UnmappedRoutesError,
    attach_rule,
    public,
    rule,
    rules_of,
)
from iamguard.web.target import Rejection
from iamguard.web.throttle import DEFAULT_SOURCE_LIMIT, SourceLimit

logger = logging.getLogger("iamguard.asgi")

_P = ParamSpec("_P")
_EndpointT = TypeVar("_EndpointT", bound=Callable[..., Any])  # an endpoint function or an ASGI app object
_EndpointClassT = TypeVar("_EndpointClassT")  # an HTTPEndpoint or WebSocketEndpoint class

SCOPE_KEY = "iamguard"  # scope[SCOPE_KEY] holds the IamContext of an authorized request


def _headers(scope: Scope) -> tuple[tuple[str, str], ...]:
    return tuple([(name.decode("latin-1").lower(), value.decode("latin-1"))
                  for name, value in scope.get("headers", ())])


@functools.lru_cache(maxsize=1024)
def _allow_header(methods: frozenset[str]) -> str:
    return ", ".join(sorted(methods))


def web_request(scope: Scope, match: RouteMatch | None = None, *,
                declared: tuple[RouteRule, ...] | None = None) -> WebRequest:
    """The neutral description of an ASGI request. Route and parameters come from `match` (the
    router's own matching), never from the path."""
    websocket = scope["type"] == "websocket"
    client = scope.get("client")
    params = dict(match.params) if match is not None else dict(scope.get("path_params", {}))
    methods = match.methods if match is not None else None
    # Decoded and grouped by name in one pass; the guard reads the grouping.
    headers: list[tuple[str, str]] = []
    grouped: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers.append((name, value))
        same = grouped.get(name)
        if same is None:
            grouped[name] = [value]
        else:
            same.append(value)
    request = WebRequest(
        method="GET" if websocket else scope["method"],
        path=scope["path"],
        raw_path=scope.get("raw_path"),
        query_string=scope.get("query_string", b""),
        headers=tuple(headers),
        client=client[0] if client else None,
        scheme=scope.get("scheme", "ws" if websocket else "http"),
        route=match.template if match is not None else None,
        path_params=params,
        declared=declared if declared is not None else (match.declared if match is not None else ()),
        websocket=websocket,
        allow=_allow_header(methods) if methods else None,
    )
    request.prime_header_map(grouped)
    return request


def _encoded(response: WebResponse) -> list[tuple[bytes, bytes]]:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    return headers


async def send_http(send: Send, response: WebResponse, *, head: bool = False) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": _encoded(response)})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


async def refuse_websocket(scope: Scope, receive: Receive, send: Send, response: WebResponse) -> None:
    """Deny a handshake before accept: the HTTP response when the server can send one, else
    close with 1008 (policy violation)."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": response.status,
                    "headers": _encoded(response)})
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _starlette_response(response: WebResponse) -> Response:
    headers = {name: value for name, value in response.headers if name != "content-type"}
    media_type = dict(response.headers).get("content-type")
    return Response(response.body, status_code=response.status, headers=headers, media_type=media_type)


def _expose(scope: Scope, iam: IamContext) -> None:
    scope[SCOPE_KEY] = iam
    # A fresh state dict per request: a server that shares one would otherwise leak the
    # principal of one request into another (CACHE-05).
    state = scope.get("state")
    scope["state"] = {"iam": iam} if state is None else {**(state if isinstance(state, dict) else {}), "iam": iam}


def _reparsed(dependant: Any, params: dict[str, Any]) -> Rejection | None:
    """A refusal when FastAPI would give the handler other path values than the ARN names."""
    if dependant is None or not params:
        return None
    try:
        name = reparsed_parameter(dependant, params)
    except Exception as exc:  # FastAPI's internals changed: the values cannot be vouched for
        logger.error("iamguard: cannot validate the path parameters (%s)", type(exc).__name__)
        return Rejection(503, codes.INTERNAL_ERROR, "cannot validate the path parameters")
    if name is None:
        return None
    return Rejection(400, codes.INVALID_PATH_PARAMETER,
                     f"path parameter {name!r} must be written as the value it stands for (no other spelling)")


def _same_params(iam: IamContext, params: dict[str, Any]) -> bool:
    return dict(iam.path_params) == {name: value if isinstance(value, str) else str(value)
                                     for name, value in params.items()}


_PRIVATE = (b"cache-control", b"private")
_UNSEEN = object()


def _private_responses(send: Send) -> Send:
    """`send`, adding `Cache-Control: private` to a response that has no Cache-Control of its own:
    a response allowed for a named principal must not be stored by a shared cache (a reverse proxy,
    a CDN) and replayed without a decision, also when the credential was a cookie (RFC 9111 only
    holds back responses to requests with Authorization). As django_iamguard does (spec CACHE-01).

    A plain function that hands back `send`'s own awaitable: no coroutine of its own per message,
    on the path of every allowed request."""

    def private_send(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            if not isinstance(headers, (list, tuple)):  # ASGI allows any iterable: read it once
                headers = message["headers"] = list(headers)
            for name, _ in headers:
                if name.lower() == b"cache-control":
                    break
            else:  # a new list: the app's own header list (perhaps a shared constant) stays as it was
                message["headers"] = [*headers, _PRIVATE]
        return send(message)

    return private_send


def _request_key(scope: Scope) -> tuple[Any, ...] | None:
    """Everything of an HTTP scope that the guard and a router of starlette's own routes read,
    for the VerdictMemo; None when an outer router already left path parameters or FastAPI
    matching state in the scope."""
    if scope.get("path_params") or "fastapi" in scope:
        return None
    return scope_key(scope), scope.get("app")


class IamMiddleware:
    """Pure ASGI middleware. Use `Middleware(IamMiddleware, iam=iam)` (or `iam.middleware()`) in
    a Starlette/FastAPI app, or wrap any app: `IamMiddleware(app, iam=iam, router=app.router)`.

    `strict=True` refuses to start (lifespan startup fails) while any route is unmapped, and
    refuses every request (503) if the check fails without a lifespan.
    """

    def __init__(self, app: ASGIApp, iam: Iam | Guard, *, strict: bool = False, router: Any = None) -> None:
        self.app = app
        self.iam = iam if isinstance(iam, Iam) else Iam(iam)
        self.guard = self.iam.guard
        self.strict = strict
        self.router = router
        self._checked: str | None = None  # None: not yet; "" ok; else the failure text
        # Allows given again to a repeated request within their second (iamguard.web.memo), for
        # apps whose router answers from the scope alone: (the app it was checked for, its memo).
        self._memo = VerdictMemo.for_guard(self.guard)
        self._memo_for: tuple[Any, VerdictMemo | None] = (_UNSEEN, None)

    def _router(self, scope: Scope) -> Any:
        if self.router is not None:
            return self.router
        app = scope.get("app")
        return find_router(app) if app is not None else find_router(self.app)

    def _startup_check(self, scope: Scope) -> str:
        if self._checked is None:
            router = self._router(scope)
            if router is None:
                self._checked = "iamguard cannot find the app's router; pass router=..."
            else:
                reports = self.guard.report_routes(route_entries(router))
                problems = [report for report in reports if not report.ok]
                self._checked = str(UnmappedRoutesError(problems)) if problems else ""
                if problems and not self.strict:
                    logger.warning("%s", self._checked)
        return self._checked

    def _memo_of(self, scope: Scope) -> VerdictMemo | None:
        """The memo for requests to this app (scope["app"]), checked again only when the app differs
        from the one last checked."""
        router = self._router(scope)
        memo = self._memo if router is not None and reads_scope_only(router) else None
        self._memo_for = (scope.get("app"), memo)
        return memo

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and self._memo is not None:
            checked, memo = self._memo_for
            if checked is not scope.get("app"):
                memo = self._memo_of(scope)
            key = _request_key(scope) if memo is not None else None
            if key is not None:
                assert memo is not None
                recalled = memo.recall(key)
                if type(recalled) is IamContext:  # this very request was allowed earlier in this second
                    _expose(scope, recalled)
                    await self.app(scope, receive, _private_responses(send))
                    return
                verdict = recalled if isinstance(recalled, Verdict) else await self._decide(scope)
                if recalled is None and verdict is not None:
                    memo.remember(key, verdict)
                await self._answer(scope, receive, send, verdict)
                return
        if kind == "lifespan":
            failure = self._startup_check(scope)
            if failure and self.strict:
                message = await receive()
                if message.get("type") == "lifespan.startup":
                    await send({"type": "lifespan.startup.failed", "message": failure})
                # As starlette's own router does: the server learns of the failure and stops.
                raise RuntimeError(failure)
            await self.app(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        await self._answer(scope, receive, send, await self._decide(scope))

    async def _answer(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict | None) -> None:
        kind = scope["type"]
        if verdict is None:
            await self.app(scope, receive, send)
            return
        if verdict.allowed:
            assert verdict.iam is not None
            _expose(scope, verdict.iam)
            if kind == "http" and not verdict.iam.anonymous:
                send = _private_responses(send)
            await self.app(scope, receive, send)
            return
        assert verdict.response is not None
        if kind == "websocket":
            await refuse_websocket(scope, receive, send, verdict.response)
        else:
            await send_http(send, verdict.response, head=scope.get("method") == "HEAD")

    async def _decide(self, scope: Scope) -> Verdict | None:
        """The verdict, or None when the router will answer without running an endpoint."""
        if self.strict and self._startup_check(scope):
            return self.guard.refuse(web_request(scope), Rejection(503, codes.INTERNAL_ERROR, "unmapped routes"))
        router = self._router(scope)
        try:
            if router is None:
                raise LookupError("no router")
            match: RouteMatch | NoRoute = resolve(router, scope)
        except Exception as exc:  # a router we cannot read: the request is unmappable
            logger.error("iamguard: cannot resolve the route (%s)", type(exc).__name__)
            match = NoRoute(safe=False)
        if isinstance(match, NoRoute):
            request = web_request(scope)
            rejection = self.guard.screen(request)
            if rejection is not None:
                return self.guard.refuse(request, rejection)
            if match.safe:
                return None
            return await self.guard.check(request)  # no route and no rule: denied
        request = web_request(scope, match)
        if match.partial and scope["type"] == "http":
            rejection = self.guard.screen(request) or Rejection(405, codes.METHOD_NOT_ALLOWED, "method not allowed")
            return self.guard.refuse(request, rejection)
        reparsed = _reparsed(match.dependant or getattr(match.route, "dependant", None), match.params)
        if reparsed is not None:
            return self.guard.refuse(request, self.guard.screen(request) or reparsed)
        return await self.guard.check(request)


class IamDenied(HTTPException):
    """Raised by the FastAPI dependency; `Iam.install(app)` renders it as the guard's response."""

    def __init__(self, response: WebResponse) -> None:
        headers = {name: value for name, value in response.headers if name != "content-type"}
        super().__init__(response.status, detail=response.json(), headers=headers)
        self.response = response


class Iam:
    """The ASGI face of a Guard: middleware, decorators, the FastAPI dependency, route listing."""

    def __init__(self, guard: Guard | None = None, **guard_options: Any) -> None:
        if guard is not None and guard_options:
            raise TypeError("pass a Guard or Guard options, not both")
        self.guard = guard if guard is not None else Guard(**guard_options)

    # ---- wiring ---------------------------------------------------------------------------

    def middleware(self, *, strict: bool = False) -> Middleware:
        return Middleware(IamMiddleware, iam=self, strict=strict)

    def wrap(self, app: ASGIApp, *, strict: bool = False, router: Any = None) -> IamMiddleware:
        return IamMiddleware(app, self, strict=strict, router=router or find_router(app))

    def install(self, app: Any) -> None:
        """Render IamDenied (from the FastAPI dependency) exactly as the middleware would."""

        async def handler(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, IamDenied)
            return _starlette_response(exc.response)

        app.add_exception_handler(IamDenied, handler)

    def report(self, app: Any) -> list[RouteReport]:
        """Every route of `app` with its mapping; unmapped and misconfigured ones are flagged."""
        router = find_router(app)
        if router is None:
            raise TypeError("cannot find the app's router")
        return self.guard.report_routes(route_entries(router))

    def check_app(self, app: Any) -> list[RouteReport]:
        """The strict check as a call: raises UnmappedRoutesError listing every problem."""
        reports = self.report(app)
        problems = [report for report in reports if not report.ok]
        if problems:
            raise UnmappedRoutesError(problems)
        return reports

    # ---- decorators -----------------------------------------------------------------------

    def protect(self, action: str, resource: str, *, methods: str | Iterable[str] | None = None,
                read_only: bool | None = None, context: Sequence[ContextProvider] = ()
                ) -> Callable[[Callable[_P, Any]], Callable[_P, Coroutine[Any, Any, Any]]]:
        """Decorate a Starlette endpoint (function or HTTPEndpoint method, HTTP or WebSocket). The
        endpoint keeps its parameters; it becomes a coroutine function whose result may be the
        guard's denial instead of the endpoint's own answer."""
        item = rule(action, resource, methods=methods, read_only=read_only, context=context)

        def decorate(endpoint: Callable[_P, Any]) -> Callable[_P, Coroutine[Any, Any, Any]]:
            return self._enforcing(item, endpoint)

        return decorate

    @overload
    def public(self, endpoint: type[_EndpointClassT], *, methods: str | Iterable[str] | None = None
               ) -> type[_EndpointClassT]: ...

    @overload
    def public(self, endpoint: _EndpointT, *, methods: str | Iterable[str] | None = None) -> _EndpointT: ...

    @overload
    def public(self, endpoint: None = None, *, methods: str | Iterable[str] | None = None
               ) -> Callable[[_EndpointT], _EndpointT]: ...

    def public(self, endpoint: Any = None, *, methods: str | Iterable[str] | None = None) -> Any:
        """`@iam.public` or `@iam.public(methods=...)`: no authentication; also usable on a
        mounted app object (`iam.public(StaticFiles(...))`)."""
        item = public(methods=methods)

        def mark(target: Any) -> Any:
            attach_rule(target, item)
            return target

        return mark(endpoint) if endpoint is not None else mark

    def _enforcing(self, item: RouteRule, endpoint: Callable[_P, Any]) -> Callable[_P, Coroutine[Any, Any, Any]]:
        guard = self.guard

        @functools.wraps(endpoint)
        async def enforced(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            connection = next((arg for arg in reversed(args) if isinstance(arg, HTTPConnection)), None)
            if connection is None:
                raise TypeError("iamguard: the decorated endpoint received no request or websocket")
            if isinstance(connection, WebSocket) and connection.application_state is WebSocketState.DISCONNECTED:
                return None  # closed by an earlier denial: the endpoint drains what the client still sends
            method = "WEBSOCKET" if connection.scope["type"] == "websocket" else connection.scope["method"]
            denied: WebResponse | None = None
            if item.covers("GET" if method == "HEAD" else method):
                denied = await _authorize_in_endpoint(guard, item, connection)
            elif not isinstance(connection.scope.get(SCOPE_KEY), IamContext):
                # No middleware decided, and this rule is not for this method: the guard decides with
                # every rule the endpoint declares, so a method none of them covers is denied (MAP-11).
                denied = await _decide_in_endpoint(guard, rules_of(enforced), connection)
            if denied is not None:
                if isinstance(connection, WebSocket):
                    if connection.application_state is not WebSocketState.CONNECTING:
                        # Accepted already (a WebSocketEndpoint's on_receive): no handshake left to
                        # refuse, and reading on would swallow the client's next message.
                        await connection.close(code=1008)
                        return None
                    await refuse_websocket(connection.scope, connection.receive, connection.send, denied)
                    return None
                return _starlette_response(denied)
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint(*args, **kwargs)
            return await run_in_threadpool(endpoint, *args, **kwargs)

        attach_rule(enforced, item)
        return enforced

    # ---- FastAPI --------------------------------------------------------------------------

    def require(self, action: str, resource: str, *, read_only: bool | None = None,
                context: Sequence[ContextProvider] = ()) -> Callable[[HTTPConnection], Coroutine[Any, Any, IamContext]]:
        """A FastAPI dependency: `Depends(iam.require(action, resource))`. Returns the IamContext."""
        item = rule(action, resource, read_only=read_only, context=context)
        guard = self.guard

        async def iam_dependency(connection: HTTPConnection) -> IamContext:
            denied = await _authorize_in_endpoint(guard, item, connection)
            if denied is not None:
                if connection.scope["type"] == "websocket":
                    raise WebSocketException(code=1008)
                raise IamDenied(denied)
            iam: IamContext = connection.scope[SCOPE_KEY]
            return iam

        attach_rule(iam_dependency, item)
        return iam_dependency


async def _authorize_in_endpoint(guard: Guard, item: RouteRule, connection: HTTPConnection) -> WebResponse | None:
    """Inside a dispatched endpoint: accept the middleware's decision when it was made for this
    rule and these exact path parameters; otherwise decide now, from the router's values."""
    scope = connection.scope
    existing = scope.get(SCOPE_KEY)
    params = dict(scope.get("path_params", {}))
    if isinstance(existing, IamContext) and existing.rule is item:
        if _same_params(existing, params):
            return None
        logger.error("iamguard: the router dispatched different path parameters than were authorized")
        return json_response(403, {"error": "AccessDenied", "action": item.action, "resource": None})
    return await _decide_in_endpoint(guard, (item,), connection)


async def _decide_in_endpoint(guard: Guard, declared: tuple[RouteRule, ...],
                              connection: HTTPConnection) -> WebResponse | None:
    """Decide inside a dispatched endpoint, from the router's values and the `declared` rules."""
    scope = connection.scope
    params = dict(scope.get("path_params", {}))
    route = scope.get("route")
    template = getattr(route, "path_format", None) if route is not None else None
    methods = getattr(route, "methods", None) if route is not None else None
    request = web_request(scope, None, declared=declared).replaced(
        route=template, path_params=params, allow=_allow_header(frozenset(methods)) if methods else None)
    reparsed = _reparsed(getattr(route, "dependant", None), params)
    if reparsed is not None:
        verdict = guard.refuse(request, guard.screen(request) or reparsed)
    else:
        verdict = await guard.check(request)
    if verdict.allowed:
        assert verdict.iam is not None
        _expose(scope, verdict.iam)
        if isinstance(connection, HTTPConnection) and hasattr(connection, "_state"):
            del connection._state  # the cached State view points at the old dict
        return None
    assert verdict.response is not None
    return verdict.response


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def auth_routes(credentials: Any, *, prefix: str = "", source_limit: SourceLimit | None = DEFAULT_SOURCE_LIMIT,
                trusted_proxies: Sequence[str] | TrustedProxies = ()) -> list[Route]:
    """Public POST routes for token exchange, role assumption and step-up (see
    `iamguard.web.endpoints`): `Mount("/auth", routes=auth_routes(credentials))`. Pass the
    guard's `trusted_proxies` so the per-source limit counts the same client address."""
    handlers = AuthEndpoints(credentials, source_limit=source_limit, trusted_proxies=trusted_proxies)

    def endpoint(handler: Callable[..., WebResponse], name: str) -> Callable[..., Any]:
        async def run(request: Request) -> Response:
            body = await _bounded_body(request, MAX_BODY)
            peer = request.scope.get("client")
            if body is None:
                return _starlette_response(handlers.too_large(
                    _headers(request.scope), peer[0] if peer else None, scheme=request.scope.get("scheme", "http"),
                    endpoint=name))
            answer = await run_in_threadpool(handler, _headers(request.scope), body, peer[0] if peer else None,
                                             scheme=request.scope.get("scheme", "http"))
            return _starlette_response(answer)

        run.__name__ = handler.__name__
        attach_rule(run, public(methods="POST"))
        return run

    return [
        Route(f"{prefix}/token", endpoint(handlers.token, "token"), methods=["POST"], name="iamguard_token"),
        Route(f"{prefix}/assume-role", endpoint(handlers.assume_role, "assume-role"), methods=["POST"],
              name="iamguard_assume_role"),
        Route(f"{prefix}/step-up", endpoint(handlers.step_up, "step-up"), methods=["POST"], name="iamguard_step_up"),
    ]


__all__ = [
    "SCOPE_KEY",
    "auth_routes",
    "Iam",
    "IamDenied",
    "IamMiddleware",
    "refuse_websocket",
    "send_http",
    "web_request",
]
