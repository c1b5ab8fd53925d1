"""Django is configured once, when this directory's tests are collected (its modules import
Django views at import time). Tests change what they need with `override_settings`; no other
test directory uses Django."""

from tests.integrations.support import configure_django

configure_django()
