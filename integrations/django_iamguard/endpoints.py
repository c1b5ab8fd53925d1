"""The token endpoints (exchange, role assumption, step-up) as Django URL patterns.

    urlpatterns = [path("auth/", include(auth_urlpatterns(credentials))), ...]

The handlers are the framework-neutral ones in `iamguard.web.endpoints`; these views only read
the body (at most 16 KiB) and the TCP peer (the server's `REMOTE_ADDR` or ASGI client, as the
guard reads it: the per-source limit applies the guard's own trusted proxies) and translate the
answer. They are public views (they authenticate the
caller themselves, and answer 405 to anything but POST) exempt from Django's CSRF check: they
never read cookies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from django_iamguard.adapter import django_response, web_request
from django_iamguard.conf import get_guard
from django_iamguard.decorators import iam_public
from django_iamguard.enforce import logger
from django_iamguard.routing import set_view_methods
from iamguard import audit as codes
from iamguard.web import Rejection, WebResponse
from iamguard.web.endpoints import ALLOWED_METHODS, MAX_BODY, AuthEndpoints
from iamguard.web.network import TrustedProxies
from iamguard.web.responses import method_not_allowed
from iamguard.web.throttle import DEFAULT_SOURCE_LIMIT, SourceLimit

Handler = Callable[..., WebResponse]  # (headers, body, peer, *, scheme): an AuthEndpoints handler


def _bounded_body(request: HttpRequest, limit: int) -> bytes | None:
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _method_refused(request: HttpRequest) -> HttpResponse:
    """The 405 for a method other than POST, audited as the guard audits the 405s it answers in
    Starlette and Flask (spec LOG-02): the view answers it here only because Django routes every
    method to a function view."""
    head = request.method == "HEAD"
    try:
        verdict = get_guard().refuse(web_request(request).replaced(allow=ALLOWED_METHODS),
                                     Rejection(405, codes.METHOD_NOT_ALLOWED, "method not allowed"))
        if verdict.response is not None:
            return django_response(verdict.response, head=head)
    except Exception:  # the 405 below is the answer either way
        logger.error("django_iamguard: the refused method could not be audited")
    return django_response(method_not_allowed(ALLOWED_METHODS), head=head)


def _view(handler: Handler, endpoints: AuthEndpoints, name: str) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @iam_public  # every method reaches the view, which answers 405 to all but POST, as Flask and Starlette do
    def run(request: HttpRequest) -> HttpResponse:
        if request.method != ALLOWED_METHODS:
            return _method_refused(request)
        body = _bounded_body(request, MAX_BODY)
        described = web_request(request, routed=False)
        if body is None:
            return django_response(endpoints.too_large(described.headers, described.client, scheme=described.scheme,
                                                       endpoint=name))
        return django_response(handler(described.headers, body, described.client, scheme=described.scheme))

    run.__name__ = handler.__name__
    set_view_methods(run, (ALLOWED_METHODS,))  # for the route listing and the middleware's 405s
    return run


def auth_urlpatterns(credentials: Any, *, source_limit: SourceLimit | None = DEFAULT_SOURCE_LIMIT,
                     trusted_proxies: Sequence[str] | TrustedProxies = ()) -> list[URLPattern]:
    """The three views; pass the guard's `trusted_proxies` so the per-source limit counts the
    same client address."""
    handlers = AuthEndpoints(credentials, source_limit=source_limit, trusted_proxies=trusted_proxies)
    return [
        path("token", _view(handlers.token, handlers, "token"), name="iamguard_token"),
        path("assume-role", _view(handlers.assume_role, handlers, "assume-role"), name="iamguard_assume_role"),
        path("step-up", _view(handlers.step_up, handlers, "step-up"), name="iamguard_step_up"),
    ]
