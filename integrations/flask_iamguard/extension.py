"""The Flask extension: a `before_request` hook that asks the guard about every request, view and
blueprint decorators, the route listing and the strict startup check."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar, overload

import click
from flask import Blueprint, Flask, Request, Response, after_this_request, current_app, g, request
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from flask_iamguard.adapter import RouteCache, flask_response, request_key, sent_method, web_request
from flask_iamguard.routing import route_entries
from iamguard import audit as codes
from iamguard.web import (
    Guard,
    IamContext,
    Rejection,
    RouteReport,
    RouteRule,
    UnmappedRoutesError,
    Verdict,
    WebRequest,
    attach_rule,
    public,
    rule,
    rules_of,
)
from iamguard.web import responses as shapes
from iamguard.web.guard import ContextProvider
from iamguard.web.memo import VerdictMemo
from iamguard.web.routes import lookup_method
from iamguard.web.wsgi import peer_and_scheme

logger = logging.getLogger("flask_iamguard")

EXTENSION_KEY = "iamguard"

# The decision for this very request. `g` belongs to the app context, which Flask reuses for every
# request while one is already pushed (`app.app_context().push()` at import time, test fixtures), so
# a decision is trusted only when it was recorded in this request's WSGI environ (spec CACHE-05),
# by this app: a view may answer with another WSGI app (a Flask app too), which Flask runs on the
# same environ, and that app's rules are not the ones this decision was made under.
_DECIDED = "iamguard.iam"
_DECIDED_BY = "iamguard.app"

_P = ParamSpec("_P")
# A view's own answer: what Flask accepts from a view (`flask.typing.ResponseReturnValue`).
_R = TypeVar("_R", bound=ResponseReturnValue)
_BlueprintT = TypeVar("_BlueprintT", bound=Blueprint)
_MarkedT = TypeVar("_MarkedT", bound="Callable[..., Any] | Blueprint")


class ViewDecorator(Protocol):
    """What `IamGuard.require(...)` returns. A blueprint comes back as itself. A view (function,
    handler method, `as_view()` function) comes back wrapped, with its own parameters; its result
    may be the guard's denial (a `Response`) instead of the view's own answer, and an `async def`
    view stays a coroutine function. A callable typed as returning an awaitable is an async view, as
    Flask types one (`flask.typing.RouteCallable`, which `View.as_view()` returns, is either)."""

    @overload
    def __call__(self, target: _BlueprintT, /) -> _BlueprintT: ...

    @overload
    def __call__(self, target: Callable[_P, _R], /) -> Callable[_P, _R | Response]: ...

    @overload
    def __call__(self, target: Callable[_P, Coroutine[Any, Any, _R]], /
                 ) -> Callable[_P, Coroutine[Any, Any, _R | Response]]: ...

    @overload
    def __call__(self, target: Callable[_P, Awaitable[_R]], /) -> Callable[_P, Awaitable[_R | Response]]: ...


def _decided() -> IamContext | None:
    environ = request.environ
    iam = environ.get(_DECIDED)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return iam if isinstance(iam, IamContext) and environ.get(_DECIDED_BY) is app else None


def _record(app: Flask, iam: IamContext | None) -> None:
    environ = request.environ
    environ[_DECIDED] = iam
    environ[_DECIDED_BY] = app
    g.iam = iam


def _private(response: Response) -> Response:
    """A Cache-Control the app set itself is left alone (spec CACHE-01)."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private"
    return response


def _keep_private(iam: IamContext | None) -> None:
    """A response allowed for a principal who signed in with a cookie (or the app's own login) is
    that principal's, and a shared cache (a reverse proxy, a CDN) may store it: mark it private.
    A Bearer request needs no mark, as RFC 9111 section 3.5 forbids shared caches to reuse answers
    to requests carrying Authorization; this keeps the common API path free of the hook. Within
    Flask, app-level caches (view decorators) run after the guard has decided."""
    if iam is not None and not iam.anonymous and iam.source != "bearer":
        after_this_request(_private)


@dataclass
class _AppState:
    """What one app needs at request time. `problems` is the strict check's result: None until
    the first request, "" when every route is mapped, else the listing of what is wrong."""

    extension: IamGuard
    guard: Guard
    strict: bool
    problems: str | None = None
    routes: RouteCache = field(default_factory=dict)
    memo: VerdictMemo | None = None  # allows given again to a repeated request (iamguard.web.memo)


def _refuse_class(target: Any) -> None:
    if isinstance(target, type):
        raise TypeError("decorate the MethodView's handler methods (or list the decorator in its "
                        "`decorators`), not the class")


