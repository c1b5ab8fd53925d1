"""The Django middleware: every request is screened, every resolved request is decided by the
guard before its view runs, for sync and async stacks alike.

Place it early in `MIDDLEWARE` (right after `SecurityMiddleware`; after `AuthenticationMiddleware`
when a principal resolver reads `request.user`). Requests the resolver cannot match are screened
(400/405 for ambiguous targets and methods) and then left to Django: a 404, or `CommonMiddleware`'s
`APPEND_SLASH` redirect, neither of which runs a view (spec MAP-08).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control

from django_iamguard import conf
from django_iamguard.adapter import connection_key, connection_request, route_witness, unrouted_allow, with_route
from django_iamguard.checks import route_reports
from django_iamguard.enforce import answer, internal_failure, logger, overridden_method, refusal
from iamguard import audit as codes
from iamguard.web import Guard, IamContext, Rejection, UnmappedRoutesError, Verdict, WebRequest
from iamguard.web.wsgi import environ_of_key


def strict_problems(settings_: conf.IamGuardSettings, urlconf: str | ModuleType) -> str:
    """"" when every route of `urlconf` has a usable mapping, else the listing of the problems."""

    def compute() -> str:
        problems = [report for report in route_reports(urlconf, settings_) if not report.ok]
        text = str(UnmappedRoutesError(problems)) if problems else ""
        if text:
            (logger.error if settings_.strict else logger.warning)("%s", text)
        return text

    return conf.remembered_problems(settings_.guard, urlconf, compute)


def _private(request: HttpRequest, response: Any) -> Any:
    """A response the guard allowed for a principal is that principal's: never stored by a shared
    cache. Django's per-site cache (`FetchFromCacheMiddleware`) answers a hit before any
    `process_view` runs, so a stored copy would be served with no decision at all, after a
    revocation or to another caller (spec CACHE-01)."""
    iam = getattr(request, "iam", None)
    if isinstance(iam, IamContext) and not iam.anonymous and isinstance(response, HttpResponseBase):
        if response.has_header("Cache-Control"):
            patch_cache_control(response, private=True)
        else:  # what patch_cache_control writes then, without parsing a header that is not there
            response["Cache-Control"] = "private"
    return response


class IamGuardMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
            # Django adapts process_view to the handler's mode by looking at the method itself.
            self.process_view = self._process_view_async  # type: ignore[method-assign]
        conf.load()  # a missing or wrong IAMGUARD setting stops the server at startup

    # ---- before routing: screening --------------------------------------------------------

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        refused = self._screen(request)
        return refused if refused is not None else _private(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        refused = self._screen(request)
        return refused if refused is not None else _private(request, await self.get_response(request))

    def _screen(self, request: HttpRequest) -> HttpResponse | None:
        guard: Guard | None = None
        try:
            current = conf.load()
            guard = current.guard
            # A dotted path or, as Django's resolver also accepts, the module itself: never str()'d.
            urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
            if current.memo is not None:
                connection = connection_key(request)
                if connection is not None:
                    key = request._iamguard_key = (connection, urlconf)
                    recalled = current.memo.recall_witnessed(key)
                    if recalled is not None:
                        # This very request passed screening (a function of the request alone) and
                        # was allowed earlier in this second; process_view checks the routing, and
                        # only then is the allow given (and audited).
                        request._iamguard_recalled = (current.memo, recalled)
                        return None
            described = connection_request(request)
            # Kept for process_view: the decision then reads the request as the server gave it,
            # under WSGI as under ASGI, whatever later middleware does to request.META.
            request._iamguard_connection = described
            if strict_problems(current, urlconf) and current.strict:
                rejection: Rejection | None = Rejection(503, codes.INTERNAL_ERROR, "routes without an iamguard mapping")
            else:
                rejection = guard.screen(described)
                if rejection is not None and rejection.status == 405:
                    # Refused before Django resolves the path; the 405 still lists the methods of
                    # the route the path names (RFC 9110 15.5.6).
                    described = described.replaced(allow=unrouted_allow(request, urlconf, guard.routes))
        except Exception as exc:  # only the adapter's own code can raise here; never an allow
            return internal_failure(guard, request, exc)
        if rejection is None:
            return None
        verdict = guard.refuse(described, rejection)
        assert verdict.response is not None
        return refusal(request, verdict.response)

    # ---- after routing: the decision ------------------------------------------------------

    def _described(self, request: HttpRequest) -> tuple[Guard, Any] | HttpResponse:
        guard: Guard | None = None
        try:
            current = conf.load()
            guard = current.guard
            base = getattr(request, "_iamguard_connection", None)
            if not isinstance(base, WebRequest):
                base = connection_request(request, _environ_as_screened(request))
            return guard, with_route(base, request, guard.routes, public_namespaces=current.public_namespaces)
        except Exception as exc:  # never an allow
            return internal_failure(guard, request, exc)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
                     ) -> HttpResponse | None:
        ready = self._before_deciding(request)
        if not isinstance(ready, tuple):
            return ready
        guard, web = ready
        return answer(request, _remembered(request, guard.check_sync(web)))

    async def _process_view_async(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
                                  ) -> HttpResponse | None:
        ready = self._before_deciding(request)
        if not isinstance(ready, tuple):
            return ready
        guard, web = ready
        return answer(request, _remembered(request, await guard.check(web)))

    def _before_deciding(self, request: HttpRequest) -> HttpResponse | tuple[Guard, WebRequest] | None:
        """What `process_view` answers without a decision (a refused method override; a remembered
        allow, None: run the view, or its refusal), else the guard and the request to decide."""
        overridden = overridden_method(request)  # before a recall too: the memo key holds the sent method
        if overridden is not None:
            return overridden
        recalled = _recalled(request)
        if recalled is not None:
            return _given(request, recalled)
        return self._described(request)


def _environ_as_screened(request: HttpRequest) -> dict[str, Any] | None:
    """For a request recalled before routing and then decided anew (its routing differed): under
    WSGI, the environ as the server gave it (kept in the memo key), not as later middleware may
    have rewritten request.META since."""
    key = request.__dict__.get("_iamguard_key")
    if key is None or key[0][0] != "wsgi":
        return None
    return environ_of_key(key[0][1])


def _recalled(request: HttpRequest) -> IamContext | Verdict | None:
    """The allow recalled before routing, when it holds for the route Django resolved (see
    `VerdictMemo.give`): audited only now, so a request routed elsewhere (or never dispatched)
    leaves no allow in the audit trail. None: the request is decided as usual."""
    recalled = request.__dict__.pop("_iamguard_recalled", None)
    if recalled is None:
        return None
    memo, (iam, witness, entry) = recalled
    try:
        if witness is None or witness != route_witness(request):
            return None
    except Exception:  # a routing result that cannot be compared: decide anew
        return None
    return memo.give(iam, entry)


def _given(request: HttpRequest, recalled: IamContext | Verdict) -> HttpResponse | None:
    """As `answer`: None (run the view, `request.iam` set) for a recalled allow, else the refusal
    its audit turned it into."""
    if isinstance(recalled, IamContext):
        request.iam = recalled
        return None
    return answer(request, recalled)


def _remembered(request: HttpRequest, verdict: Verdict) -> Verdict:
    """`verdict`, kept in the memo (when it may be) under the key read before routing."""
    key = request.__dict__.get("_iamguard_key")
    if key is not None and verdict.reuse is not None:
        try:
            memo = conf.load().memo
            if memo is not None:
                memo.remember(key, verdict, route_witness(request))
        except Exception:  # not remembered: the next request is decided anew
            logger.error("django_iamguard: an allow could not be remembered")
    return verdict
