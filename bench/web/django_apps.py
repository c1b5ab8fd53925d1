"""The Django hello-world app, bare or behind django_iamguard's middleware, as WSGI handlers.

Django has one settings object per process. When nothing configured it yet, this module does
(minimal settings); either way the bench's own values (URLconf, hosts, the IAMGUARD guard, the
middleware list) are applied with `override_settings` for as long as a `DjangoSite` is open, so
the bench coexists with tests that configured Django for themselves.
"""

from __future__ import annotations

import secrets
from typing import Any

IAMGUARD_MIDDLEWARE = "django_iamguard.middleware.IamGuardMiddleware"
BASE_SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "INSTALLED_APPS": ["django_iamguard"],
    "DATABASES": {},
    "USE_TZ": True,
    "LOGGING_CONFIG": None,  # keep the process's logging as it is
}


def _configure() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(SECRET_KEY=secrets.token_urlsafe(50), **BASE_SETTINGS)
        django.setup()


class DjangoSite:
    """`bare` and `protected` WSGI handlers over one URLconf; `close()` restores the settings."""

    def __init__(self, guard: Any) -> None:
        _configure()
        from django.core.handlers.wsgi import WSGIHandler
        from django.test.utils import override_settings

        # Both handlers read MIDDLEWARE when built; the guard setting is read on each request.
        self._settings = override_settings(ROOT_URLCONF="bench.web.django_urls",
                                           ALLOWED_HOSTS=["bench.local"], IAMGUARD={"GUARD": guard},
                                           MIDDLEWARE=[])
        self._settings.enable()
        try:
            self.bare = WSGIHandler()
            with override_settings(MIDDLEWARE=[IAMGUARD_MIDDLEWARE]):
                self.protected = WSGIHandler()
        except BaseException:
            self._settings.disable()
            raise

    def guarded_by(self, guard: Any) -> Any:
        """A context in which both handlers read `guard` from the IAMGUARD setting."""
        from django.test.utils import override_settings

        return override_settings(IAMGUARD={"GUARD": guard})

    def close(self) -> None:
        self._settings.disable()