def _same_params(iam: IamContext, params: dict[str, Any]) -> bool:
    """The view's arguments are the path parameters the request was authorized with (None is no
    value: `web_request` leaves it out)."""
    return dict(iam.path_params) == {name: value if isinstance(value, str) else str(value)
                                     for name, value in params.items() if value is not None}


def _overridden_method(guard: Guard | None) -> Response | None:
    """A 400 when `request.method` is no longer the method the client sent. The guard decided on
    the method sent, before any other `before_request` hook ran; a later hook that rewrites it (from
    a `_method` form field) would have a MethodView run the handler of a method never authorized
    (spec MAP-13), so it is refused as django_iamguard refuses it."""
    sent = sent_method(request)
    if request.method == sent:
        return None
    try:
        if guard is None:
            raise RuntimeError("no Guard configured to refuse a rewritten method")
        # Under the request id of the allow the hook recorded: the trail shows one request, allowed
        # and then refused.
        decided = _decided()
        verdict = guard.refuse(WebRequest(method=sent, path=request.path, client=peer_and_scheme(request.environ)[0],
                                          request_id=decided.request_id if decided is not None else None),
                               Rejection(400, codes.MALFORMED_REQUEST, "method overrides are not accepted"))
        assert verdict.response is not None
        return flask_response(verdict.response)
    except Exception as exc:  # never an allow
        return _internal_failure(guard, exc)


def _internal_failure(guard: Guard | None, exc: BaseException) -> Response:
    """iamguard's own adapter code failed (not the guard, which never raises): deny with 503 and
    leave an audit record when the guard can still write one (spec FAIL-03)."""
    logger.error("flask_iamguard: describing the request failed with %s", type(exc).__name__,
                 exc_info=(type(exc), exc, exc.__traceback__))
    if guard is not None:
        try:
            method = request.environ.get("REQUEST_METHOD", "GET")
            verdict = guard.refuse(WebRequest(method=str(method), path="/"),
                                   Rejection(503, codes.INTERNAL_ERROR, "the adapter could not read the request"))
            if verdict.response is not None:
                return flask_response(verdict.response)
        except Exception:  # the 503 below is the answer either way
            logger.error("flask_iamguard: the failure could not be audited")
    return flask_response(shapes.unavailable())


