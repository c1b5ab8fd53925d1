"""The Guard: one decision procedure that every web adapter calls.

`Guard.check(request)` (async) and `Guard.check_sync(request)` run the same pipeline:

1. screen the method, the target and override headers (400/405 before anything else);
2. find the rule for the matched route (endpoint decorators, then the route map); public routes
   pass with the anonymous principal; OPTIONS is answered without running the handler;
3. read the network context (`aws:SourceIp`, `aws:SecureTransport`, trusted proxies only);
4. authenticate: exactly one credential (Bearer header or session cookie) or the app's own login
   through a principal resolver; none is 401, a bad one 401 `invalid_token`;
5. deny routes with no rule (403);
6. fill the resource template with the router's path values as literal text;
7. build the context: network keys, time from the injected clock, the principal's keys, then the
   app's context providers (sync or async);
8. evaluate; a deny that fresh MFA would turn into an allow becomes a step-up challenge;
9. audit the outcome, whatever it is.

Any exception on the way becomes a deny (503 for infrastructure, 401/403 otherwise); the
handler runs only when the returned `Verdict.allowed` is true.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import itertools
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Protocol

from iamguard import audit as codes
from iamguard.audit import Auditor, AuditRecord, AuditSink, as_auditor
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.engine.context import Request
from iamguard.engine.decision import Decision, Effect
from iamguard.engine.evaluator import PolicySet
from iamguard.errors import IamGuardError
from iamguard.policy.arn import TENANT_ID
from iamguard.store.database import PolicyLoadError, StoreError
from iamguard.web import responses
from iamguard.web.inventory import RouteEntry, inspect_routes
from iamguard.web.network import ForwardedHeaderError, TrustedProxies, connection_keys, parse_address
from iamguard.web.request import ANONYMOUS, ContextInput, IamContext, Login, WebRequest
from iamguard.web.responses import WebResponse
from iamguard.web.routes import (
    MAX_PARAMETER_LENGTH,
    SAFE_METHODS,
    BoundTemplate,
    ResourceTemplate,
    RouteConfigError,
    RouteMap,
    RouteReport,
    RouteRule,
    TemplateError,
    UnmappedRoutesError,
    check_route_method,
    lookup_method,
)
from iamguard.web.sessions import SessionMemo
from iamguard.web.stepup import MFA_AGE, MFA_PRESENT, fresh_mfa_would_allow, required_max_age
from iamguard.web.target import (
    DEFAULT_MAX_PATH_LENGTH,
    DEFAULT_METHODS,
    OVERRIDE_HEADERS,
    Rejection,
    check_method,
    check_overrides,
    check_path,
    check_raw_path,
    is_plain,
    is_plain_path,
)
from iamguard.web.tokens import MAX_TOKEN_LENGTH, Credential, CredentialError, find_credential
from iamguard.web.values import quick_init

logger = logging.getLogger("iamguard.web")

ContextProvider = Callable[[ContextInput], "Mapping[str, Any] | Awaitable[Mapping[str, Any]]"]
PrincipalResolver = Callable[[WebRequest], "str | Login | Awaitable[str | Login | None] | None"]

_UNSEEN = object()

# Seconds an application login's MFA time may lie ahead of the guard's clock (two servers' clocks
# disagree a little); the same bound as the token leeway.
_MFA_CLOCK_SKEW = 60

# Bound on each per-guard memo below (route rules, bound templates, peer addresses): entries are
# keyed by things that repeat (routes, methods, peers); a flood of new keys only clears the memo.
_MEMO_LIMIT = 4096

# Keys a context provider may add under the reserved prefixes; everything else under `aws:` or
# `sts:` describes the principal, the session or the network and comes from iamguard alone.
_PROVIDER_AWS_PREFIXES = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")

# An origin as browsers serialize it in the Origin header (RFC 6454 section 6.2): lower-case
# scheme and host, no path, no trailing slash, and no port when it is the scheme's default. The
# CSRF check compares strings exactly, so any other spelling would never match.
_ORIGIN = re.compile(r"([a-z][a-z0-9+.-]*)://([a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(0|[1-9][0-9]{0,4}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# RFC 6265 cookie-name: an RFC 9110 token (no separators, spaces or controls).
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_origin_setting(origin: object) -> None:
    match = _ORIGIN.fullmatch(origin) if isinstance(origin, str) else None
    if match is None or (match.group(3) is not None and _DEFAULT_PORTS.get(match.group(1)) == match.group(3)):
        # "null" above all: sandboxed frames and file: pages of any site send `Origin: null`.
        raise ValueError(f"trusted origin {origin!r} must be an origin as browsers send it "
                         "(scheme://host[:port], lower case, no path, no default port; not 'null' or '*')")


class SessionAuthority(Protocol):
    """What the guard needs from `iamguard.credentials.Credentials`."""

    def authenticate(self, token: str) -> Any: ...

    def policy_set_for(self, session: Any, resource_policy: Any = None) -> PolicySet: ...


class GenerationWatch(Protocol):
    """What an authority's `generation_watch` offers (`iamguard.credentials.liveness.GenerationWatch`):
    the store generation its answers derive from (`current`), and, for remembering answers
    derived from it, how long that generation stays current (`snapshot`: while `local_commits()`
    answers the same and the clock stays before `until`)."""

    def current(self) -> tuple[int, ...]: ...

    def snapshot(self) -> Any: ...  # .commits, .generation, .checked_at, .until

    def local_commits(self) -> object: ...


class PrincipalDirectory(Protocol):
    """What the guard needs from `iamguard.directory.Directory` (for principal resolvers)."""

    def resolve(self, principal_arn: str) -> Any: ...  # .policy_set and .context


@dataclass(frozen=True)
class GuardConfig:
    tenant: str | None = None  # fills {tenant} in resource templates
    template_values: Mapping[str, str] = field(default_factory=dict)  # more fixed {names}
    trusted_proxies: TrustedProxies | Sequence[str] = ()
    cookie_name: str | None = None  # enables one session cookie as the credential source
    trusted_origins: tuple[str, ...] = ()  # for cookie-authenticated unsafe requests (CSRF)
    realm: str | None = None
    step_up_endpoint: str | None = None  # where clients get a fresher MFA session
    step_up_max_age: int = 300  # max_age when no policy bounds aws:MultiFactorAuthAge
    debug: bool = False  # adds decision.explain() to 403 bodies; never in production
    timeout: float = 5.0  # seconds for the whole decision
    methods: frozenset[str] = DEFAULT_METHODS
    max_path_length: int = DEFAULT_MAX_PATH_LENGTH
    max_token_length: int = MAX_TOKEN_LENGTH
    audit_allows: bool = True
    audit_public: bool = False
    require_audit: bool = True  # an allow that cannot be audited is refused (503)
    # Give an allow again, without deciding anew, to a request equal byte for byte to one allowed
    # earlier in the same second of the clock (see iamguard.web.memo); False decides every request.
    reuse_allows: bool = True

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "trusted_proxies", TrustedProxies.of(self.trusted_proxies))
        if isinstance(self.trusted_origins, str):  # tuple("https://a") would be its characters
            raise TypeError("trusted_origins must be a sequence of origins, not one string")
        setter(self, "trusted_origins", tuple(self.trusted_origins))
        for origin in self.trusted_origins:
            _check_origin_setting(origin)
        if isinstance(self.methods, str):  # `in` on a string would accept any substring
            raise TypeError("methods must be a collection of method names, not one string")
        setter(self, "methods", frozenset(self.methods))
        for method in self.methods:
            if not isinstance(method, str) or check_method(method, frozenset({method})) is not None:
                raise ValueError(f"method {method!r} must be an upper-case HTTP token")
        setter(self, "template_values", dict(self.template_values))
        if self.tenant is not None and not TENANT_ID.fullmatch(self.tenant):
            raise ValueError(f"tenant {self.tenant!r} must match [a-z0-9-]{{1,64}}")
        for name, value in self.template_values.items():
            if not isinstance(value, str) or not value or ":" in value:
                raise ValueError(f"template value {name!r} must be a non-empty string without ':'")
        if self.tenant is not None and "tenant" in self.template_values:
            raise ValueError("give the tenant once: tenant=... or template_values['tenant']")
        # NaN compares false with everything: as a timeout it would never expire; as max_age it
        # cannot be written into the challenge (RFC 9470 wants a non-negative integer).
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or \
                not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ValueError("timeout must be a positive, finite number of seconds")
        if isinstance(self.step_up_max_age, bool) or not isinstance(self.step_up_max_age, int) or \
                self.step_up_max_age < 0:
            raise ValueError("step_up_max_age must be a non-negative integer number of seconds")
        if self.cookie_name is not None and \
                (not isinstance(self.cookie_name, str) or not _COOKIE_NAME.fullmatch(self.cookie_name)):
            raise ValueError(f"cookie_name {self.cookie_name!r} must be a cookie name token (RFC 6265: "
                             "ASCII letters, digits and !#$%&'*+-.^_`|~)")

    @property
    def fixed_values(self) -> dict[str, str]:
        values = dict(self.template_values)
        if self.tenant is not None:
            values["tenant"] = self.tenant
        return values


class Identity:
    """Who asks, for one request: the principal, its policies and its context keys. `context` is
    this request's own dict (the pipeline adds the request's keys to it); `normalized`, when
    known, is `normalize_context` of the keys as they came, shared and never changed."""

    __slots__ = ("context", "generation", "normalized", "policy_set", "principal", "session", "session_id",
                 "source")

    def __init__(self, principal: str, policy_set: PolicySet, context: dict[str, Any], source: str,
                 session: Any = None, session_id: str | None = None,
                 normalized: dict[str, tuple[Any, ...]] | None = None,
                 generation: tuple[int, ...] | None = None) -> None:
        self.principal = principal
        self.policy_set = policy_set
        self.context = context
        self.source = source
        self.session = session
        self.session_id = session_id
        self.normalized = normalized
        # The authority's store generation read before the session was authenticated, when an
        # allow for this identity may be reused (see `Reusable`); None otherwise.
        self.generation = generation


@quick_init
@dataclass(frozen=True)
class Reusable:
    """When an allow may be given again to the very same request (see `iamguard.web.memo`): it
    was decided within one whole second of the guard's clock, from an iamguard session whose
    authority's store stood at `generation` before anything was read, and the route map at
    `routes_version` before its rule was looked up."""

    second: int
    generation: tuple[int, ...]
    routes_version: int
    record: AuditRecord | None = None  # the allow's audit record, when one was written: a recall's template


@quick_init
@dataclass(frozen=True)
class Verdict:
    """`allowed`: run the handler. Otherwise send `response` (it is always set then)."""

    allowed: bool
    reason: str
    iam: IamContext | None = None
    response: WebResponse | None = None
    decision: Decision | None = None
    detail: str | None = None  # for the audit record: secret-free, never shown to the client
    reuse: Reusable | None = None  # set on allows that a VerdictMemo may remember

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None


class _Refusal(Exception):
    """Ends the pipeline with a response; internal to this module."""

    def __init__(self, response: WebResponse, reason: str, detail: str | None = None,
                 decision: Decision | None = None) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason
        self.detail = detail
        self.decision = decision


# Request ids: unique and cheap, not secret. A random per-process prefix keeps ids from several
# workers apart; the counter is atomic under the GIL. Made by C code alone (one is made for every
# request, repeated ones included): "<prefix><counter in hex>".
_REQUEST_IDS = map((secrets.token_hex(4) + "-{:x}").format, itertools.count(1))
new_request_id: Callable[[], str] = functools.partial(next, _REQUEST_IDS)


class _Trail:
    """What the audit record of one request needs, collected as the pipeline goes."""

    __slots__ = ("action", "principal", "request", "request_id", "resource", "session_id", "source_ip",
                 "started")

    def __init__(self, request: WebRequest) -> None:
        self.request = request
        self.request_id = request.request_id or new_request_id()
        self.started = time.perf_counter()
        self.principal: str | None = None
        self.session_id: str | None = None
        self.action: str | None = None
        self.resource: str | None = None
        self.source_ip: str | None = request.client


def _infrastructure(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, PolicyLoadError):
        return codes.POLICY_LOAD_ERROR, "a policy that applies cannot be loaded"
    if isinstance(exc, StoreError):
        return codes.STORE_UNAVAILABLE, "the store is unavailable"
    if isinstance(exc, TimeoutError):
        return codes.TIMEOUT, "the decision timed out"
    return codes.INTERNAL_ERROR, f"unexpected {type(exc).__name__}"


def _refusal_error(exc: BaseException) -> bool:
    """An error that says "these credentials are not acceptable" (rather than "cannot decide"):
    iamguard's own errors, except store failures and those that declare a 5xx status."""
    if not isinstance(exc, IamGuardError) or isinstance(exc, StoreError):
        return False
    status = getattr(exc, "status", 401)
    return not (isinstance(status, int) and status >= 500)


