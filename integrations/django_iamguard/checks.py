"""System checks (`manage.py check`, and every `runserver` start): the IAMGUARD setting is usable
and every route of the URLconf has a mapping (spec MAP-11). With `STRICT` an unmapped route is an
error, which stops `runserver` and fails `check --fail-level ERROR` in CI; otherwise a warning."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver

from django_iamguard import conf
from django_iamguard.routing import route_entries


def route_reports(urlconf: str | None = None, current: conf.IamGuardSettings | None = None) -> list[Any]:
    """Every (method, route) of the URLconf with its mapping; `RouteReport.ok` is False for the
    unmapped and misconfigured ones."""
    current = current or conf.load()
    resolver = get_resolver(urlconf or settings.ROOT_URLCONF)
    entries = route_entries(resolver.url_patterns, current.guard.routes, current.public_namespaces)
    return current.guard.report_routes(entries)


def check_iamguard(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        current = conf.load()
        reports = route_reports()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="iamguard.E001")]
    level, code = (checks.Error, "iamguard.E002") if current.strict else (checks.Warning, "iamguard.W002")
    return [level(f"{report.method} {report.path}: {report.problem}", obj=report.name or report.path,
                  hint="map it in the guard's routes, decorate the view, or mark it public", id=code)
            for report in reports if not report.ok]
