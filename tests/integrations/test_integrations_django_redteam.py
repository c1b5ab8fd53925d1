"""Red-team regressions for django_iamguard: Django's per-site cache never answers for the guard,
and the system checks refuse stacks that silently drop a protection (the middleware itself, and
CSRF for Django session logins)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import Client, override_settings
from django_iamguard.resolvers import user_resolver

from iamguard.web import Login
from tests.integrations.django_views import CALLS
from tests.integrations.support import stub_guard
from tests.web.stubs import ALICE, WRITER, StubDirectory

URLS = "tests.integrations.django_urls"
SECURITY = "django.middleware.security.SecurityMiddleware"
IAM = "django_iamguard.middleware.IamGuardMiddleware"
COMMON = "django.middleware.common.CommonMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
LOGIN = "tests.integrations.django_views.FakeLogin"
# Django's documented order for the per-site cache: UpdateCache first, FetchFromCache last.
CACHED = ["django.middleware.cache.UpdateCacheMiddleware", SECURITY, IAM, COMMON,
          "django.middleware.cache.FetchFromCacheMiddleware"]


def _cache(location: str) -> dict[str, Any]:
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}}


@pytest.mark.parametrize(("name", "change", "status"), [
    ("token revoked", lambda authority: authority.sessions.pop("reader"), 401),
    ("policy replaced", lambda authority: authority.sessions.update(
        reader=(authority.sessions["reader"][0], ())), 403),
])
def test_the_per_site_cache_never_replays_a_protected_response(name: str, change: Any, status: int) -> None:
    guard, sink, authority = stub_guard()
    reader = {"authorization": "Bearer reader"}
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=CACHED, IAMGUARD={"GUARD": guard}, CACHES=_cache(name)):
        CALLS.clear()
        client = Client()
        first = client.get("/orders/5", headers=reader)
        assert first.status_code == 200 and "private" in first.headers["cache-control"]
        change(authority)
        again = client.get("/orders/5", headers=reader)
    assert again.status_code == status
    assert b"principal" not in again.content
    assert CALLS.names == ["get_order"]
    assert len(sink.records) == 2 and sink.records[-1].effect == "Deny"


def test_public_answers_stay_cacheable() -> None:
    guard, _, _ = stub_guard()
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=CACHED, IAMGUARD={"GUARD": guard},
                           CACHES=_cache("public")):
        response = Client().get("/health")
    assert response.status_code == 200 and "private" not in response.headers.get("cache-control", "")


def _login_guard() -> Any:
    directory = StubDirectory({ALICE: (WRITER,)})
    resolver = user_resolver(lambda user: Login(ALICE) if user.is_authenticated else None)
    return stub_guard(directory=directory, resolver=resolver)[0]


@pytest.mark.parametrize(("stack", "login", "expected"), [
    ([SECURITY, IAM, COMMON], False, set()),
    ([SECURITY, COMMON], False, {"iamguard.E003"}),
    ([], False, {"iamguard.E003"}),
    ([SECURITY, LOGIN, IAM, COMMON], True, {"iamguard.E004"}),
    ([SECURITY, LOGIN, CSRF, IAM, COMMON], True, set()),
    ([SECURITY, LOGIN, IAM, CSRF, COMMON], True, set()),  # either order: both process_view hooks run
    ([SECURITY, LOGIN, COMMON], True, {"iamguard.E003", "iamguard.E004"}),
], ids=["complete", "no-middleware", "empty", "login-without-csrf", "login-csrf-first", "login-csrf-after",
        "login-neither"])
def test_checks_refuse_stacks_that_drop_a_protection(stack: list[str], login: bool, expected: set[str]) -> None:
    guard = _login_guard() if login else stub_guard()[0]
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=stack, IAMGUARD={"GUARD": guard}):
        found = [message for message in checks.run_checks(tags=["iamguard"]) if message.id != "iamguard.W002"]
    assert {message.id for message in found} == expected
    assert all(message.is_serious() for message in found)


def test_with_csrf_middleware_a_cross_site_post_on_a_django_login_never_runs_the_view() -> None:
    """What E004 asks for: with CsrfViewMiddleware, a cross-site POST carrying the login is refused
    even though the guard allows the principal."""
    guard = _login_guard()
    stack = [SECURITY, LOGIN, IAM, CSRF, COMMON]
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=stack, IAMGUARD={"GUARD": guard}):
        CALLS.clear()
        client = Client(enforce_csrf_checks=True)
        forged = client.post("/orders/7/lines", headers={"x-test-user": "alice", "origin": "https://evil.example"})
        read = client.get("/orders/7/lines", headers={"x-test-user": "alice"})
    assert forged.status_code == 403 and read.status_code == 200
    assert CALLS.names == ["lines"]