@functools.lru_cache(maxsize=4)
def _utc_text(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _session_names(session: Any) -> tuple[Any, Any]:
    """(principal ARN, token id) of a session from any authority."""
    return (_first_attribute(session, ("principal_arn", "principal", "arn")),
            _first_attribute(session, ("jti", "session_id", "token_id")))


def _request(identity: Identity, action: str, resource: str, context: dict[str, Any],
             network_values: dict[str, tuple[Any, ...]]) -> Request:
    """The evaluator's Request for `context` (the identity's keys, then the network's). When the
    identity's keys come normalized already, only the network's are new, unless a network key
    shares a name with an identity key: the plain constructor then settles which one counts."""
    session_values = identity.normalized
    if session_values is not None and network_values.keys().isdisjoint(session_values):
        return Request.prenormalized(identity.principal, action, resource, context,
                                     {**session_values, **network_values})
    return Request(identity.principal, action, resource, context)


def _same_objects(first: tuple[Any, ...], second: tuple[Any, ...]) -> bool:
    return first is second or (len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True)))


def _first_attribute(target: Any, names: Iterable[str]) -> Any:
    for name in names:
        value = getattr(target, name, None)
        if value is not None:
            return value
    return None


class Guard:
    """The framework-neutral enforcement point. Thread-safe and shared by all requests: it keeps
    no per-request state outside the call (spec CACHE-05)."""

    def __init__(
        self,
        authority: SessionAuthority | None = None,
        *,
        directory: PrincipalDirectory | None = None,
        resolver: PrincipalResolver | None = None,
        routes: RouteMap | Iterable[RouteRule] = (),
        context: Sequence[ContextProvider] = (),
        audit: Auditor | AuditSink | Iterable[AuditSink] | None = None,
        clock: Clock | None = SYSTEM_CLOCK,
        config: GuardConfig | None = None,
        **options: Any,
    ) -> None:
        if config is not None and options:
            raise TypeError("pass either config=GuardConfig(...) or keyword options, not both")
        self.config = config if config is not None else GuardConfig(**options)
        if resolver is not None and directory is None:
            raise ValueError("a principal resolver needs directory=... to load the principal's policies")
        self.authority = authority
        self.directory = directory
        self.resolver = resolver
        self.routes = routes if isinstance(routes, RouteMap) else RouteMap(routes)
        self.providers: tuple[ContextProvider, ...] = tuple(context)
        self.auditor = as_auditor(audit)
        # None means the system clock, as for Directory and Credentials: stored as is, every
        # protected request failed (503) on the first clock read.
        self.clock: Clock = clock if clock is not None else SYSTEM_CLOCK
        self._fixed = self.config.fixed_values
        # (id(rule), method) -> (the rule, its problem): the rule is kept, so its id cannot be
        # reused by a rule made later while the entry stands.
        self._method_checked: dict[tuple[int, str], tuple[RouteRule, str | None]] = {}
        # Work that depends only on the route, the method or the peer, done once rather than on
        # every request: each memo holds the objects it was computed for and is used for them only.
        methods = self.config.methods
        self._accepted_methods = frozenset(name for name in methods if check_method(name, methods) is None)
        self._rules_seen: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._bound: dict[int, tuple[ResourceTemplate, BoundTemplate | None]] = {}
        self._peers: dict[str, str | None] = {}
        self._sessions = SessionMemo()
        self.reuse_watch = self._reuse_source()
        # Held by this guard alone: the mark `screen` leaves on a request it passed (see
        # `WebRequest._mark_screened`), so `check` does not screen the same request twice.
        self._screen_token = object()

    def _reuse_source(self) -> GenerationWatch | None:
        """The authority's generation watch when this guard's allows may be remembered for the
        rest of their second (`iamguard.web.memo`): only when every input of a decision is the
        request itself, an iamguard session, the store at that generation and the clock's second.
        A principal resolver or a context provider is app code with inputs of its own, and an
        authority on another clock would check token lifetimes against other seconds."""
        watch = getattr(self.authority, "generation_watch", None)
        if not self.config.reuse_allows or self.resolver is not None or self.providers or \
                not all(callable(getattr(watch, name, None)) for name in ("current", "snapshot", "local_commits")) or \
                getattr(self.authority, "clock", None) is not self.clock:
            return None
        return watch

    # ---- entry points -------------------------------------------------------------------------

    async def check(self, request: WebRequest) -> Verdict:
        trail = _Trail(request)
        deadline = trail.started + self.config.timeout
        try:
            steps = self._pipeline(request, trail)
            try:
                pending = steps.send(None)
                while True:
                    remaining = deadline - time.perf_counter()
                    try:
                        result = await asyncio.wait_for(_awaited(pending), max(remaining, 0.001))
                    except Exception as exc:  # handed back to the step that awaited it
                        pending = steps.throw(exc)
                    else:
                        pending = steps.send(result)
            except StopIteration as stop:
                verdict: Verdict = stop.value
        except Exception as exc:  # the outermost net: nothing escapes as an allow
            verdict = self._failure(trail, exc)
        return self._finish(trail, verdict, deadline)

    def check_sync(self, request: WebRequest) -> Verdict:
        """For WSGI frameworks. Async hooks are run on a private event loop; calling this from a
        thread that runs an event loop with async hooks configured is refused (503)."""
        trail = _Trail(request)
        deadline = trail.started + self.config.timeout
        try:
            steps = self._pipeline(request, trail)
            try:
                pending = steps.send(None)
                while True:
                    try:
                        result = _run_blocking(pending, deadline - time.perf_counter())
                    except Exception as exc:  # handed back to the step that awaited it
                        pending = steps.throw(exc)
                    else:
                        pending = steps.send(result)
            except StopIteration as stop:
                verdict: Verdict = stop.value
        except Exception as exc:  # the outermost net: nothing escapes as an allow
            verdict = self._failure(trail, exc)
        return self._finish(trail, verdict, deadline)

    def screen(self, request: WebRequest) -> Rejection | None:
        """The checks that need no route: method, target and override headers (MAP-02..07, 13, 15).
        Adapters call it for requests no route matched, too. A request it passes is marked, and
        `check` of that same object (or of a `replaced` copy whose screened fields kept their
        values) skips these checks rather than repeating them."""
        rejection = self._screen_checks(request)
        if rejection is None:
            request._mark_screened(self._screen_token)
        return rejection

    def _screen_checks(self, request: WebRequest) -> Rejection | None:
        config = self.config
        if request.method not in self._accepted_methods:
            rejection = check_method(request.method, config.methods)
            if rejection is not None:
                return rejection
        raw = request.raw_path
        if raw is not None:
            if not is_plain(raw, request.path, config.max_path_length):
                rejection = check_raw_path(raw, config.max_path_length) or \
                    check_path(request.path, config.max_path_length)
                if rejection is not None:
                    return rejection
        elif not is_plain_path(request.path, config.max_path_length):
            rejection = check_path(request.path, config.max_path_length)
            if rejection is not None:
                return rejection
        if request.query_string or request.has_any_header(OVERRIDE_HEADERS):
            return check_overrides(request.header_names, request.query_string)
        return None

    def report_routes(self, entries: Iterable[RouteEntry]) -> list[RouteReport]:
        """Every route with the rule that applies to it and what is wrong (MAP-11)."""
        return inspect_routes(entries, self.routes, self._fixed)

    def require_mapped(self, entries: Iterable[RouteEntry]) -> list[RouteReport]:
        """The strict startup check: raise UnmappedRoutesError unless every route is usable."""
        reports = self.report_routes(entries)
        problems = [report for report in reports if not report.ok]
        if problems:
            raise UnmappedRoutesError(problems)
        return reports

    def refuse(self, request: WebRequest, rejection: Rejection) -> Verdict:
        """Audit and shape a screening rejection an adapter found on its own. A 405 lists
        `request.allow` (the route's methods) in its `Allow` header."""
        trail = _Trail(request)
        verdict = self._rejection(rejection, request)
        return self._finish(trail, verdict, trail.started + self.config.timeout)

    # ---- the pipeline -------------------------------------------------------------------------

    def _pipeline(self, request: WebRequest, trail: _Trail) -> Generator[Any, Any, Verdict]:
        routes_version = self.routes.version
        rule: RouteRule | None = None
        try:
            if not request._screened_with(self._screen_token):
                rejection = self._screen_checks(request)
                if rejection is not None:
                    return self._rejection(rejection, request)
            rule = self._rule_for(request)
            if rule is not None and rule.public:
                iam = IamContext(trail.request_id, ANONYMOUS, None, None, None, public=True, rule=rule)
                return Verdict(True, codes.PUBLIC, iam)
            if request.method == "OPTIONS" and not request.websocket:
                return Verdict(False, codes.PREFLIGHT, response=responses.preflight(request.allow))
            if rule is not None and rule.resource is not None:
                _check_identifier_lengths(rule.resource.names, request.path_params)
            now = self.clock.now()
            network, network_values = self._network_context(request, now, trail)
            if self.resolver is None:  # no hook that may await: no nested generator either
                identity = self._token_identity(request, trail)
            else:
                identity = yield from self._identify(request, trail)
            if identity is None:
                raise _Refusal(responses.missing_credentials(self.config.realm), codes.MISSING_CREDENTIALS)
            if rule is None or rule.action is None or rule.resource is None:
                raise _Refusal(responses.access_denied(None, None), codes.UNMAPPED_ROUTE,
                               "no iamguard rule maps this route and method")
            trail.action = action = rule.action
            params = {name: value if isinstance(value, str) else str(value)
                      for name, value in request.path_params.items()}
            resource = self._resource(rule, params)
            trail.resource = resource
            # The principal's keys first, then the network keys: those always describe this request.
            context = identity.context
            context.update(network)
            if self.providers or rule.context:
                # Read-only: `params` also becomes `IamContext.path_params`, which must stay the
                # values that went into `resource`.
                provided = ContextInput(request, MappingProxyType(params), identity.principal, action,
                                        resource)
                for provider in (*self.providers, *rule.context):
                    try:
                        value = provider(provided)
                        if inspect.isawaitable(value):
                            value = yield value
                        _merge_provided(context, value, provider)
                    except Exception as exc:  # a broken provider denies
                        reason, _ = _infrastructure(exc)
                        reason = codes.CONTEXT_ERROR if reason == codes.INTERNAL_ERROR else reason
                        raise _Refusal(responses.unavailable(), reason,
                                       f"context provider failed: {type(exc).__name__}") from None
                question = Request(identity.principal, action, resource, context)
                return self._decide(identity, question, params, trail, rule)
            question = _request(identity, action, resource, context, network_values)
            reuse = None
            if identity.generation is not None:
                # Every clock read of this decision (the context's times, the token's lifetime) lies
                # between `now` and this one: all in one second when these two agree.
                second = int(now.timestamp())
                if int(self.clock.time()) == second:
                    reuse = Reusable(second, identity.generation, routes_version)
            return self._decide(identity, question, params, trail, rule, reuse)
        except _Refusal as refusal:
            if trail.action is None and rule is not None:
                self._name_target(trail, rule, request)
            return Verdict(False, refusal.reason, response=refusal.response, decision=refusal.decision,
                           detail=refusal.detail)

    def _name_target(self, trail: _Trail, rule: RouteRule, request: WebRequest) -> None:
        """For the audit record of a request refused before its decision (no or a bad credential):
        the action and resource its rule names, as far as they can be rendered (spec LOG-02). Only
        the record gains them; the answer is the refusal's."""
        if rule.action is None or rule.resource is None:
            return
        trail.action = rule.action
        try:
            trail.resource = self._resource(rule, {name: value if isinstance(value, str) else str(value)
                                                   for name, value in request.path_params.items()})
        except Exception:  # values the resource refuses: the record names the action alone
            trail.resource = None

    def _rejection(self, rejection: Rejection, request: WebRequest) -> Verdict:
        if rejection.status == 405:
            response = responses.method_not_allowed(self._allow(request))
        elif rejection.status >= 500:
            response = responses.unavailable()
        elif rejection.reason == codes.INVALID_REQUEST:
            response = responses.invalid_request(self.config.realm, rejection.detail)
        else:
            response = responses.bad_request(rejection.detail, rejection.reason)
        return Verdict(False, rejection.reason, response=response, detail=rejection.detail)

    def _allow(self, request: WebRequest) -> str | None:
        """The `Allow` header of a 405 (RFC 9110 15.5.6): the route's methods that this guard
        accepts, so a client never retries with a method the guard refuses anyway. A request no
        route matched names no resource: its methods are the empty list (an empty `Allow`). None
        (no header) only when a route matched but its methods are unknown to the adapter: an
        opaque mounted app (static files, another framework) decides them itself."""
        if request.allow is None:
            return "" if request.route is None else None
        accepted = self._accepted_methods
        return ", ".join(sorted({name for name in (part.strip() for part in request.allow.split(","))
                                 if name in accepted}))

    def _rule_for(self, request: WebRequest) -> RouteRule | None:
        """The rule for the request's route and method, or a MAPPING_CONFLICT refusal. The answer
        depends only on the method, the route template, the declared rules and the route map, so
        it is remembered per (method, route, declared rules by identity, route map version)."""
        method = "WEBSOCKET" if request.websocket else lookup_method(request.method)
        declared = request.declared
        routes = self.routes
        key = (method, request.route, *map(id, declared))
        seen = self._rules_seen.get(key)
        if seen is None or seen[1] is not routes or seen[2] != routes.version or \
                (seen[0] is not declared and not _same_objects(seen[0], declared)):
            seen = (declared, routes, routes.version, *self._find_rule(declared, method, request.route))
            if len(self._rules_seen) >= _MEMO_LIMIT:
                self._rules_seen.clear()
            self._rules_seen[key] = seen
        found: RouteRule | None = seen[3]
        problem = seen[4]
        if problem is not None:
            raise _Refusal(responses.access_denied(None, None), codes.MAPPING_CONFLICT, problem)
        return found

    def _find_rule(self, declared_rules: tuple[RouteRule, ...], method: str,
                   route: str | None) -> tuple[RouteRule | None, str | None]:
        """(the rule, None) or (None, what conflicts)."""
        declared = [item for item in declared_rules if item.covers(method)]
        if len(declared) > 1 and any(item != declared[0] for item in declared[1:]):
            return None, "the endpoint declares more than one rule for this method"
        mapped = self.routes.lookup(method, route)
        found = declared[0] if declared else mapped
        if declared and mapped is not None and mapped != declared[0]:
            return None, "the route map and the endpoint declare different rules"
        if found is not None and found.methods is None and not found.public:
            problem = self._method_problem(found, method)
            if problem is not None:
                return None, problem
        return found, None

    def _method_problem(self, rule: RouteRule, method: str) -> str | None:
        key = (id(rule), method)
        found = self._method_checked.get(key)
        if found is not None and found[0] is rule:
            return found[1]
        try:
            check_route_method(rule, method)
            problem = None
        except RouteConfigError as exc:
            problem = str(exc)
        if len(self._method_checked) >= _MEMO_LIMIT:
            self._method_checked.clear()
        self._method_checked[key] = (rule, problem)
        return problem

    def _network_context(self, request: WebRequest, now: datetime,
                         trail: _Trail) -> tuple[dict[str, Any], dict[str, tuple[Any, ...]]]:
        """The request's network and time keys, and the same keys as the evaluator normalizes
        them (lower-case names, one-value tuples: every value here is a plain, present scalar)."""
        proxies = self.config.trusted_proxies
        assert isinstance(proxies, TrustedProxies)
        headers = request._header_map
        if proxies.networks:
            try:
                address, secure = connection_keys(request.scheme, request.client, headers, proxies)
            except ForwardedHeaderError as exc:
                raise _Refusal(responses.bad_request(str(exc), codes.MALFORMED_REQUEST), codes.MALFORMED_REQUEST,
                               str(exc)) from None
        else:  # no trusted proxy: forwarding headers are never read, the peer is the client
            address = self._peer_text(request.client)
            secure = request.scheme in ("https", "wss")
        trail.source_ip = address
        epoch = int(now.timestamp())
        current = _utc_text(epoch)  # whole seconds, as IAM reports it
        context: dict[str, Any] = {"aws:SecureTransport": secure, "aws:CurrentTime": current, "aws:EpochTime": epoch}
        values = {"aws:securetransport": (secure,), "aws:currenttime": (current,), "aws:epochtime": (epoch,)}
        if address is not None:
            context["aws:SourceIp"] = address
            values["aws:sourceip"] = (address,)
        user_agent = headers.get("user-agent")
        if user_agent:
            context["aws:UserAgent"] = text = ", ".join(user_agent)
            values["aws:useragent"] = (text,)
        referer = headers.get("referer")
        if referer:
            context["aws:Referer"] = text = ", ".join(referer)
            values["aws:referer"] = (text,)
        return context, values

    def _peer_text(self, client: str | None) -> str | None:
        """`source_ip` without trusted proxies (the peer's canonical text), remembered per peer."""
        if not client:
            return None
        text = self._peers.get(client, _UNSEEN)
        if text is _UNSEEN:
            address = parse_address(client)
            text = str(address) if address is not None else None
            if len(self._peers) >= _MEMO_LIMIT:
                self._peers.clear()
            self._peers[client] = text
        return text  # type: ignore[return-value]

    def _credential(self, request: WebRequest) -> Credential | None:
        config = self.config
        headers = request._header_map
        try:
            return find_credential(headers.get("authorization", ()), headers.get("cookie", ()),
                                   config.cookie_name, max_length=config.max_token_length)
        except CredentialError as exc:
            if exc.status == 400:
                raise _Refusal(responses.invalid_request(config.realm, str(exc)), exc.reason, str(exc)) from None
            raise _Refusal(responses.invalid_token(config.realm), exc.reason, str(exc)) from None

    def _token_identity(self, request: WebRequest, trail: _Trail) -> Identity | None:
        """`_identify` for a guard without a principal resolver: the token is the only source."""
        credential = self._credential(request)
        if credential is None:
            return None
        identity = self._session_identity(credential.token, credential.source, trail)
        if credential.source == "cookie":
            self._check_origin(request)
        return identity

    def _identify(self, request: WebRequest, trail: _Trail) -> Generator[Any, Any, Identity | None]:
        config = self.config
        credential = self._credential(request)
        login: str | Login | None = None
        if self.resolver is not None:
            try:
                answered = self.resolver(request)
                login = (yield answered) if inspect.isawaitable(answered) else answered
            except Exception as exc:  # a broken resolver denies
                raise self._unavailable(exc, codes.AUTHENTICATION_ERROR, "principal resolver") from None
        if credential is not None and login is not None:
            detail = "the request carries a token and an application login"
            raise _Refusal(responses.invalid_request(config.realm, detail), codes.INVALID_REQUEST, detail)
        if credential is not None:
            identity = self._session_identity(credential.token, credential.source, trail)
            if credential.source == "cookie":
                self._check_origin(request)
            return identity
        if login is not None:
            return self._login_identity(login, trail)
        return None

    def _session_identity(self, token: str, source: str, trail: _Trail) -> Identity:
        realm = self.config.realm
        if self.authority is None:
            raise _Refusal(responses.invalid_token(realm), codes.INVALID_TOKEN, "this app accepts no tokens")
        generation: tuple[int, ...] | None = None
        try:
            watch = self.reuse_watch
            if watch is not None and self.resolver is None:
                # Read before anything else, so that a write landing meanwhile leaves the answer stale.
                # (A resolver set after construction is app code: nothing it decides is reused.)
                generation = watch.current()
            session = self.authority.authenticate(token)
        except Exception as exc:  # classified below; never passes
            if _refusal_error(exc):
                raise _Refusal(responses.invalid_token(realm), codes.INVALID_TOKEN,
                               f"token refused: {type(exc).__name__}") from None
            raise self._unavailable(exc, codes.AUTHENTICATION_ERROR, "authentication") from None
        facts = self._sessions.facts(session, _session_names)
        principal, trail.session_id = (facts.principal, facts.session_id) if facts is not None else \
            _session_names(session)
        if not isinstance(principal, str) or not principal:
            raise _Refusal(responses.unavailable(), codes.AUTHENTICATION_ERROR, "the session names no principal")
        trail.principal = principal
        normalized: dict[str, tuple[Any, ...]] | None = None
        try:
            policy_set = self.authority.policy_set_for(session)
            if facts is not None:
                context, normalized = facts.context_at(self.clock.now())
            else:
                context = dict(session.context(self.clock.now()))
        except Exception as exc:  # classified below; never passes
            if _refusal_error(exc):
                raise _Refusal(responses.invalid_token(realm), codes.INVALID_TOKEN,
                               f"session refused: {type(exc).__name__}") from None
            raise self._unavailable(exc, codes.AUTHENTICATION_ERROR, "loading the session's policies") from None
        return Identity(principal, policy_set, context, source, session, trail.session_id, normalized,
                        generation if facts is not None else None)

    def _login_identity(self, login: str | Login, trail: _Trail) -> Identity:
        if isinstance(login, str):
            login = Login(login)
        if not isinstance(login, Login) or not login.principal:
            raise _Refusal(responses.unavailable(), codes.AUTHENTICATION_ERROR,
                           "the principal resolver returned neither a principal ARN nor a Login")
        trail.principal = login.principal
        trail.session_id = login.session_id
        assert self.directory is not None
        try:
            resolved = self.directory.resolve(login.principal)
            policy_set = resolved.policy_set
            context = dict(resolved.context)
        except Exception as exc:  # classified below; never passes
            if _refusal_error(exc):
                raise _Refusal(responses.access_denied(None, None), codes.UNKNOWN_PRINCIPAL,
                               f"the principal cannot be resolved: {type(exc).__name__}") from None
            raise self._unavailable(exc, codes.AUTHENTICATION_ERROR, "resolving the principal") from None
        # MFA keys are always present for an app login, so a Deny written with a plain operator
        # cannot be skipped by their absence (POL-02, MFA-07).
        if login.mfa_authenticated_at is not None:
            if login.mfa_authenticated_at.utcoffset() is None:
                # A naive time would be read in the server's local zone: hours off, often "fresh".
                raise _Refusal(responses.unavailable(), codes.AUTHENTICATION_ERROR,
                               "Login.mfa_authenticated_at must be a timezone-aware datetime")
            age = int(self.clock.time() - login.mfa_authenticated_at.timestamp())
            if age < -_MFA_CLOCK_SKEW:
                # Far in the future is a resolver bug, and clamped to "just now" it would keep the
                # MFA fresh for as long as the bug lasts.
                raise _Refusal(responses.unavailable(), codes.AUTHENTICATION_ERROR,
                               "Login.mfa_authenticated_at is in the future")
            age = max(0, age)  # within the allowed skew between the app's clock and this one
            context[MFA_PRESENT] = True
            context[MFA_AGE] = age
        else:
            context[MFA_PRESENT] = False
        return Identity(login.principal, policy_set, context, "resolver", None, login.session_id)

    def _check_origin(self, request: WebRequest) -> None:
        """Cookies are ambient: a cookie-authenticated unsafe request (or WebSocket handshake)
        must come from a trusted origin (CSRF-01)."""
        if request.method in SAFE_METHODS and not request.websocket:
            return
        origin = request.first_header("origin")
        allowed = set(self.config.trusted_origins)
        host = request.first_header("host")
        if not allowed and host:
            allowed.add(f"{'https' if request.scheme in ('https', 'wss') else 'http'}://{host}")
        if origin is None or origin not in allowed or len(request.header("origin")) != 1:
            raise _Refusal(responses.access_denied(None, None), codes.CSRF_FAILED,
                           "cookie-authenticated request from an untrusted or missing Origin")

    def _resource(self, rule: RouteRule, params: Mapping[str, str]) -> str:
        assert rule.resource is not None
        template = rule.resource
        seen = self._bound.get(id(template))
        if seen is None or seen[0] is not template:
            seen = (template, template.bind(self._fixed))
            if len(self._bound) >= _MEMO_LIMIT:
                self._bound.clear()
            self._bound[id(template)] = seen
        bound = seen[1]
        if bound is not None:  # the usual case: the fixed values are already in the template
            if not bound.fixed_names.isdisjoint(params):
                clash = [name for name in params if name in bound.fixed_names]
                raise _Refusal(responses.access_denied(rule.action, None), codes.MAPPING_CONFLICT,
                               f"{sorted(clash)} is both a path parameter and a fixed template value")
            try:
                return bound.render(params)
            except TemplateError as exc:
                raise _Refusal(responses.bad_request(str(exc), codes.INVALID_PATH_PARAMETER),
                               codes.INVALID_PATH_PARAMETER, str(exc)) from None
            except RouteConfigError as exc:
                raise _Refusal(responses.access_denied(rule.action, None), codes.MAPPING_CONFLICT,
                               str(exc)) from None
        if self._fixed:  # most guards fix no template value: nothing to build on their requests
            names = rule.resource.names
            clash = [name for name in params if name in names and name in self._fixed]
            if clash:
                raise _Refusal(responses.access_denied(rule.action, None), codes.MAPPING_CONFLICT,
                               f"{sorted(clash)} is both a path parameter and a fixed template value")
        try:
            return rule.resource.render({**self._fixed, **params})
        except TemplateError as exc:
            raise _Refusal(responses.bad_request(str(exc), codes.INVALID_PATH_PARAMETER),
                           codes.INVALID_PATH_PARAMETER, str(exc)) from None
        except RouteConfigError as exc:
            raise _Refusal(responses.access_denied(rule.action, None), codes.MAPPING_CONFLICT, str(exc)) from None

    def _decide(self, identity: Identity, question: Request, params: Mapping[str, str], trail: _Trail,
                rule: RouteRule, reuse: Reusable | None = None) -> Verdict:
        try:
            decision = identity.policy_set.evaluate(question)
        except Exception as exc:  # PolicySet.evaluate should not raise; deny if it does
            raise self._unavailable(exc, codes.EVALUATION_ERROR, "evaluation") from None
        if decision.error is not None:
            raise _Refusal(responses.unavailable(), codes.EVALUATION_ERROR, "the evaluator failed", decision)
        action, resource = question.action, question.resource
        if decision.allowed:
            # Read-only, so that every handler given this allow (see iamguard.web.memo) reads the
            # values that went into `resource`.
            iam = IamContext(trail.request_id, identity.principal, action, resource, decision, MappingProxyType(params),
                             identity.session, identity.source, rule=rule)
            return Verdict(True, codes.ALLOWED, iam, decision=decision, reuse=reuse)
        if fresh_mfa_would_allow(identity.policy_set, question) is not None:
            bound = required_max_age(identity.policy_set, question)
            max_age = bound if bound is not None else self.config.step_up_max_age
            response = responses.step_up(self.config.realm, max_age, self.config.step_up_endpoint, action,
                                         resource)
            raise _Refusal(response, codes.MFA_REQUIRED, decision=decision)
        explanation = decision.explain() if self.config.debug else None
        reason = codes.EXPLICIT_DENY if decision.effect is Effect.EXPLICIT_DENY else codes.IMPLICIT_DENY
        # The record says that a condition failed closed (POL-07), but not how: the error quotes
        # request values, which the audit trail does not carry; `Decision.errors` has the text.
        unevaluated = f"{len(decision.errors)} condition(s) could not be evaluated and failed closed" \
            if decision.errors else None
        raise _Refusal(responses.access_denied(action, resource, explanation), reason, unevaluated, decision)

    def _unavailable(self, exc: BaseException, fallback: str, where: str) -> _Refusal:
        reason, detail = _infrastructure(exc)
        if reason == codes.INTERNAL_ERROR:
            reason = fallback
            logger.error("iamguard: %s failed with %s", where, type(exc).__name__,
                         exc_info=(type(exc), exc, exc.__traceback__))
        return _Refusal(responses.unavailable(), reason, f"{where}: {detail}")

    # ---- finishing: audit and the last checks -------------------------------------------------

    def _failure(self, trail: _Trail, exc: BaseException) -> Verdict:
        logger.error("iamguard: the decision failed with %s", type(exc).__name__,
                     exc_info=(type(exc), exc, exc.__traceback__))
        reason, detail = _infrastructure(exc)
        return Verdict(False, reason, response=responses.unavailable(), detail=detail)

    def _finish(self, trail: _Trail, verdict: Verdict, deadline: float) -> Verdict:
        finished = time.perf_counter()
        if verdict.allowed and finished > deadline:
            verdict = Verdict(False, codes.TIMEOUT, response=responses.unavailable(), decision=verdict.decision)
        if verdict.reason in (codes.PUBLIC, codes.PREFLIGHT):  # no principal, no protected handler
            record_it = self.config.audit_public
        else:
            record_it = not verdict.allowed or self.config.audit_allows
        if not record_it or not self.auditor.wants("Allow" if verdict.allowed else "Deny"):
            return verdict
        record: AuditRecord | None = None
        try:
            record = self._record(trail, verdict, finished)
            delivered = self.auditor.emit(record)
        except Exception as exc:  # building the record failed: as good as a failing sink
            logger.error("iamguard: cannot build the audit record (%s)", type(exc).__name__)
            delivered = False
        if not delivered and verdict.allowed and self.config.require_audit:
            refused = Verdict(False, codes.AUDIT_UNAVAILABLE, response=responses.unavailable(),
                              decision=verdict.decision)
            with contextlib.suppress(Exception):
                self.auditor.emit(self._record(trail, refused, time.perf_counter()))
            return refused
        if verdict.reuse is not None and record is not None:
            verdict = dataclasses.replace(verdict, reuse=dataclasses.replace(verdict.reuse, record=record))
        return verdict

    def _record(self, trail: _Trail, verdict: Verdict, finished: float) -> AuditRecord:
        request = trail.request
        decision = verdict.decision
        return AuditRecord(
            time=self.clock.now(),
            request_id=trail.request_id,
            effect="Allow" if verdict.allowed else "Deny",
            reason=verdict.reason,
            status=verdict.status,
            principal=trail.principal,
            session_id=trail.session_id,
            action=trail.action,
            resource=trail.resource,
            statements=tuple(str(ref) for ref in decision.statements) if decision is not None else (),
            method=request.method,
            route=request.route,
            source_ip=trail.source_ip,
            user_agent=request.first_header("user-agent"),
            latency_ms=(finished - trail.started) * 1000.0,
            detail=verdict.detail,
        )


