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
   retries once (and if that retry meets a step-up challenge, steps up as in 3).

Endpoint URLs may be relative; they are resolved against the request's URL. An `IamAuth` is bound
to the origin (scheme, host, port) of the first request it authenticates: a request to another
origin raises `IamAuthError` instead of carrying the token (or, with a relative `token_url`, the
secret) there, and a challenge answered by another origin (after a redirect) is returned as it
is, without asking for a code. The token and step-up requests are never redirected: their body
(the secret, the code) goes out once, so a 307/308 that would carry it on (perhaps to another
host) raises instead, and a redirected answer is refused. Request bodies are read into memory
before sending, so a streamed body can be replayed on the retry. Concurrent requests share one
exchange (and one step-up): the first does it while the others wait for its token. Token
exchange failures raise `TokenExchangeError`, a refused step-up raises `StepUpError`; secrets
never appear in either.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
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


class _LockStep:
    """Yielded by the flow to take (`acquire=True`) or give back the lock that makes concurrent
    requests share one exchange or step-up; the drivers hold it across the yielded requests."""

    def __init__(self, acquire: bool) -> None:
        self.acquire = acquire


_ACQUIRE = _LockStep(True)
_RELEASE = _LockStep(False)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    # httpx already reports a scheme's default port as None: https://a:443 and https://a agree.
    return url.scheme, url.host, url.port


def challenge_error(response: httpx.Response) -> str | None:
    """The `error` attribute of a Bearer challenge, or None."""
    header = response.headers.get("www-authenticate", "")
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    # Read as RFC 9110 section 11.2 writes auth-params, one after another from the start, so
    # that a comma or `error=` inside a quoted value (a realm, a description) is never taken for
    # a parameter of its own; a list that stops parsing says nothing after that point.
    position = 0
    while position < len(params):
        match = _AUTH_PARAM.match(params, position)
        if match is None:
            return None
        if match["name"].lower() == "error":
            quoted = match["quoted"]
            return _QUOTED_PAIR.sub(r"\1", quoted) if quoted is not None else match["token"]
        position = match.end()
    return None


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_AUTH_PARAM = re.compile(
    rf'[ \t]*,?[ \t]*(?P<name>{_TOKEN})[ \t]*=[ \t]*'
    rf'(?:(?P<token>{_TOKEN})|"(?P<quoted>(?:[^"\\]|\\.)*)")[ \t]*(?:,|$)')
