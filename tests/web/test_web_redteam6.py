"""Red-team round 6 regressions: the httpx client's credential requests and redirects.

httpx follows a redirect inside an `Auth` flow with the client's own `follow_redirects`, and on
307/308 it sends the request's body again, to whatever host the Location names. The token and
step-up requests carry the access-key secret and the one-time code in their body, so a redirect
from the API's origin (an open redirect, a moved endpoint, a misconfigured proxy) used to hand them
to another host, and a token from the redirect's target was then used against the API. The
transports here read the request stream as a network transport does (httpx's MockTransport reads
the body through a cache, which a real connection never uses).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from iamguard.client import IamAuth, IamAuthError, StepUpError, TokenExchangeError
from iamguard.clock import FrozenClock

API = "https://api.example"
ELSEWHERE = "https://collector.example"
SECRET = "secret-access-key-value-rt6"
CODE = "246810"
STEP_UP = 'Bearer error="insufficient_user_authentication", max_age=300'


class RedirectingServer:
    """The API answers one of its credential endpoints with a redirect to another host; that host
    hands out a token of its own. Every request (with the body as transmitted) is logged."""

    def __init__(self, status: int, redirected: str) -> None:
        self.status = status
        self.redirected = redirected  # "/auth/token" or "/auth/step-up"
        self.log: list[tuple[str, str, str | None, bytes]] = []

    def answer(self, request: httpx.Request, body: bytes) -> httpx.Response:
        self.log.append((request.method, str(request.url), request.headers.get("authorization"), body))
        if request.url.host != "api.example":
            return httpx.Response(200, json={"token": "foreign-token", "expires_in": 3600})
        path = request.url.path
        if path == self.redirected:
            return httpx.Response(self.status, headers={"location": f"{ELSEWHERE}/collect"})
        if path == "/auth/token":
            return httpx.Response(200, json={"token": "plain-token", "expires_in": 3600})
        if path == "/auth/step-up":
            return httpx.Response(200, json={"token": "mfa-token", "expires_in": 3600})
        if request.headers.get("authorization") != "Bearer mfa-token":
            return httpx.Response(401, headers={"www-authenticate": STEP_UP})
        return httpx.Response(200)

    def foreign(self) -> list[tuple[str, str, str | None, bytes]]:
        return [entry for entry in self.log if entry[1].startswith(ELSEWHERE)]

    def tokens_sent_to_the_api(self) -> set[str | None]:
        return {entry[2] for entry in self.log if entry[1].startswith(API)}


class NetworkTransport(httpx.BaseTransport):
    def __init__(self, server: RedirectingServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.server.answer(request, b"".join(request.stream))  # type: ignore[union-attr]


class AsyncNetworkTransport(httpx.AsyncBaseTransport):
    def __init__(self, server: RedirectingServer) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        return self.server.answer(request, body)


def _auth() -> IamAuth:
    return IamAuth("/auth/token", "AKIAEXAMPLE", SECRET, step_up_url="/auth/step-up", mfa_code=lambda: CODE,
                   clock=FrozenClock())


def _call(server: RedirectingServer, *, use_async: bool) -> BaseException | httpx.Response:
    """DELETE /orders/1 with a client that follows redirects; the exception it raised or the response."""
    if use_async:
        async def run() -> httpx.Response:
            async with httpx.AsyncClient(transport=AsyncNetworkTransport(server), auth=_auth(),
                                         follow_redirects=True) as client:
                return await client.delete(f"{API}/orders/1")

        try:
            return asyncio.run(run())
        except Exception as exc:
            return exc
    with httpx.Client(transport=NetworkTransport(server), auth=_auth(), follow_redirects=True) as client:
        try:
            return client.delete(f"{API}/orders/1")
        except Exception as exc:
            return exc


REDIRECTS: list[tuple[str, int, type[IamAuthError]]] = [
    (endpoint, status, TokenExchangeError if endpoint == "/auth/token" else StepUpError)
    for endpoint in ("/auth/token", "/auth/step-up")
    for status in (301, 302, 303, 307, 308)
]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("endpoint", "status", "error"), REDIRECTS,
                         ids=[f"{row[0].rsplit('/', 1)[1]}-{row[1]}" for row in REDIRECTS])
def test_a_redirected_credential_request_carries_nothing_on_and_is_refused(
        endpoint: str, status: int, error: type[IamAuthError], use_async: bool) -> None:
    server = RedirectingServer(status, endpoint)
    outcome = _call(server, use_async=use_async)
    # 307/308 used to send the secret (or the code) to the other host; 301/302/303 send no body,
    # but the other host's token was then used against the API.
    assert all(SECRET.encode() not in body and CODE.encode() not in body for *_, body in server.foreign())
    assert "Bearer foreign-token" not in server.tokens_sent_to_the_api()
    assert isinstance(outcome, error), outcome
    assert SECRET not in str(outcome) and CODE not in str(outcome)


def test_without_redirects_the_credential_flow_still_works() -> None:
    # The control row: the same server with no redirect on its endpoints steps up and retries.
    server = RedirectingServer(307, "/nowhere")
    outcome: Any = _call(server, use_async=False)
    assert isinstance(outcome, httpx.Response) and outcome.status_code == 200
    assert [entry[1] for entry in server.log] == [
        f"{API}/auth/token", f"{API}/orders/1", f"{API}/auth/step-up", f"{API}/orders/1"]
    assert server.foreign() == []


def test_a_redirect_answer_without_following_names_its_status() -> None:
    server = RedirectingServer(307, "/auth/token")
    with httpx.Client(transport=NetworkTransport(server), auth=_auth()) as client, \
            pytest.raises(TokenExchangeError) as raised:
        client.get(f"{API}/orders/1")
    assert raised.value.status == 307 and server.foreign() == []
