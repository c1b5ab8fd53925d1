"""URLconfs for the Django VerdictMemo tests: the same path routed to two different views, and a
middleware that picks one of them after django_iamguard's middleware has run (as a
host- or tenant-routing middleware would)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django_iamguard.decorators import iam_required

SEEN: list[Any] = []  # the request.iam of every view call
SWITCH = {"other": False}  # read by SwitchUrlconf: outside anything a request carries


def order(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append(request.iam)  # type: ignore[attr-defined]
    return JsonResponse({"order": order_id})


@iam_required("orders:GetInvoice", "arn:app:orders::{tenant}:invoice/{order_id}", methods="GET")
def other_order(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append(request.iam)  # type: ignore[attr-defined]
    return JsonResponse({"other": order_id})


urlpatterns = [path("orders/<str:order_id>", order)]


class OtherUrlconf:  # a URLconf need not be a module, only hashable with `urlpatterns`
    urlpatterns = [path("orders/<str:order_id>", other_order)]



class SwitchUrlconf:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if SWITCH["other"]:
            request.urlconf = OtherUrlconf  # type: ignore[attr-defined]
        return self.get_response(request)
