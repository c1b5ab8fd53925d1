"""System checks (`manage.py check`, and every `runserver` start): the IAMGUARD setting is usable
and every route of the URLconf has a mapping (spec MAP-11). With `STRICT` an unmapped route is an
error, which stops `runserver` and fails `check --fail-level ERROR` in CI; otherwise a warning."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver
from django.utils.module_loading import import_string

from django_iamguard import conf
from django_iamguard.resolvers import DJANGO_LOGIN
from django_iamguard.routing import route_entries

_MIDDLEWARE = "django_iamguard.middleware.IamGuardMiddleware"
_CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"


def route_reports(urlconf: str | ModuleType | None = None, current: conf.IamGuardSettings | None = None) -> list[Any]:
    """Every (method, route) of the URLconf with its mapping; `RouteReport.ok` is False for the
    unmapped and misconfigured ones."""
    current = current or conf.load()
    resolver = get_resolver(urlconf or settings.ROOT_URLCONF)
    entries = route_entries(resolver.url_patterns, current.guard.routes, current.public_namespaces)
    return current.guard.report_routes(entries)


def _installed(dotted: str) -> bool:
    """`dotted`, or a subclass of it, is listed in MIDDLEWARE."""
    wanted = import_string(dotted)
    for entry in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            found = import_string(entry) if isinstance(entry, str) else None
        except ImportError:  # Django itself reports an unimportable middleware
            continue
        if isinstance(found, type) and issubclass(found, wanted):
            return True
    return False


def _stack_problems(current: conf.IamGuardSettings) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    if not _installed(_MIDDLEWARE):
        # The decorators still check their own views, but route-map rules, PUBLIC_NAMESPACES and
        # the deny for unmapped routes (spec MAP-11) live in the middleware alone.
        problems.append(checks.Error(f"{_MIDDLEWARE} is not in MIDDLEWARE: route-map rules are not enforced and "
                                     "unmapped routes run unchecked", id="iamguard.E003"))
    if getattr(current.guard.resolver, DJANGO_LOGIN, False) and not _installed(_CSRF_MIDDLEWARE):
        # Django's login rides on the session cookie, which browsers attach to cross-site
        # requests; the guard checks Origin only for its own cookie (spec CSRF-01).
        problems.append(checks.Error(f"user_resolver authenticates with Django's session cookie, but "
                                     f"{_CSRF_MIDDLEWARE} is not in MIDDLEWARE: cross-site requests would act "
                                     "as the user", id="iamguard.E004"))
    return problems


def check_iamguard(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        current = conf.load()
        reports = route_reports()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="iamguard.E001")]
    except Exception as exc:  # the guard factory (the app's code) failed: a check error, not a traceback
        return [checks.Error(f"IAMGUARD: building the guard failed with {type(exc).__name__}: {exc}",
                             hint="see the GUARD factory named in settings.IAMGUARD", id="iamguard.E001")]
    level, code = (checks.Error, "iamguard.E002") if current.strict else (checks.Warning, "iamguard.W002")
    return [*_stack_problems(current),
            *(level(f"{report.method} {report.path}: {report.problem}", obj=report.name or report.path,
                    hint="map it in the guard's routes, decorate the view, or mark it public", id=code)
              for report in reports if not report.ok)]
