"""Settings for the orders example. No sessions, cookies or Django auth: clients authenticate
with iamguard bearer tokens, so Django's CSRF middleware has nothing to protect here (keep it if
you enable cookie sessions)."""

from __future__ import annotations

import os
import secrets

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django_iamguard"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_iamguard.middleware.IamGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "django_shop.urls"
WSGI_APPLICATION = "django_shop.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

IAMGUARD = {"GUARD": "django_shop.shop.build_guard", "STRICT": True}
ORDERS_DB = os.environ.get("ORDERS_DB", "demo.db")
