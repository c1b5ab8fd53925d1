"""iamguard.web: the framework-neutral enforcement core shared by every web adapter.

The ASGI adapter (`iamguard.asgi`), `flask_iamguard` and `django_iamguard` are thin: each turns
its framework's request into a `WebRequest`, asks one `Guard`, and either runs the handler or
sends the `WebResponse` the guard built. The same request therefore gets the same answer from
every adapter. Each adapter also keeps a `VerdictMemo` (`iamguard.web.memo`): the allows of the
current second, given again to requests equal to them without deciding anew.

Building a guard
----------------
    guard = Guard(
        credentials,                       # SessionAuthority: .authenticate(token) -> session,
                                           #   .policy_set_for(session) -> PolicySet
        directory=directory,               # PrincipalDirectory (.resolve(arn)), for resolvers
        resolver=None,                     # (WebRequest) -> arn | Login | None, sync or async,
                                           #   for apps that log users in themselves
        routes=[rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}",
                     methods="GET", path="/orders/{order_id}"),
                public(methods="GET", path="/health")],
        context=[provider, ...],           # (ContextInput) -> Mapping, sync or async
        audit=JsonLinesSink("audit.jsonl"),# default: the `iamguard.audit` logger
        clock=FrozenClock(...),            # default: the system clock
        tenant="123456789012",             # any GuardConfig field as a keyword
        trusted_proxies=["10.0.0.0/8"], cookie_name=None, step_up_endpoint="/auth/step-up",
        debug=False, timeout=5.0,
    )

Rules
-----
`rule(action, resource_template, methods=..., path=..., read_only=None, context=())` and
`public(methods=..., path=...)` build `RouteRule`s; `RouteMap` holds the declarative ones, keyed
by (method, route template exactly as the router spells it). Decorators attach rules to the
endpoint itself: `protect(action, resource)` / `mark_public` here attach metadata only, and
`rules_of(endpoint)` reads them back; framework decorators build on these. Resource templates
are ARNs with `{name}` placeholders, filled from the router's path parameters, `{tenant}` and
`template_values`. HEAD is decided as GET; OPTIONS is answered 204 by the guard unless public; a
mutating action on GET/OPTIONS is a `RouteConfigError` at startup (CSRF-02). WebSocket
handshakes use the pseudo-method "WEBSOCKET".

The adapter contract
--------------------
For every request the router matched:

    request = WebRequest(
        method=..., path=<decoded path the router saw>, raw_path=<bytes as sent, if known>,
        query_string=<bytes>, headers=((lower-case name, value), ...), client=<peer address>,
        scheme="http"|"https", route=<matched route template>,
        path_params=<the router's converted values>, declared=rules_of(<endpoint>),
        websocket=False, allow=<"GET, POST" for OPTIONS answers>, native=<framework request>)
    verdict = guard.check_sync(request)        # or: await guard.check(request)
    if verdict.allowed:
        expose verdict.iam (an IamContext: principal, action, resource, decision, path_params,
        session, request_id) as request.state.iam / flask.g.iam / request.iam, run the handler
    else:
        send verdict.response (.status, .headers as (name, value) pairs, .body bytes of JSON)

For a request no route matched, call `guard.screen(request)`; when it returns a `Rejection`,
send `guard.refuse(request, rejection).response`, else let the framework answer 404.
Never call the handler on any other path, and never catch exceptions around `check` yourself:
it does not raise, and every failure is already a deny (503/401/403) with an audit record.

Route listing: turn each route into `RouteEntry(method, path, name, params, declared)` and call
`guard.report_routes(entries)` (a list of `RouteReport`, unmapped ones flagged) or
`guard.require_mapped(entries)` (raises `UnmappedRoutesError`): the strict startup check.

Token endpoints
---------------
`AuthEndpoints(credentials, source_limit=SourceLimit(...), trusted_proxies=...)` has three
blocking handlers, `token`, `assume_role` and `step_up`, each
`(headers, body_bytes, client=None) -> WebResponse` (`client`: the TCP peer's address, from which
the per-address limit of refused credentials is counted); mount them as public POST routes
(`/auth/token`, `/auth/assume-role`, `/auth/step-up`) and run them in a worker thread from async
code. Bodies are JSON objects of at most `endpoints.MAX_BODY` bytes (larger: answer 413 without
reading on).

Modules: `guard` (the pipeline), `target` (request-target screen), `routes` (rules, templates,
route maps, decorator metadata), `network` (client address, TLS), `tokens` (the one credential),
`stepup` (MFA re-evaluation, max_age), `responses` (status and body shapes), `inventory` (route
listing), `endpoints` (token endpoints), `throttle` (per-address limits), `asgi_routes`
(Starlette/FastAPI route resolution).
"""

from iamguard.web.endpoints import AuthEndpoints
from iamguard.web.guard import (
    ContextProvider,
    Guard,
    GuardConfig,
    Identity,
    PrincipalDirectory,
    PrincipalResolver,
    SessionAuthority,
    Verdict,
)
from iamguard.web.inventory import RouteEntry, inspect_routes
from iamguard.web.network import TrustedProxies
from iamguard.web.request import ANONYMOUS, ContextInput, IamContext, Login, WebRequest
from iamguard.web.responses import WebResponse
from iamguard.web.routes import (
    WEBSOCKET,
    ResourceTemplate,
    RouteConfigError,
    RouteMap,
    RouteReport,
    RouteRule,
    TemplateError,
    UnmappedRoutesError,
    attach_rule,
    mark_public,
    path_parameters,
    protect,
    public,
    rule,
    rules_of,
)
from iamguard.web.target import Rejection
from iamguard.web.throttle import DEFAULT_SOURCE_LIMIT, SourceLimit

__all__ = [
    "ANONYMOUS",
    "DEFAULT_SOURCE_LIMIT",
    "WEBSOCKET",
    "AuthEndpoints",
    "ContextInput",
    "ContextProvider",
    "Guard",
    "GuardConfig",
    "IamContext",
    "Identity",
    "Login",
    "PrincipalDirectory",
    "PrincipalResolver",
    "Rejection",
    "ResourceTemplate",
    "RouteConfigError",
    "RouteEntry",
    "RouteMap",
    "RouteReport",
    "RouteRule",
    "SessionAuthority",
    "SourceLimit",
    "TemplateError",
    "TrustedProxies",
    "UnmappedRoutesError",
    "Verdict",
    "WebRequest",
    "WebResponse",
    "attach_rule",
    "inspect_routes",
    "mark_public",
    "path_parameters",
    "protect",
    "public",
    "rule",
    "rules_of",
]