class IamGuard:
    """iamguard for Flask.

        iam = IamGuard(app, guard=Guard(credentials, tenant="123456789012", routes=[...]))
        iam = IamGuard(app, authority=credentials, tenant="123456789012")   # Guard keywords
        iam = IamGuard(guard=guard); iam.init_app(app)                        # app factories

    Every request goes through the guard before any other `before_request` hook: the route is
    Werkzeug's match (`request.url_rule`, `request.view_args`), the handler runs only on allow
    and reads the decision from `flask.g.iam`. `strict=True` refuses every request (503) while a
    route is unmapped; call `check_app(app)` in the factory to fail at startup instead.
    """

    def __init__(self, app: Flask | None = None, guard: Guard | None = None, *, strict: bool = False,
                 **guard_options: Any) -> None:
        if guard is not None and guard_options:
            raise TypeError("pass a Guard or Guard keyword options, not both")
        self.guard: Guard | None = guard if guard is not None else (Guard(**guard_options) if guard_options
                                                                    else None)
        self.strict = strict
        if app is not None:
            self.init_app(app)

    # ---- wiring ---------------------------------------------------------------------------

    def init_app(self, app: Flask, *, guard: Guard | None = None, strict: bool | None = None) -> None:
        chosen = guard if guard is not None else self.guard
        if chosen is None:
            raise TypeError("IamGuard needs a Guard: IamGuard(app, guard=...) or init_app(app, guard=...)")
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("flask_iamguard is already initialised on this app")
        state = _AppState(self, chosen, self.strict if strict is None else strict, memo=VerdictMemo.for_guard(chosen))
        app.extensions[EXTENSION_KEY] = state
        # First in line: no other hook sees a request the guard has not decided on.
        app.before_request_funcs.setdefault(None, []).insert(0, self._hook(state, app))
        app.cli.add_command(self._routes_command())

    def _state(self, app: Flask) -> _AppState | None:
        state = app.extensions.get(EXTENSION_KEY)
        return state if isinstance(state, _AppState) else None

    def guard_for(self, app: Flask) -> Guard | None:
        state = self._state(app)
        return state.guard if state is not None else self.guard

    # ---- the hook -------------------------------------------------------------------------

    def _hook(self, state: _AppState, app: Flask) -> Callable[[], Response | None]:
        """The app's before_request hook: a request equal to one allowed earlier in this second
        gets that allow again (from the app's memo); any other is decided by `_before_request`."""
        memo = state.memo
        if memo is None:
            return self._before_request

        def before_request() -> Response | None:
            # Every repeated request takes this path: it looks up no proxy it can do without.
            key = None
            try:
                current: Request = request._get_current_object()  # type: ignore[attr-defined]
                key = request_key(current)
                recalled = memo.recall(key) if key is not None else None
                if type(recalled) is IamContext:
                    # What _record does (g.iam replaces any earlier request's, CACHE-05).
                    environ = current.environ
                    environ[_DECIDED] = g._get_current_object().iam = recalled
                    environ[_DECIDED_BY] = app
                    if recalled.source != "bearer":  # Bearer answers need no mark (_keep_private)
                        _keep_private(recalled)
                    return None
            except Exception as exc:  # only the adapter's own code can raise here; never an allow
                # Nor an earlier request's decision, which a pushed app context's g still holds (CACHE-05).
                g.pop("iam", None)
                request.environ.pop(_DECIDED, None)
                return _internal_failure(state.guard, exc)
            return self._before_request(memo, key, recalled if isinstance(recalled, Verdict) else None)

        return before_request

    def _before_request(self, memo: VerdictMemo | None = None, key: Any = None, verdict: Verdict | None = None
                        ) -> Response | None:
        """Decide this request (or send `verdict`, the memo's refusal of it), and keep an allow in
        `memo` under `key`."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        app_globals = g._get_current_object()
        app_globals.pop("iam", None)  # never a previous request's decision (CACHE-05)
        if state is None or state.memo is not memo:  # a hook of another app's: cannot decide
            return _internal_failure(self.guard, RuntimeError("flask_iamguard is not initialised on this app"))
        try:
            if verdict is None:
                verdict = self._decide(app, state)
                if key is not None and memo is not None and verdict is not None:
                    memo.remember(key, verdict)
        except Exception as exc:  # only the adapter's own code can raise here; never an allow
            return _internal_failure(state.guard, exc)
        if verdict is None:
            return None
        if verdict.allowed:
            _record(app, verdict.iam)
            _keep_private(verdict.iam)
            return None
        assert verdict.response is not None
        return flask_response(verdict.response)

    def _unhooked_blueprint(self) -> Response | None:
        """A blueprint's rule is read by the app's hook; in an app where `init_app` never ran
        there is no hook, so the blueprint decides here (as the view decorators do) rather than
        leaving its views open."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        if self._state(app) is not None or _decided() is not None:
            return None  # the app's hook decided already
        return self._decide_without_hook(app, "blueprint")

    def _decide_without_hook(self, app: Flask, where: str, declared: tuple[RouteRule, ...] | None = None
                             ) -> Response | None:
        """Decide this request where the app's hook did not (no `init_app`): the denial to send,
        or None after recording the allow for this request."""
        guard = self.guard_for(app)
        if guard is None:
            return _internal_failure(None, RuntimeError(f"no Guard configured for this {where}"))
        try:
            described = web_request(request._get_current_object(), app,  # type: ignore[attr-defined]
                                    declared=declared)
        except Exception as exc:  # never an allow
            return _internal_failure(guard, exc)
        verdict = guard.check_sync(described)
        if not verdict.allowed:
            assert verdict.response is not None
            return flask_response(verdict.response)
        _record(app, verdict.iam)
        _keep_private(verdict.iam)
        return None

    def _decide(self, app: Flask, state: _AppState) -> Verdict | None:
        """The verdict, or None when Werkzeug will answer without running a view (404 or a
        trailing-slash redirect)."""
        guard = state.guard
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        if self._problems(app, state) and state.strict:
            return guard.refuse(web_request(current, app, routed=False),
                                Rejection(503, codes.INTERNAL_ERROR, "routes without an iamguard mapping"))
        if current.url_rule is not None:
            described = web_request(current, app, cache=state.routes)
            if described.method == "OPTIONS":
                # The guard answers OPTIONS itself: its Allow lists every rule at this URL, as
                # Flask's own OPTIONS answer does, not the one rule that matched (several rules
                # may share a path, one per method). Only the header reads this second match.
                methods = app.create_url_adapter(current).allowed_methods()  # type: ignore[union-attr]
                described = described.replaced(allow=", ".join(sorted(methods)))
            return guard.check_sync(described)
        described = web_request(current, app, routed=False)
        failure = current.routing_exception
        if isinstance(failure, MethodNotAllowed) and failure.valid_methods:
            # The path names a resource, with other methods: a 405 lists them (RFC 9110 15.5.6).
            described = described.replaced(allow=", ".join(sorted(failure.valid_methods)))
        rejection = guard.screen(described)
        if rejection is None and isinstance(failure, MethodNotAllowed):
            rejection = Rejection(405, codes.METHOD_NOT_ALLOWED, "method not allowed")
        if rejection is not None:
            return guard.refuse(described, rejection)
        if isinstance(failure, (NotFound, RequestRedirect)):
            return None
        return guard.check_sync(described)  # no route for a reason we do not know: unmapped, denied

    def _problems(self, app: Flask, state: _AppState) -> str:
        if state.problems is None:
            # Flask refuses new routes once it has handled a request, so one look is enough.
            problems = [report for report in state.guard.report_routes(route_entries(app)) if not report.ok]
            state.problems = str(UnmappedRoutesError(problems)) if problems else ""
            if problems:
                (logger.error if state.strict else logger.warning)("%s", state.problems)
        return state.problems

    # ---- decorators -----------------------------------------------------------------------

    def require(self, action: str, resource: str, *, methods: str | Iterable[str] | None = None,
                read_only: bool | None = None, context: Sequence[ContextProvider] = ()) -> ViewDecorator:
        """Protect a view function, a `MethodView` handler method, an `as_view()` function or a
        whole blueprint (a default for every view in it that has no rule of its own)."""
        item = rule(action, resource, methods=methods, read_only=read_only, context=context)

        def apply(target: Any) -> Any:
            if isinstance(target, Blueprint):
                attach_rule(target, item)
                hooks = target.before_request_funcs.setdefault(None, [])
                if self._unhooked_blueprint not in hooks:
                    hooks.insert(0, self._unhooked_blueprint)
                return target
            _refuse_class(target)
            return self._enforcing(item, target)

        return apply

    @overload
    def public(self, target: _MarkedT, *, methods: str | Iterable[str] | None = None) -> _MarkedT: ...

    @overload
    def public(self, target: None = None, *, methods: str | Iterable[str] | None = None
               ) -> Callable[[_MarkedT], _MarkedT]: ...

    def public(self, target: Any = None, *, methods: str | Iterable[str] | None = None) -> Any:
        """`@iam.public` or `@iam.public(methods=...)` on a view, a handler method or a blueprint:
        no authentication, the anonymous principal."""
        item = public(methods=methods)

        def mark(endpoint: Any) -> Any:
            _refuse_class(endpoint)  # a rule on the class is read by no route: it would open nothing
            attach_rule(endpoint, item)
            return endpoint

        return mark(target) if target is not None else mark

    def _enforcing(self, item: RouteRule, view: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a view so that it runs only for a request authorized with its rule and with the
        very parameters it is called with, also when the hook is not installed."""
        extension = self

        def authorize(enforced: Callable[..., Any], kwargs: dict[str, Any]) -> Response | None:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            overridden = _overridden_method(extension.guard_for(app))
            if overridden is not None:
                return overridden
            existing = _decided()
            if existing is None:  # the hook did not run for this app: decide here
                denied = extension._decide_without_hook(app, "view", rules_of(enforced))
                if denied is not None:
                    return denied
                existing = _decided()
            assert isinstance(existing, IamContext)
            if not item.covers(lookup_method(sent_method(request))):
                return None
            if existing.rule is item and _same_params(existing, kwargs):
                return None
            logger.error("flask_iamguard: the view was called for a request authorized with another rule "
                         "or other path parameters")
            return flask_response(shapes.access_denied(item.action, None))

        if inspect.iscoroutinefunction(view):
            @functools.wraps(view)
            async def enforced_async(*args: Any, **kwargs: Any) -> Any:
                denied = authorize(enforced_async, kwargs)
                return denied if denied is not None else await view(*args, **kwargs)

            attach_rule(enforced_async, item)
            return enforced_async

        @functools.wraps(view)
        def enforced(*args: Any, **kwargs: Any) -> Any:
            denied = authorize(enforced, kwargs)
            return denied if denied is not None else view(*args, **kwargs)

        attach_rule(enforced, item)
        return enforced

    # ---- route listing --------------------------------------------------------------------

    def report(self, app: Flask | None = None) -> list[RouteReport]:
        """Every (method, route) of the app with the rule that applies; unmapped ones flagged."""
        target = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
        guard = self.guard_for(target)
        if guard is None:
            raise TypeError("no Guard configured for this app")
        return guard.report_routes(route_entries(target))

    def check_app(self, app: Flask | None = None) -> list[RouteReport]:
        """The strict check as a call (for app factories): raises UnmappedRoutesError."""
        reports = self.report(app)
        problems = [report for report in reports if not report.ok]
        if problems:
            raise UnmappedRoutesError(problems)
        return reports

    def _routes_command(self) -> click.Command:
        extension = self

        @click.command("iam-routes", help="List every route with its iamguard mapping.")
        @click.option("--strict", is_flag=True, help="Exit with status 1 when a route is unmapped.")
        @with_appcontext
        def routes(strict: bool) -> None:
            reports = extension.report()
            for report in reports:
                click.echo(str(report))
            if strict and any(not report.ok for report in reports):
                raise SystemExit(1)

        return routes
