"""An httpx `Auth` for APIs protected by iamguard (sync and async clients alike).

    auth = IamAuth("/auth/token", access_key_id, secret_access_key,
                   step_up_url="/auth/step-up", mfa_code=lambda: input("MFA code: "))
    with httpx.Client(base_url="https://shop.example", auth=auth) as http:
        http.delete("/orders/1001")

What it does for every request:
1. when it holds no session token, or the token expires within `refresh_margin` seconds, it
   exchanges the access key (or user name and password) for one at the token endpoint;
2. it sends the request with `Authorization: Bearer <token>`;
3. on `401 ... error="insufficient_user_authentication"` (RFC 9470) it asks `mfa_code()` for a
   TOTP code (the callback may be async with an async client), trades it for a fresh session at
   the step-up endpoint and retries the request once;
4. on `401 ... error="invalid_token"` (revoked or expired early) it exchanges the key again and
   retries once.

Endpoint URLs may be relative; they are resolved against each request's URL. Request bodies
must be replayable (bytes, not streams) for the retries. Token exchange failures raise
`TokenExchangeError`, a refused step-up raises `StepUpError`; secrets never appear in either.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from iamguard.clock import SYSTEM_CLOCK, Clock

CodeSource = Callable[[], "str | Awaitable[str]"]


class IamAuthError(Exception):
    """Authentication with the iamguard endpoints failed. `status` and `error` come from the
    server's answer (never a secret)."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class TokenExchangeError(IamAuthError):
    pass


class StepUpError(IamAuthError):
    pass


class _NeedCode:
    """Yielded by the flow when it needs a TOTP code from the app."""


_NEED_CODE = _NeedCode()


def challenge_error(response: httpx.Response) -> str | None:
    """The `error` attribute of a Bearer challenge, or None."""
    header = response.headers.get("www-authenticate", "")
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    for part in params.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "error":
            return value.strip().strip('"')
    return None


@dataclass
class _Token:
    value: str
    refresh_at: float  # local clock time after which the token is renewed


class IamAuth(httpx.Auth):
    requires_response_body = True

    def __init__(self, token_url: str, access_key_id: str | None = None, secret_access_key: str | None = None, *,
                 user_name: str | None = None, password: str | None = None, step_up_url: str | None = None,
                 mfa_code: CodeSource | None = None, refresh_margin: float = 60.0,
                 duration_seconds: int | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        if (access_key_id is None) == (user_name is None):
            raise ValueError("give an access key (access_key_id, secret_access_key) or user_name and password")
        if access_key_id is not None:
            self._login: dict[str, Any] = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        else:
            self._login = {"user_name": user_name, "password": password}
        if duration_seconds is not None:
            self._login["duration_seconds"] = duration_seconds
        self.token_url = token_url
        self.step_up_url = step_up_url
        self.mfa_code = mfa_code
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        who = self._login.get("access_key_id") or self._login.get("user_name")
        return f"<IamAuth {who} token_url={self.token_url!r}>"

    # ---- state --------------------------------------------------------------------------------

    def _current(self) -> str | None:
        with self._lock:
            token = self._token
        if token is None or self.clock.time() >= token.refresh_at:
            return None
        return token.value

    def _keep(self, response: httpx.Response, error: type[IamAuthError]) -> str:
        if response.status_code != 200:
            code = _error_code(response)
            raise error(f"{response.request.url.path} answered {response.status_code} {code or ''}".strip(),
                        response.status_code, code)
        try:
            data = response.json()
            value, expires_in = data["token"], float(data["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise error("the token endpoint's answer cannot be read", response.status_code) from None
        if not isinstance(value, str) or not value:
            raise error("the token endpoint returned no token", response.status_code)
        refresh_at = self.clock.time() + max(0.0, expires_in - self.refresh_margin)
        with self._lock:
            self._token = _Token(value, refresh_at)
        return value

    def _drop(self) -> None:
        with self._lock:
            self._token = None

    # ---- the flow shared by the sync and async drivers ----------------------------------------

    def _flow(self, request: httpx.Request) -> Generator[httpx.Request | _NeedCode, Any, None]:
        token = self._current()
        if token is None:
            token = self._keep((yield self._exchange(request)), TokenExchangeError)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        error = challenge_error(response)
        if error == "insufficient_user_authentication" and self.mfa_code is not None and self.step_up_url:
            code = yield _NEED_CODE
            step_up = httpx.Request("POST", request.url.join(self.step_up_url), json={"mfa_code": code},
                                    headers={"Authorization": f"Bearer {token}"})
            token = self._keep((yield step_up), StepUpError)
        elif error == "invalid_token":
            self._drop()
            token = self._keep((yield self._exchange(request)), TokenExchangeError)
        else:
            return
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _exchange(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request("POST", request.url.join(self.token_url), json=self._login)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        try:
            item = next(flow)
            while True:
                if isinstance(item, _NeedCode):
                    item = flow.send(self._code_sync())
                    continue
                response = yield item
                response.read()
                item = flow.send(response)
        except StopIteration:
            return

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        try:
            item = next(flow)
            while True:
                if isinstance(item, _NeedCode):
                    item = flow.send(await self._code_async())
                    continue
                response = yield item
                await response.aread()
                item = flow.send(response)
        except StopIteration:
            return

    def _code_sync(self) -> str:
        assert self.mfa_code is not None
        code = self.mfa_code()
        if inspect.isawaitable(code):
            if inspect.iscoroutine(code):
                code.close()
            raise StepUpError("an async mfa_code callback needs an async client")
        return _checked_code(code)

    async def _code_async(self) -> str:
        assert self.mfa_code is not None
        code = self.mfa_code()
        if inspect.isawaitable(code):
            code = await code
        return _checked_code(code)


def _checked_code(code: object) -> str:
    if not isinstance(code, str) or not code:
        raise StepUpError("the mfa_code callback returned no code")
    return code


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else None


__all__ = ["IamAuth", "IamAuthError", "StepUpError", "TokenExchangeError", "challenge_error"]
