"""Checks that run inside a view (decorators and the class-based-view mixin): accept the
middleware's decision when it was made for this view's rule and these exact parameters, decide
here when no middleware ran, refuse anything else."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from django_iamguard.adapter import django_response, route_parameters, sent_method, web_request
from django_iamguard.conf import get_guard
from iamguard import audit as codes
from iamguard.web import Guard, IamContext, Rejection, RouteRule, Verdict, WebRequest, WebResponse
from iamguard.web import responses as shapes
from iamguard.web.routes import lookup_method

logger = logging.getLogger("django_iamguard")


def refusal(request: HttpRequest, response: WebResponse) -> HttpResponse:
    return django_response(response, head=sent_method(request) == "HEAD")


def internal_failure(guard: Guard | None, request: HttpRequest, exc: BaseException) -> HttpResponse:
    """iamguard's own adapter code (or its configuration) failed, not the guard, which never
    raises: deny with 503 and leave an audit record when a guard can still write one (FAIL-03)."""
    logger.error("django_iamguard: the request could not be described to the guard (%s)", type(exc).__name__,
                 exc_info=(type(exc), exc, exc.__traceback__))
    if guard is not None:
        try:
            verdict = guard.refuse(WebRequest(method=sent_method(request), path="/"),
                                   Rejection(503, codes.INTERNAL_ERROR, "the adapter could not read the request"))
            if verdict.response is not None:
                return refusal(request, verdict.response)
        except Exception:  # the 503 below is the answer either way
            logger.error("django_iamguard: the failure could not be audited")
    return refusal(request, shapes.unavailable())


def answer(request: HttpRequest, verdict: Verdict) -> HttpResponse | None:
    """None (run the view, `request.iam` set) for an allow, else the guard's response."""
    if verdict.allowed:
        request.iam = verdict.iam
        return None
    assert verdict.response is not None
    return refusal(request, verdict.response)


def find_request(args: tuple[Any, ...]) -> HttpRequest:
    """The request among a view's positional arguments (after `self` for handler methods)."""
    for argument in args:
        if isinstance(argument, HttpRequest):
            return argument
    raise TypeError("django_iamguard: the protected view received no HttpRequest")


def overridden_method(request: HttpRequest) -> HttpResponse | None:
    """A 400 when `request.method` is no longer the method the client sent. Django dispatches on
    `request.method` (View.dispatch, require_http_methods), and the guard decides on the method
    sent: a middleware that rewrites it (from a `_method` form field, which screening cannot see
    in the body) would run the DELETE handler of a request authorized as POST (spec MAP-13)."""
    if request.method == sent_method(request):
        return None
    guard: Guard | None = None
    try:
        guard = get_guard()
        # Under the request id of the allow the middleware recorded, if it decided already: the
        # trail shows one request, allowed and then refused.
        decided = getattr(request, "iam", None)
        address = request.META.get("REMOTE_ADDR")
        verdict = guard.refuse(WebRequest(method=sent_method(request), path=request.path_info,
                                          client=address if isinstance(address, str) and address else None,
                                          request_id=decided.request_id if isinstance(decided, IamContext) else None),
                               Rejection(400, codes.MALFORMED_REQUEST, "method overrides are not accepted"))
        assert verdict.response is not None
        return refusal(request, verdict.response)
    except Exception as exc:  # never an allow
        return internal_failure(guard, request, exc)


def _covering(rules: tuple[RouteRule, ...], request: HttpRequest) -> RouteRule | None:
    method = lookup_method(sent_method(request))
    return next((item for item in rules if item.covers(method)), None)


def _captured(request: HttpRequest, kwargs: Mapping[str, Any]) -> dict[str, str] | None:
    match = getattr(request, "resolver_match", None)
    names = route_parameters(match).keys() if match is not None else kwargs.keys()
    if any(name not in kwargs for name in names):
        return None
    return {name: value if isinstance(value, str) else str(value)
            for name, value in kwargs.items() if name in names}


def verify(request: HttpRequest, rules: tuple[RouteRule, ...], kwargs: Mapping[str, Any]) -> HttpResponse | None:
    """The decision on `request.iam` must be for the rule these `rules` give the method, and for
    the parameters the view is about to receive (spec MAP-01), and for the method it dispatches on."""
    overridden = overridden_method(request)
    if overridden is not None:
        return overridden
    item = _covering(rules, request)
    if item is None:
        return None
    existing = getattr(request, "iam", None)
    if isinstance(existing, IamContext) and existing.rule is item and \
            _captured(request, kwargs) == dict(existing.path_params):
        return None
    logger.error("django_iamguard: the view was called for a request authorized with another rule or other "
                 "path parameters")
    return refusal(request, shapes.access_denied(item.action, None))


def _describe(request: HttpRequest, declared: tuple[RouteRule, ...]) -> tuple[Guard, WebRequest] | HttpResponse:
    guard: Guard | None = None
    try:
        guard = get_guard()
        return guard, web_request(request, declared=declared, routes=guard.routes)
    except Exception as exc:  # never an allow
        return internal_failure(guard, request, exc)


def authorize_sync(request: HttpRequest, declared: tuple[RouteRule, ...], rules: tuple[RouteRule, ...],
                   kwargs: Mapping[str, Any]) -> HttpResponse | None:
    if not isinstance(getattr(request, "iam", None), IamContext):  # no middleware: decide here
        described = _describe(request, declared)
        if isinstance(described, HttpResponse):
            return described
        guard, web = described
        refused = answer(request, guard.check_sync(web))
        if refused is not None:
            return refused
    return verify(request, rules, kwargs)


async def authorize_async(request: HttpRequest, declared: tuple[RouteRule, ...], rules: tuple[RouteRule, ...],
                          kwargs: Mapping[str, Any]) -> HttpResponse | None:
    if not isinstance(getattr(request, "iam", None), IamContext):  # no middleware: decide here
        described = _describe(request, declared)
        if isinstance(described, HttpResponse):
            return described
        guard, web = described
        refused = answer(request, await guard.check(web))
        if refused is not None:
            return refused
    return verify(request, rules, kwargs)