_QUOTED_PAIR = re.compile(r"\\(.)")


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # local clock time after which the token is renewed
    stepped_up: bool = False  # issued by the step-up endpoint


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
        self._origin: tuple[str, str, int | None] | None = None
        # Exchanges and step-ups finished so far, and whether the last of each kind failed.
        self._attempts = {"exchange": 0, "step_up": 0}
        self._failed = {"exchange": False, "step_up": False}
        # Serialise exchanges and step-ups: a reentrant lock for threads (a sync client), one
        # asyncio lock per event loop (an asyncio lock cannot be shared between loops).
        self._sync_lock = threading.RLock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:
        who = self._login.get("access_key_id") or self._login.get("user_name")
        return f"<IamAuth {who} token_url={self.token_url!r}>"

    # ---- state --------------------------------------------------------------------------------

    def _current(self, *, stepped_up: bool = False) -> str | None:
        with self._lock:
            token = self._token
        if token is None or self.clock.time() >= token.refresh_at or (stepped_up and not token.stepped_up):
            return None
        return token.value

    def _bind(self, url: httpx.URL) -> None:
        origin = _origin(url)
        with self._lock:
            if self._origin is None:
                self._origin = origin
        if origin != self._origin:
            scheme, host, port = self._origin
            raise IamAuthError(f"this IamAuth is bound to {scheme}://{host}:{port} and sends no credentials to "
                               f"{url.scheme}://{url.host}:{origin[2]}")

    def _keep(self, response: httpx.Response, error: type[IamAuthError], sent: httpx.Request, *,
              stepped_up: bool = False) -> str:
        if response.request is not sent:  # a redirect was followed: the answer is not the endpoint's
            raise error(f"{sent.url.path} answered with a redirect; credentials are not sent on", response.status_code)
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
        if not math.isfinite(expires_in) or expires_in <= 0:  # a token already expired is never sent
            raise error("the token endpoint returned no usable expires_in", response.status_code)
        refresh_at = self.clock.time() + max(0.0, expires_in - self.refresh_margin)
        with self._lock:
            self._token = _Token(value, refresh_at, stepped_up)
        return value

    def _drop(self) -> None:
        with self._lock:
            self._token = None

    # ---- the flow shared by the sync and async drivers ----------------------------------------

    def _flow(self, request: httpx.Request) -> Generator[httpx.Request | _NeedCode | _LockStep, Any, None]:
        self._bind(request.url)
        token = self._current()
        if token is None:
            seen = self._attempts["exchange"]
            yield _ACQUIRE
            token = self._current()  # another request may have exchanged while this one waited
            if token is None:
                token = yield from self._attempt("exchange", seen, request)
            yield _RELEASE
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        refreshed = stepped_up = False  # each kind of retry happens at most once: no loop
        while response.status_code == 401 and _origin(response.request.url) == _origin(request.url):
            # (a challenge from the origin a redirect led to is not ours to answer)
            error = challenge_error(response)
            if (error == "insufficient_user_authentication" and not stepped_up and self.mfa_code is not None
                    and self.step_up_url):
                stepped_up = True
                seen = self._attempts["step_up"]
                yield _ACQUIRE
                fresh = self._current(stepped_up=True)
                if fresh is None or fresh == token:
                    fresh = yield from self._attempt("step_up", seen, request, token)
                yield _RELEASE
            elif error == "invalid_token" and not refreshed and not stepped_up:
                # a token revoked early is exchanged again once; the retry may still meet a step-up
                refreshed = True
                seen = self._attempts["exchange"]
                yield _ACQUIRE
                fresh = self._current()
                if fresh is None or fresh == token:
                    self._drop()
                    fresh = yield from self._attempt("exchange", seen, request)
                yield _RELEASE
            else:
                return
            token = fresh
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request

    def _attempt(self, kind: str, seen: int, request: httpx.Request,
                 token: str = "") -> Generator[httpx.Request | _NeedCode, Any, str]:
        """One exchange or step-up, run under the lock. If one that this request waited for failed,
        it fails too instead of trying again (n concurrent requests are one failed login, not n)."""
        error = TokenExchangeError if kind == "exchange" else StepUpError
        with self._lock:
            failed = self._attempts[kind] != seen and self._failed[kind]
        if failed:
            raise error(f"the concurrent {kind.replace('_', '-')} this request waited for failed")
        try:
            if kind == "exchange":
                sent = _credential_request(request.url.join(self.token_url), self._login, error)
            else:
                code = yield _NEED_CODE
                sent = _credential_request(request.url.join(self.step_up_url or ""), {"mfa_code": code}, error,
                                           headers={"Authorization": f"Bearer {token}"})
            value = self._keep((yield sent), error, sent, stepped_up=kind == "step_up")
        except Exception:  # not GeneratorExit: a cancelled request has not failed for the others
            self._settle(kind, failed=True)
            raise
        self._settle(kind, failed=False)
        return value

    def _settle(self, kind: str, *, failed: bool) -> None:
        with self._lock:
            self._attempts[kind] += 1
            self._failed[kind] = failed

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # a streamed body could not be sent a second time on the retry
        flow = self._flow(request)
        held = False
        try:
            item = next(flow)
            while True:
                if isinstance(item, _LockStep):
                    if item.acquire:
                        self._sync_lock.acquire()
                    else:
                        self._sync_lock.release()
                    held = item.acquire
                    item = next(flow)
                elif isinstance(item, _NeedCode):
                    try:
                        code = self._code_sync()
                    except Exception as error:  # the flow records the failure and raises it again
                        item = flow.throw(error)
                    else:
                        item = flow.send(code)
                else:
                    response = yield item
                    response.read()
                    item = flow.send(response)
        except StopIteration:
            return
        finally:
            if held:
                self._sync_lock.release()

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()  # a streamed body could not be sent a second time on the retry
        flow = self._flow(request)
        lock = self._async_lock()
        held = False
        try:
            item = next(flow)
            while True:
                if isinstance(item, _LockStep):
                    if item.acquire:
                        await lock.acquire()
                    else:
                        lock.release()
                    held = item.acquire
                    item = next(flow)
                elif isinstance(item, _NeedCode):
                    try:
                        code = await self._code_async()
                    except Exception as error:  # the flow records the failure and raises it again
                        item = flow.throw(error)
                    else:
                        item = flow.send(code)
                else:
                    response = yield item
                    await response.aread()
                    item = flow.send(response)
        except StopIteration:
            return
        finally:
            if held:
                lock.release()

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
        return lock

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


class _SentOnce(httpx.ByteStream):
    """The body of a token or step-up request. httpx sends a request's own stream again when it
    follows a 307/308 redirect, to whatever host the Location names; this stream refuses a second
    pass, so the secret or the one-time code cannot travel on. It is a `ByteStream` because
    `Request.read()` (which many transports call) swaps any other stream for a replayable copy of
    the body, and the request keeps no read content, so reading it spends the stream as well;
    `IamAuth._keep` also refuses any redirected answer."""

    def __init__(self, body: bytes, error: type[IamAuthError]) -> None:
        self._body = body
        self._error = error
        self._sent = False
        self._lock = threading.Lock()

    def _take(self) -> bytes:
        with self._lock:
            sent, self._sent = self._sent, True
        if sent:
            raise self._error("the endpoint answered with a redirect; credentials are not sent on")
        return self._body

    def __iter__(self) -> Iterator[bytes]:
        yield self._take()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._take()


def _credential_request(url: httpx.URL, body: dict[str, Any], error: type[IamAuthError],
                        headers: dict[str, str] | None = None) -> httpx.Request:
    built = httpx.Request("POST", url, json=body, headers=headers)
    # No read content is kept: a transport that calls `request.read()` takes the body from the
    # stream too, so the first send spends it and a redirect cannot send it again.
    return httpx.Request("POST", url, headers=built.headers, stream=_SentOnce(built.content, error))


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
