"""Red-team regressions for the VerdictMemo in django_iamguard.

A request recalled before routing whose routing then turns out different (a later middleware chose
another URLconf) is decided anew; that decision must read the request as the server gave it, as
the full path does, and not `request.META` as a later middleware rewrote it (here: REMOTE_ADDR
taken from a client-sent X-Forwarded-For), or a forged source address decides it (CTX-01, CACHE-04).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django_iamguard.decorators import iam_required

from iamguard.web import Guard
from tests.credentials.conftest import Env, build_env
from tests.web.memo_support import ORDER, TENANT, DenialsOnly, session_tokens

INVOICE = "arn:app:orders::{tenant}:invoice/{order_id}"
INTERNAL = "10.0.0.5"
SWITCH = {"other": False}
SEEN: list[str] = []


@iam_required("orders:GetOrder", ORDER, methods="GET")
def order(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append("order")
    return JsonResponse({"order": order_id})


@iam_required("orders:GetInvoice", INVOICE, methods="GET")
def invoice(request: HttpRequest, order_id: str) -> HttpResponse:
    SEEN.append("invoice")
    return JsonResponse({"invoice": order_id})


urlpatterns = [path("orders/<str:order_id>", order)]


class InvoiceUrlconf:
    urlpatterns = [path("orders/<str:order_id>", invoice)]


class ForwardedFor:
    """A later middleware that trusts X-Forwarded-For (a common Django recipe)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            request.META["REMOTE_ADDR"] = forwarded.split(",")[0].strip()
        return self.get_response(request)


class Switch:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if SWITCH["other"]:
            request.urlconf = InvoiceUrlconf  # type: ignore[attr-defined]
        return self.get_response(request)


HERE = __name__
MIDDLEWARE = ["django_iamguard.middleware.IamGuardMiddleware", f"{HERE}.ForwardedFor", f"{HERE}.Switch"]
INVOICES_FROM_INSIDE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetInvoice", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": f"{INTERNAL}/32"}}}]}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Env, dict[str, str]]]:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    env.directory.put_user_policy("alice", "invoices", INVOICES_FROM_INSIDE)
    SWITCH["other"] = False
    SEEN.clear()
    yield env, tokens
    SWITCH["other"] = False


@pytest.mark.parametrize("reuse", [True, False])
def test_a_recalled_request_routed_elsewhere_is_decided_on_the_server_s_peer(
        site: tuple[Env, dict[str, str]], reuse: bool) -> None:
    env, tokens = site
    guard = Guard(env.creds, tenant=TENANT, audit=DenialsOnly(), clock=env.clock, reuse_allows=reuse)
    with override_settings(ROOT_URLCONF=HERE, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
        client = Client(REMOTE_ADDR="192.0.2.10")
        headers = {"Authorization": f"Bearer {tokens['alice']}", "X-Forwarded-For": INTERNAL}
        assert client.get("/orders/1", headers=headers).status_code == 200
        SWITCH["other"] = True  # the same request, in the same second, now routes to the invoice view
        answer = client.get("/orders/1", headers=headers)
    # The server's peer is 192.0.2.10, outside the network the invoice policy allows.
    assert answer.status_code == 403
    assert SEEN == ["order"]
