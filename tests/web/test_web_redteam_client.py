"""Red-team regressions for `iamguard.client.IamAuth`: origin binding, replayable streamed
bodies, one exchange (and one step-up) for many concurrent requests, no secret in a repr.

A small fake iamguard server stands behind transports that consume the request stream the way
a network transport does (without caching it), so a body that cannot be replayed shows.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from iamguard.client import IamAuth, IamAuthError, TokenExchangeError
from iamguard.clock import FrozenClock

API = "https://api.example"
SECRET = "secret-access-key-value"
STEP_UP = 'Bearer error="insufficient_user_authentication", max_age=300'


class FakeServer:
    """Token endpoint, step-up endpoint and a few protected routes, recording every request."""

    def __init__(self, *, token_delay: float = 0.0) -> None:
        self.log: list[tuple[str, str, str | None, bytes]] = []
        self.token_delay = token_delay
        self.exchanges = 0
        self.step_ups = 0
        self.revoked: set[str] = set()
        self._lock = threading.Lock()

    def answer(self, request: httpx.Request, body: bytes) -> httpx.Response:
        authorization = request.headers.get("authorization")
        with self._lock:
            self.log.append((request.method, str(request.url), authorization, body))
        path = request.url.path
        if path == "/auth/token":
            with self._lock:
                self.exchanges += 1
                token = f"plain-token-{self.exchanges}"
            return httpx.Response(200, json={"token": token, "expires_in": 3600})
        if path == "/auth/step-up":
            with self._lock:
                self.step_ups += 1
                token = f"mfa-token-{self.step_ups}"
            return httpx.Response(200, json={"token": token, "expires_in": 3600})
        if path == "/away":
            return httpx.Response(307, headers={"location": "https://other.example/mfa"})
        token = (authorization or "").removeprefix("Bearer ")
        if token in self.revoked:
            return httpx.Response(401, headers={"www-authenticate": 'Bearer error="invalid_token"'})
        if path == "/mfa" and not token.startswith("mfa-token-"):
            return httpx.Response(401, headers={"www-authenticate": STEP_UP})
        return httpx.Response(200, content=body)

    def sent_to(self, prefix: str) -> list[tuple[str, str, str | None, bytes]]:
        return [entry for entry in self.log if entry[1].startswith(prefix)]


class StreamingTransport(httpx.BaseTransport):
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.server.token_delay and request.url.path == "/auth/token":
            time.sleep(self.server.token_delay)  # widens the window in which threads could race
        return self.server.answer(request, b"".join(request.stream))  # type: ignore[union-attr]


class AsyncStreamingTransport(httpx.AsyncBaseTransport):
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        for _ in range(3):  # let every other request of a gather() reach this point first
            await asyncio.sleep(0)
        return self.server.answer(request, body)


def make_auth(asked: list[int] | None = None, *, token_url: str = "/auth/token") -> IamAuth:
    asked = asked if asked is not None else []

    def code() -> str:
        asked.append(1)
        return "123456"

    return IamAuth(token_url, "AKIAEXAMPLE", SECRET, step_up_url="/auth/step-up", mfa_code=code, clock=FrozenClock())


# ---- origin binding --------------------------------------------------------------------------

@pytest.mark.parametrize("elsewhere", [
    "https://evil.example/mfa",        # another host
    "http://api.example/mfa",          # another scheme
    "https://api.example:8443/mfa",    # another port
    "https://sub.api.example/mfa",     # a subdomain is another origin too
])
@pytest.mark.parametrize("expired", [False, True], ids=["token-held", "token-expired"])
def test_no_credential_or_code_goes_to_another_origin(elsewhere: str, expired: bool) -> None:
    server = FakeServer()
    asked: list[int] = []
    auth = make_auth(asked)
    with httpx.Client(transport=StreamingTransport(server), auth=auth) as client:
        assert client.get(f"{API}/ok").status_code == 200  # binds the auth to the API's origin
        if expired:  # the relative token URL would now send the secret to the other origin
            auth.clock.advance(7200)  # type: ignore[attr-defined]
        with pytest.raises(IamAuthError) as raised:
            client.get(elsewhere)
    assert server.sent_to(elsewhere.rsplit("/", 1)[0] + "/") == []
    assert asked == []
    assert SECRET not in str(raised.value)


def test_an_absolute_token_url_on_another_host_is_allowed_and_tokens_stay_on_the_api() -> None:
    server = FakeServer()
    auth = make_auth(token_url="https://login.example/auth/token")
    with httpx.Client(transport=StreamingTransport(server), auth=auth) as client:
        assert client.get(f"{API}/ok").status_code == 200
        with pytest.raises(IamAuthError):
            client.get("https://login.example/ok")
    assert [entry[1] for entry in server.log] == ["https://login.example/auth/token", f"{API}/ok"]


def test_a_challenge_from_the_origin_a_redirect_led_to_is_not_answered() -> None:
    server = FakeServer()
    asked: list[int] = []
    with httpx.Client(transport=StreamingTransport(server), auth=make_auth(asked), follow_redirects=True) as client:
        response = client.get(f"{API}/away")
    assert response.status_code == 401 and str(response.url) == "https://other.example/mfa"
    assert asked == [] and server.step_ups == 0 and server.exchanges == 1


# ---- streamed bodies are replayed on the retry ---------------------------------------------

def test_a_streamed_body_is_sent_again_after_a_step_up_sync() -> None:
    server = FakeServer()

    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    with httpx.Client(transport=StreamingTransport(server), auth=make_auth()) as client:
        response = client.post(f"{API}/mfa", content=chunks())
    assert response.status_code == 200 and response.content == b"hello world"
    assert [body for _, url, _, body in server.log if url.endswith("/mfa")] == [b"hello world", b"hello world"]


def test_a_streamed_body_is_sent_again_after_a_step_up_async() -> None:
    server = FakeServer()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncStreamingTransport(server), auth=make_auth()) as client:
            return await client.post(f"{API}/mfa", content=chunks())

    response = asyncio.run(run())
    assert response.status_code == 200 and response.content == b"hello world"
    assert [body for _, url, _, body in server.log if url.endswith("/mfa")] == [b"hello world", b"hello world"]


# ---- concurrency: one exchange, one step-up, one re-exchange ------------------------------

def _gather(server: FakeServer, auth: IamAuth, path: str, count: int,
            before: Callable[[], None] | None = None) -> list[int]:
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=AsyncStreamingTransport(server), auth=auth) as client:
            if before is not None:
                assert (await client.get(f"{API}/ok")).status_code == 200
                before()
            responses = await asyncio.gather(*[client.get(f"{API}{path}") for _ in range(count)])
        return [response.status_code for response in responses]

    return asyncio.run(run())


@pytest.mark.parametrize(("path", "revoke_first", "exchanges", "step_ups", "codes"), [
    ("/ok", False, 1, 0, 0),    # cold start: one exchange for all
    ("/mfa", False, 1, 1, 1),   # one step-up challenge shared by all
    ("/ok", True, 2, 0, 0),     # the token is revoked: one re-exchange for all
])
def test_concurrent_async_requests_share_one_exchange_and_one_step_up(
        path: str, revoke_first: bool, exchanges: int, step_ups: int, codes: int) -> None:
    server = FakeServer()
    asked: list[int] = []
    statuses = _gather(server, make_auth(asked), path, 10,
                       before=(lambda: server.revoked.add("plain-token-1")) if revoke_first else None)
    assert statuses == [200] * 10
    assert (server.exchanges, server.step_ups, len(asked)) == (exchanges, step_ups, codes)


def test_concurrent_threads_share_one_exchange() -> None:
    server = FakeServer(token_delay=0.05)
    auth = make_auth()
    statuses: list[int] = []
    start = threading.Barrier(6)
    with httpx.Client(transport=StreamingTransport(server), auth=auth) as client:
        def call() -> None:
            start.wait()
            statuses.append(client.get(f"{API}/ok").status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 6 and server.exchanges == 1


# ---- what the client accepts and what it shows ----------------------------------------------

@pytest.mark.parametrize("expires_in", [b"NaN", b"Infinity"])
def test_a_token_answer_without_a_finite_lifetime_is_refused(expires_in: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"token": "t1", "expires_in": ' + expires_in + b"}",
                              headers={"content-type": "application/json"})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=make_auth()) as client, \
            pytest.raises(TokenExchangeError):
        client.get(f"{API}/ok")


def test_no_secret_in_the_repr_of_the_auth_or_its_state() -> None:
    server = FakeServer()
    auth = IamAuth("/auth/token", user_name="alice", password="correct-horse-battery", clock=FrozenClock())
    with httpx.Client(transport=StreamingTransport(server), auth=auth) as client:
        assert client.get(f"{API}/ok").status_code == 200
    shown = repr(auth) + repr(vars(auth).get("_token"))
    assert "_Token(" in shown
    assert "correct-horse-battery" not in shown and "plain-token-1" not in shown
