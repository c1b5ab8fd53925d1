"""URLconfs and middleware for the Django VerdictMemo tests: the same path routed to an order view,
or (by a later middleware, after django_iamguard's middleware has read the request) to an invoice
view with another rule, as a host- or tenant-routing middleware would; and a later middleware
that trusts X-Forwarded-For (a common Django recipe)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django_iamguard.decorators import iam_required

from tests.web.memo_support import ORDER

INVOICE = "arn:app:orders::{tenant}:invoice/{order_id}"
SEEN: list[tuple[str, Any]] = []  # (view, request.iam) of every view call
# What Later does, read outside anything a request carries: "" nothing, "invoice" route to the
# invoice view, "limit" answer 429 itself (no view runs).
LATER = {"mode": ""}


@iam_required("orders:GetOrder", ORDER, methods="GET")
def order(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append(("order", request.iam))  # type: ignore[attr-defined]
    return JsonResponse({"order": order_id})


@iam_required("orders:GetInvoice", INVOICE, methods="GET")
def invoice(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append(("invoice", request.iam))  # type: ignore[attr-defined]
    return JsonResponse({"invoice": order_id})


urlpatterns = [path("orders/<str:order_id>", order)]


class InvoiceUrlconf:  # a URLconf need not be a module, only hashable with `urlpatterns`
    urlpatterns = [path("orders/<str:order_id>", invoice)]


class ForwardedFor:
    """Takes REMOTE_ADDR from a client-sent X-Forwarded-For: what the guard must not believe."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            request.META["REMOTE_ADDR"] = forwarded.split(",")[0].strip()
        return self.get_response(request)


class Later:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if LATER["mode"] == "limit":
            return HttpResponse(status=429)
        if LATER["mode"] == "invoice":
            request.urlconf = InvoiceUrlconf  # type: ignore[attr-defined]
        return self.get_response(request)


MIDDLEWARE = ["django_iamguard.middleware.IamGuardMiddleware", f"{__name__}.ForwardedFor", f"{__name__}.Later"]


def reset() -> None:
    SEEN.clear()
    LATER["mode"] = ""
