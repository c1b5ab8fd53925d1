"""The Django app: add "django_iamguard" to INSTALLED_APPS to get the system checks and the
`iam_routes` management command."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class IamGuardConfig(AppConfig):
    name = "django_iamguard"
    verbose_name = "iamguard"

    def ready(self) -> None:
        from django_iamguard.checks import check_iamguard

        checks.register(check_iamguard, checks.Tags.urls, "iamguard")
