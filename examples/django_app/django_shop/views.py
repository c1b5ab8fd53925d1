"""The four operations and the health check.

- `/orders`: one function view for GET (list) and POST (create), mapped in the guard's route map;
- `/orders/<order_id>`: an async class-based view whose actions come from `IamRequiredMixin`;
- `/health`: `@iam_public(methods="GET")`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # examples/, for common.py

from common import DELETE, READ, read_new_order
from django_iamguard.decorators import iam_public
from django_iamguard.mixins import IamRequiredMixin

from django_shop.shop import current


@csrf_exempt
def orders(request: HttpRequest) -> HttpResponse:
    shop = current()
    if request.method == "POST":
        shop.on_call("create_order", {})
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            payload = None
        fields = read_new_order(payload)
        if fields is None:
            return JsonResponse({"error": "ValidationError", "message": "send {item, quantity}"}, status=400)
        return JsonResponse(shop.book.create(*fields), status=201)
    shop.on_call("list_orders", {})
    return JsonResponse({"orders": shop.book.list(), "principal": request.iam.principal})  # type: ignore[attr-defined]


class OrderView(IamRequiredMixin, View):
    http_method_names = ["get", "delete", "head", "options"]
    iam_action = {"get": READ[0], "delete": DELETE[0]}
    iam_resource = READ[1]

    async def get(self, request: HttpRequest, order_id: str) -> HttpResponse:
        shop = current()
        shop.on_call("get_order", {"order_id": order_id})
        order = shop.book.get(order_id)
        if order is None:
            return JsonResponse({"error": "NotFound"}, status=404)
        return JsonResponse(order)

    async def delete(self, request: HttpRequest, order_id: str) -> HttpResponse:
        shop = current()
        shop.on_call("delete_order", {"order_id": order_id})
        if not shop.book.delete(order_id):
            return JsonResponse({"error": "NotFound"}, status=404)
        return HttpResponse(status=204)


@iam_public(methods="GET")  # HEAD is decided as GET; any other method is refused before the view
@require_safe
def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
