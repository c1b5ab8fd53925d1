"""Routes for the Django adapter tests (sync views); django_async_urls.py has the same routes with
async views."""

from __future__ import annotations

from typing import Any

from django.urls import include, path, re_path

from tests.integrations import django_views


def build(flavour: Any, lines: Any, handled: Any) -> list[Any]:
    views = django_views.views(flavour)
    area = ([path("page", views["area"]), path("open", views["public_page"])], "area")
    return [
        path("orders/<str:order_id>", views["order"]),
        path("orders/<str:order_id>/lines", lines.as_view()),
        path("handled/<str:order_id>", handled.as_view()),
        path("files/<path:path>", views["files"]),
        path("slashed/<str:item>/", views["slashed"]),
        re_path(r"^re/(?P<order_id>[0-9]+)\.json$", views["regex"]),
        path("health", views["health"]),
        path("admin", views["admin"]),
        path("area/", include(area, namespace="area")),
    ]


urlpatterns = build(django_views.sync_view, django_views.Lines, django_views.Handled)
