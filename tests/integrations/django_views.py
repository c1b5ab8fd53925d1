"""Views for the Django adapter tests, in a sync and an async flavour with identical routes (see
django_urls.py and django_async_urls.py). Protected views record what they received in CALLS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from django_iamguard.decorators import iam_public, iam_required
from django_iamguard.mixins import IamRequiredMixin

from iamguard.web import Guard
from tests.integrations.support import FILE, ORDER, Calls, stub_guard

CALLS = Calls()
Body = Callable[..., HttpResponse]


def default_guard() -> Guard:
    return stub_guard()[0]


def _described(request: HttpRequest, name: str, params: dict[str, Any]) -> JsonResponse:
    CALLS.hit(name, params)
    iam = getattr(request, "iam", None)
    return JsonResponse({"principal": iam.principal if iam else None, "resource": iam.resource if iam else None,
                         "params": dict(iam.path_params) if iam else None, "received": {
                             key: str(value) for key, value in params.items()}})


def order_body(request: HttpRequest, order_id: Any) -> HttpResponse:
    name = "delete_order" if request.method == "DELETE" else "get_order"
    return _described(request, name, {"order_id": order_id})


def files_body(request: HttpRequest, path: str) -> HttpResponse:
    return _described(request, "files", {"path": path})


def slashed_body(request: HttpRequest, item: str) -> HttpResponse:
    return _described(request, "slashed", {"item": item})


def admin_body(request: HttpRequest) -> HttpResponse:
    return _described(request, "admin", {})


def health_body(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok", "anonymous": request.iam.anonymous})  # type: ignore[attr-defined]


def area_body(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"area": True, "anonymous": request.iam.anonymous})  # type: ignore[attr-defined]


def sync_view(body: Body) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return body(request, *args, **kwargs)

    view.__name__ = view.__qualname__ = body.__name__.replace("_body", "")
    return view


def async_view(body: Body) -> Callable[..., Any]:
    async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return body(request, *args, **kwargs)

    view.__name__ = view.__qualname__ = body.__name__.replace("_body", "") + "_async"
    return view


def views(flavour: Callable[[Body], Callable[..., Any]]) -> dict[str, Any]:
    """One set of views in the given flavour (sync_view or async_view)."""
    return {
        "order": iam_required("orders:GetOrder", ORDER, methods="GET")(flavour(order_body)),
        "files": iam_required("orders:GetOrder", FILE, methods="GET")(flavour(files_body)),
        "slashed": iam_required("orders:GetOrder", "arn:app:orders::{tenant}:order/{item}")(flavour(slashed_body)),
        "regex": iam_required("orders:GetOrder", ORDER)(flavour(order_body)),
        "admin": flavour(admin_body),
        "health": flavour(health_body),
        "area": flavour(area_body),
        "public_page": iam_public(flavour(area_body)),
    }


class Lines(IamRequiredMixin, View):
    http_method_names = ["get", "post", "options", "head"]
    iam_action = {"get": "orders:ListOrders", "post": "orders:CreateOrder"}
    iam_resource = ORDER

    def get(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "lines", {"order_id": order_id})

    def post(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "add_line", {"order_id": order_id})


class AsyncLines(IamRequiredMixin, View):
    http_method_names = ["get", "post", "options", "head"]
    iam_action = {"get": "orders:ListOrders", "post": "orders:CreateOrder"}
    iam_resource = ORDER

    async def get(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "lines", {"order_id": order_id})

    async def post(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "add_line", {"order_id": order_id})


class Handled(View):
    """Rules on the handler methods themselves."""

    @iam_required("orders:GetOrder", ORDER, methods="GET")
    def get(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "handled", {"order_id": order_id})


class AsyncHandled(View):
    @iam_required("orders:GetOrder", ORDER, methods="GET")
    async def get(self, request: HttpRequest, order_id: str) -> HttpResponse:
        return _described(request, "handled", {"order_id": order_id})


class Tamper:
    """A middleware placed after iamguard's that changes the parameters the view will receive."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if "order_id" in kwargs:
            kwargs["order_id"] = "999"


class FakeLogin:
    """Stands for django.contrib.auth's AuthenticationMiddleware in resolver tests: the user is the
    one named by the test's `x-test-user` header (a session lookup in a real app)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        name = request.headers.get("x-test-user")
        request.user = _User(name)  # type: ignore[attr-defined]
        return self.get_response(request)


class _User:
    def __init__(self, name: str | None) -> None:
        self.username = name or ""
        self.is_authenticated = name is not None
