"""The routes of django_urls.py with async views."""

from __future__ import annotations

from tests.integrations import django_views
from tests.integrations.django_urls import build

urlpatterns = build(django_views.async_view, django_views.AsyncLines, django_views.AsyncHandled)