def _check_identifier_lengths(names: frozenset[str], params: Mapping[str, Any]) -> None:
    """Refuse a path value over the identifier limit that the resource would name, before any
    credential is read: an oversized identifier costs no signature check (DOS-04). Rendering the
    resource checks the same limit again, with every other rule on its values."""
    for name in names:
        value = params.get(name)
        if value is not None and len(value if isinstance(value, str) else str(value)) > MAX_PARAMETER_LENGTH:
            detail = f"path parameter {name!r} is too long"
            raise _Refusal(responses.bad_request(detail, codes.INVALID_PATH_PARAMETER), codes.INVALID_PATH_PARAMETER,
                           detail)


def _merge_provided(context: dict[str, Any], provided: Any, provider: Any) -> None:
    if not isinstance(provided, Mapping):
        raise TypeError(f"context provider {provider!r} returned {type(provided).__name__}, not a mapping")
    present = {key.lower() for key in context}
    for key, value in provided.items():
        if not isinstance(key, str):
            raise TypeError(f"context provider {provider!r} returned a non-string key")
        lowered = key.lower()
        reserved = (lowered.startswith("aws:") and not lowered.startswith(_PROVIDER_AWS_PREFIXES)) or \
            lowered.startswith("sts:")
        if reserved or lowered in present:
            raise ValueError(f"context provider {provider!r} may not set {key!r}: iamguard fills it")
        context[key] = value
        present.add(lowered)


async def _awaited(pending: Awaitable[Any]) -> Any:
    return await pending


def _run_blocking(pending: Awaitable[Any], remaining: float) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if inspect.iscoroutine(pending):
            pending.close()
        raise RuntimeError("an async hook cannot run inside Guard.check_sync on a thread with a running "
                           "event loop; use Guard.check")
    return asyncio.run(asyncio.wait_for(_awaited(pending), max(remaining, 0.001)))
