"""URLconf of the Django hello-world app (ROOT_URLCONF while the bench's Django clients exist)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.web.tenant import HELLO


def hello(request: HttpRequest, order_id: str) -> HttpResponse:
    return HttpResponse(HELLO, content_type="text/plain")


urlpatterns = [path("orders/<str:order_id>", hello)]
