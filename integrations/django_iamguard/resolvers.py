"""A principal resolver for apps that log users in with `django.contrib.auth`.

    Guard(directory=directory, resolver=user_resolver(
        lambda user: f"arn:aws:iam::123456789012:user/{user.username}" if user.is_authenticated else None))

`principal_for(user)` returns the iamguard principal ARN (or a `Login` carrying the time the
user last passed MFA, a server-side fact), or None for an anonymous user. Under ASGI the user
is loaded and `principal_for` runs in a worker thread, as Django's ORM requires.
`AuthenticationMiddleware` must come before `IamGuardMiddleware`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async

from iamguard.web import Login, WebRequest

PrincipalFor = Callable[[Any], "str | Login | None"]
# Set on the resolvers built here: their login is Django's (a session cookie, ambient), so the
# system checks require CsrfViewMiddleware (spec CSRF-01).
DJANGO_LOGIN = "__iamguard_django_login__"


def _principal(native: Any, principal_for: PrincipalFor) -> str | Login | None:
    if native is None or not hasattr(native, "user"):
        raise RuntimeError("request.user is missing: put AuthenticationMiddleware before IamGuardMiddleware")
    return principal_for(native.user)


def user_resolver(principal_for: PrincipalFor) -> Callable[[WebRequest], str | Login | Awaitable[Any] | None]:
    def resolve(request: WebRequest) -> str | Login | Awaitable[Any] | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _principal(request.native, principal_for)
        return sync_to_async(_principal, thread_sensitive=True)(request.native, principal_for)

    setattr(resolve, DJANGO_LOGIN, True)
    return resolve
