"""Laws of `iamguard.client.IamAuth`, as hypothesis properties over generated request sequences.

A fake iamguard server (token endpoint, step-up endpoint, protected routes answering every kind of
401) stands behind httpx's mock transport, on the same controllable clock as the client; the
redirect law also runs against servers that redirect the API and the credential endpoints to the
same and to other origins, and one law runs against the Starlette example app through the ASGI
transport. Laws:
1. a request is retried at most once after a step-up and at most once after a refresh: no loop;
2. the secret, the password, the TOTP code and the session token never reach another origin;
3. no token is sent after its expiry by the client's clock; it is refreshed before expiry when
   the margin allows, and not refreshed when it need not be;
4. concurrent async requests share one exchange and one step-up;
5. errors are the documented exceptions (or the app's own callback error) or the server's
   response, and the code callback is asked only on a step-up challenge.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples.common import Seeded, seed
from examples.starlette_app import create_app as create_starlette_app
from iamguard.client import IamAuth, IamAuthError, StepUpError, TokenExchangeError, challenge_error
from iamguard.clock import FrozenClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

API = "https://api.example"
SECRET = "secret-access-key-Xq9"
PASSWORD = "correct-horse-Zr7"
CODE = "654321"
MARGIN = 60.0
OTHER_ORIGINS = ["https://evil.example", "https://api.example:8443", "http://api.example", "https://sub.api.example"]

CHALLENGES = {
    "step_up": 'Bearer error="insufficient_user_authentication"',
    "step_up_max_age": 'Bearer error="insufficient_user_authentication", max_age=300',
    "step_up_quoted_realm": 'Bearer realm="a, error=x", error="insufficient_user_authentication"',
}
NOT_CHALLENGES = {  # 401s the client must hand back as they are, without asking for a code
    "plain": 'Bearer realm="api"',
    "basic": 'Basic realm="api", error="insufficient_user_authentication"',
    "in_a_quoted_value": 'Bearer error_description="error=insufficient_user_authentication"',
    "unterminated": 'Bearer error="insufficient_user_authentication',
    "no_value": "Bearer error=",
    "garbage": "Bearer ,,,=====",
    "empty": "",
    "other_error": 'Bearer error="insufficient_scope"',
}
INVALID_TOKEN = 'Bearer error="invalid_token"'


class Boom(Exception):
    """What a failing code callback raises."""


class Looping(Exception):
    """Raised by the fake server when one call sends more requests than any flow may."""


@dataclass
class Issued:
    at: float
    expires_in: float
    stepped_up: bool
    revoked: bool = False


@dataclass
class Sent:
    url: str
    authorization: str | None
    body: bytes
    at: float
    status: int = 0
    challenge: str = ""


@dataclass
class FakeServer:
    """Token and step-up endpoints plus protected routes, on the client's clock."""

    clock: FrozenClock
    expires_in: float = 3600.0
    token_answer: str = "ok"  # ok | refused | garbage | negative | zero
    step_up_answer_ok: bool = True
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (status, location)
    issued: dict[str, Issued] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)
    mark: int = 0
    limit: int = 12

    def since_mark(self) -> list[Sent]:
        return self.log[self.mark:]

    def answer(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        sent = Sent(str(request.url), request.headers.get("authorization"), body, self.clock.time())
        self.log.append(sent)
        if len(self.since_mark()) > self.limit:
            raise Looping(f"{len(self.since_mark())} requests in one call")
        response = self._answer(request, body)
        sent.status, sent.challenge = response.status_code, response.headers.get("www-authenticate", "")
        return response

    def _answer(self, request: httpx.Request, body: bytes) -> httpx.Response:
        path = request.url.path
        if path in self.redirects:
            status, location = self.redirects[path]
            return httpx.Response(status, headers={"location": location})
        if path == "/auth/token":
            return self._token(body)
        if path == "/auth/step-up":
            return self._step_up(request, body)
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        state = self.issued.get(token)
        if state is None or state.revoked or self.clock.time() >= state.at + state.expires_in:
            return httpx.Response(401, headers={"www-authenticate": INVALID_TOKEN})
        kind = path.strip("/").split("/")[0]
        if kind == "ok":
            return httpx.Response(200, content=body)
        if kind in CHALLENGES:
            if state.stepped_up:
                return httpx.Response(200, content=body)
            return httpx.Response(401, headers={"www-authenticate": CHALLENGES[kind]})
        if kind == "always_step_up":  # challenges even a stepped-up token: the client must not loop
            return httpx.Response(401, headers={"www-authenticate": CHALLENGES["step_up"]})
        if kind == "always_invalid":
            return httpx.Response(401, headers={"www-authenticate": INVALID_TOKEN})
        if kind in NOT_CHALLENGES:
            return httpx.Response(401, headers={"www-authenticate": NOT_CHALLENGES[kind]})
        return httpx.Response(403, json={"error": "AccessDenied"})

    def _issue(self, prefix: str, stepped_up: bool) -> httpx.Response:
        token = f"{prefix}-{len(self.issued) + 1}"
        self.issued[token] = Issued(self.clock.time(), self.expires_in, stepped_up)
        return httpx.Response(200, json={"token": token, "expires_in": self.expires_in})

    def _token(self, body: bytes) -> httpx.Response:
        login = json.loads(body)
        if login.get("secret_access_key") != SECRET and login.get("password") != PASSWORD:
            return httpx.Response(403, json={"error": "InvalidClientTokenId"})
        if self.token_answer == "refused":
            return httpx.Response(503, json={"error": "ServiceUnavailable"})
        if self.token_answer == "garbage":
            return httpx.Response(200, content=b"<html>not json</html>")
        if self.token_answer in ("negative", "zero"):  # an answer whose token is already expired
            token = f"dead-{len(self.issued) + 1}"
            expires_in = -30.0 if self.token_answer == "negative" else 0.0
            self.issued[token] = Issued(self.clock.time(), expires_in, False)
            return httpx.Response(200, json={"token": token, "expires_in": expires_in})
        return self._issue("plain", False)

    def _step_up(self, request: httpx.Request, body: bytes) -> httpx.Response:
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        state = self.issued.get(token)
        if state is None or state.revoked or self.clock.time() >= state.at + state.expires_in:
            return httpx.Response(401, json={"error": "invalid_token"})
        if not self.step_up_answer_ok or json.loads(body).get("mfa_code") != CODE:
            return httpx.Response(403, json={"error": "AccessDenied"})
        return self._issue("mfa", True)


class Callback:
    """The app's mfa_code callback: right, wrong or no code, a raise, or an async right code."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.kind == "raise":
            raise Boom("no device")
        if self.kind in ("async", "async_raise"):
            async def code() -> str:
                await asyncio.sleep(0)
                if self.kind == "async_raise":
                    raise Boom("no device")
                return CODE
            return code()
        return {"right": CODE, "wrong": "000000", "empty": "", "none": None}[self.kind]


def make_auth(clock: FrozenClock, callback: Callback | None, *, password: bool = False) -> IamAuth:
    if password:
        return IamAuth("/auth/token", user_name="alice", password=PASSWORD, step_up_url="/auth/step-up",
                       mfa_code=callback, refresh_margin=MARGIN, clock=clock)
    return IamAuth("/auth/token", "AKIAEXAMPLE", SECRET, step_up_url="/auth/step-up", mfa_code=callback,
                   refresh_margin=MARGIN, clock=clock)


class Driver:
    """One sync or async httpx client, called the same way."""

    def __init__(self, is_async: bool, server: FakeServer, auth: IamAuth, follow_redirects: bool = False) -> None:
        self.is_async = is_async
        if is_async:
            async def handle(request: httpx.Request) -> httpx.Response:
                await asyncio.sleep(0)
                return server.answer(request)

            self.loop = asyncio.new_event_loop()
            self.aclient = httpx.AsyncClient(transport=httpx.MockTransport(handle), auth=auth,
                                             follow_redirects=follow_redirects)
        else:
            self.client = httpx.Client(transport=httpx.MockTransport(server.answer), auth=auth,
                                       follow_redirects=follow_redirects)

    def request(self, method: str, url: str, content: bytes = b"") -> httpx.Response:
        if self.is_async:
            return self.loop.run_until_complete(
                asyncio.wait_for(self.aclient.request(method, url, content=content), timeout=5))
        return self.client.request(method, url, content=content)

    def close(self) -> None:
        if self.is_async:
            self.loop.run_until_complete(self.aclient.aclose())
            self.loop.close()
        else:
            self.client.close()


def token_of(sent: Sent) -> str:
    return (sent.authorization or "").removeprefix("Bearer ")


def challenge_error_of(sent: Sent) -> str | None:
    return challenge_error(httpx.Response(sent.status, headers={"www-authenticate": sent.challenge}))


def is_api(sent: Sent) -> bool:
    return not httpx.URL(sent.url).path.startswith("/auth/")


def assert_no_secret_leaves(log: list[Sent], issued: dict[str, Issued]) -> None:
    """Law 2: credentials go only to the endpoints on the API origin, tokens only to the API origin."""
    for sent in log:
        url = httpx.URL(sent.url)
        on_api = f"{url.scheme}://{url.netloc.decode()}" == API
        if not on_api:
            assert sent.authorization is None, f"a session token went to {sent.url}"
            assert sent.body == b"" or not any(s.encode() in sent.body for s in (SECRET, PASSWORD, CODE)), sent.url
        if SECRET.encode() in sent.body or PASSWORD.encode() in sent.body:
            assert on_api and url.path == "/auth/token", sent.url
        if CODE.encode() in sent.body:
            assert on_api and url.path == "/auth/step-up", sent.url
        if token_of(sent) in issued:
            assert on_api, sent.url


# ---- law 1, 3 and 5 over generated sequences ----------------------------------------------

ROUTES = ["ok", *CHALLENGES, "always_step_up", "always_invalid", *NOT_CHALLENGES, "forbidden"]

steps = st.lists(st.one_of(
    st.tuples(st.just("request"), st.sampled_from(ROUTES)),
    st.tuples(st.just("advance"), st.sampled_from(["margin-1", "margin", "margin+1", "expiry-1", "expiry", "expiry+1",
                                                   "small", "half"])),
    st.tuples(st.just("revoke"), st.sampled_from(["latest", "all"])),
), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, is_async=st.booleans(), callback_kind=st.sampled_from(["right", "wrong", "empty", "none", "raise",
                                                                           "async", "absent"]),
       expires_in=st.sampled_from([3600.0, 120.0, 61.0, 60.0, 30.0, 1.0]), password=st.booleans(),
       token_answer=st.sampled_from(["ok"] * 6 + ["refused", "garbage", "negative", "zero"]))
def test_sequences_retry_at_most_once_use_no_expired_token_and_ask_only_on_a_challenge(
        steps: list[tuple[str, str]], is_async: bool, callback_kind: str, expires_in: float, password: bool,
        token_answer: str) -> None:
    clock = FrozenClock()
    server = FakeServer(clock, expires_in=expires_in, token_answer=token_answer)
    callback = None if callback_kind == "absent" else Callback(callback_kind)
    auth = make_auth(clock, callback, password=password)
    driver = Driver(is_async, server, auth)
    clean = False  # the previous call ended with a token the client may keep using
    try:
        for action, arg in steps:
            if action == "advance":
                offsets = {"margin-1": expires_in - MARGIN - 1, "margin": expires_in - MARGIN,
                           "margin+1": expires_in - MARGIN + 1, "expiry-1": expires_in - 1, "expiry": expires_in,
                           "expiry+1": expires_in + 1, "small": 1.0, "half": expires_in / 2}
                clock.advance(max(0.0, offsets[arg]))
                continue
            if action == "revoke":
                live = [state for state in server.issued.values() if not state.revoked]
                for state in live[-1:] if arg == "latest" else live:
                    state.revoked = True
                continue
            server.mark = len(server.log)
            calls_before = callback.calls if callback else 0
            before = dict(server.issued)
            response: httpx.Response | None = None
            raised: BaseException | None = None
            try:
                response = driver.request("POST", f"{API}/{arg}", content=b"payload")
            except (IamAuthError, Boom) as error:
                raised = error
            sent = server.since_mark()
            api = [s for s in sent if is_api(s)]
            exchanges = [s for s in sent if s.url.endswith("/auth/token")]
            step_ups = [s for s in sent if s.url.endswith("/auth/step-up")]
            asked = (callback.calls if callback else 0) - calls_before

            # Law 1: at most one retry after a re-exchange and one after a step-up; never a loop.
            answers = [challenge_error_of(s) if s.status == 401 else None for s in api]
            assert len(api) <= 3 and len(exchanges) <= 2 and len(step_ups) <= 1 and asked <= 1
            assert answers[:-1].count("invalid_token") <= 1 and answers[:-1].count(
                "insufficient_user_authentication") <= 1
            if raised is None:  # each retry follows an answered 401
                assert len(api) == 1 + answers[:-1].count("invalid_token") + sum(s.status == 200 for s in step_ups)
            assert all(s.body == b"payload" for s in api)  # every retry carries the same body

            # Law 5: the callback is asked exactly when the API answered with a step-up challenge.
            challenged = "insufficient_user_authentication" in answers
            if callback is None:
                assert asked == 0 and step_ups == []
            else:
                assert asked == (1 if challenged else 0), (asked, answers)
            if step_ups:
                assert challenged and asked == 1

            # Law 3: every token sent was alive by the client's clock, and outside its refresh margin
            # unless it was issued in this very call (the margin did not allow better).
            for s in api:
                token = token_of(s)
                assert token in server.issued, "a request went out without a token it was issued"
                state = server.issued[token]
                assert s.at < state.at + state.expires_in, f"{token} sent after its expiry"
                if s.at >= state.at + max(0.0, state.expires_in - MARGIN):
                    assert token not in before, f"{token} used inside its refresh margin"
            # ... and no needless exchange: a live token outside its margin is kept.
            if clean and exchanges and api and exchanges[0] is sent[0]:
                latest = list(before.values())[-1]
                assert clock.time() >= latest.at + max(0.0, latest.expires_in - MARGIN), "a needless exchange"

            # Law 5: the outcome is the server's answer or a documented error.
            if raised is not None:
                if isinstance(raised, Boom):
                    assert callback_kind == "raise" and asked == 1
                elif isinstance(raised, StepUpError):
                    wrong_callback = callback_kind != "right" and (callback_kind != "async" or not is_async)
                    assert asked == 1 and (wrong_callback or step_ups[0].status != 200)
                else:
                    assert isinstance(raised, TokenExchangeError) and token_answer != "ok"
                for secret in (SECRET, PASSWORD, CODE, *server.issued):
                    assert secret not in str(raised)
            else:
                assert response is not None
                assert response.status_code in (200, 401, 403)
                if response.status_code == 200:
                    assert api and token_of(api[-1]) in server.issued
            clean = raised is None and response is not None and response.status_code != 401
    finally:
        driver.close()
    assert_no_secret_leaves(server.log, server.issued)


# ---- law 2: redirects, same and other origin, of the API and of the credential endpoints --------

@settings(max_examples=80, deadline=None, database=None)
@given(status=st.sampled_from([301, 302, 303, 307, 308]), target=st.sampled_from(["same", *OTHER_ORIGINS]),
       redirected=st.sampled_from(["/step_up", "/ok", "/auth/token", "/auth/step-up"]),
       is_async=st.booleans(), follow=st.booleans(), expired=st.booleans())
def test_no_credential_or_token_follows_a_redirect_to_another_origin(
        status: int, target: str, redirected: str, is_async: bool, follow: bool, expired: bool) -> None:
    clock = FrozenClock()
    server = FakeServer(clock)
    location = f"{API if target == 'same' else target}{'/step_up/there' if redirected != '/ok' else '/ok/there'}"
    callback = Callback("right")
    auth = make_auth(clock, callback)
    driver = Driver(is_async, server, auth, follow_redirects=follow)
    try:
        first = driver.request("GET", f"{API}/ok")  # binds the auth and holds a token
        assert first.status_code == 200
        if expired:
            clock.advance(3600)
        server.redirects[redirected] = (status, location)
        try:
            response = driver.request("POST", f"{API}{'/ok' if redirected == '/ok' else '/step_up'}",
                                      content=b"payload")
        except (TokenExchangeError, StepUpError) as error:
            # only a redirected credential endpoint may fail the call, and it says so without a secret
            assert redirected.startswith("/auth/")
            if redirected == "/auth/token":
                assert isinstance(error, TokenExchangeError) and expired
            assert all(secret not in str(error) for secret in (SECRET, CODE, *server.issued))
        else:
            assert response.status_code in (200, 301, 302, 303, 307, 308, 401, 403)
            if target != "same" and response.status_code == 401:
                assert callback.calls == 0  # a challenge from another origin is not answered
    finally:
        driver.close()
    assert_no_secret_leaves(server.log, server.issued)
    # each credential body went out once: a 307/308 never carried it on, even to the same origin
    assert sum(SECRET.encode() in s.body for s in server.log) == len(
        [s for s in server.log if s.url == f"{API}/auth/token"])
    assert sum(CODE.encode() in s.body for s in server.log) <= 1


# ---- law 4: concurrent async requests ------------------------------------------------------

@settings(max_examples=60, deadline=None, database=None)
@given(count=st.integers(2, 8), route=st.sampled_from(["ok", "step_up", "always_invalid", "plain"]),
       before=st.sampled_from(["cold", "warm", "revoked", "expired", "margin"]),
       expires_in=st.sampled_from([3600.0, 120.0]), yields=st.integers(0, 3))
def test_concurrent_async_requests_share_one_exchange_and_one_step_up(
        count: int, route: str, before: str, expires_in: float, yields: int) -> None:
    clock = FrozenClock()
    server = FakeServer(clock, expires_in=expires_in, limit=10 * count)
    callback = Callback("right")
    auth = make_auth(clock, callback)

    async def handle(request: httpx.Request) -> httpx.Response:
        for _ in range(yields):
            await asyncio.sleep(0)
        return server.answer(request)

    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handle), auth=auth) as client:
            if before != "cold":
                assert (await client.get(f"{API}/ok")).status_code == 200
                if before == "revoked":
                    for state in server.issued.values():
                        state.revoked = True
                elif before == "expired":
                    clock.advance(expires_in)
                elif before == "margin":
                    clock.advance(expires_in - MARGIN)
            server.mark = len(server.log)
            responses = await asyncio.wait_for(asyncio.gather(
                *[client.get(f"{API}/{route}") for _ in range(count)]), timeout=5)
        return [response.status_code for response in responses]

    statuses = asyncio.run(run())
    sent = server.since_mark()
    exchanges = sum(s.url.endswith("/auth/token") for s in sent)
    step_ups = sum(s.url.endswith("/auth/step-up") for s in sent)
    if route == "always_invalid":  # a server refusing every token: each request re-exchanges once at most
        assert statuses == [401] * count
        initial = 0 if before in ("warm", "revoked") else 1
        assert initial + 1 <= exchanges <= initial + count
    else:
        assert statuses == [401 if route == "plain" else 200] * count
        assert exchanges == (0 if before == "warm" else 1)
    assert step_ups == callback.calls == (1 if route == "step_up" else 0)
    assert sum(is_api(s) for s in sent) <= 3 * count  # a send, a retry after a re-exchange, one after a step-up


@settings(max_examples=30, deadline=None, database=None)
@given(count=st.integers(2, 6), failure=st.sampled_from(["refused", "garbage", "wrong_code", "raise"]))
def test_concurrent_async_failures_are_not_repeated_by_every_waiter(count: int, failure: str) -> None:
    """A failed exchange or step-up is one failure: the waiters do not each try again (a bad
    secret would otherwise count `count` failed logins at once, a bad code `count` codes)."""
    clock = FrozenClock()
    server = FakeServer(clock, token_answer=failure if failure in ("refused", "garbage") else "ok",
                        limit=10 * count)
    # an async callback that fails while the other requests wait for it
    callback = Callback("wrong" if failure == "wrong_code" else "async_raise" if failure == "raise" else "right")
    auth = make_auth(clock, callback)

    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return server.answer(request)

    async def run() -> list[BaseException | httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handle), auth=auth) as client:
            if failure in ("wrong_code", "raise"):
                assert (await client.get(f"{API}/ok")).status_code == 200
            server.mark = len(server.log)
            return await asyncio.wait_for(asyncio.gather(
                *[client.get(f"{API}/step_up") for _ in range(count)], return_exceptions=True), timeout=5)

    outcomes = asyncio.run(run())
    expected = {"refused": TokenExchangeError, "garbage": TokenExchangeError, "wrong_code": StepUpError,
                "raise": (Boom, StepUpError)}[failure]
    assert all(isinstance(outcome, expected) for outcome in outcomes), outcomes
    sent = server.since_mark()
    assert sum(s.url.endswith("/auth/token") for s in sent) == (1 if failure in ("refused", "garbage") else 0)
    assert sum(s.url.endswith("/auth/step-up") for s in sent) == (1 if failure == "wrong_code" else 0)
    assert callback.calls == (1 if failure in ("wrong_code", "raise") else 0)


# ---- laws 1 and 3 against the Starlette example app ----------------------------------------

@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[FrozenClock, Seeded, Any]:
    clock = FrozenClock()
    seeded = seed(tmp_path_factory.mktemp("client-properties") / "shop.db", clock=clock)
    paths: list[str] = []
    app = create_starlette_app(seeded.path, clock=clock)

    async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
            paths.append(f"{scope['method']} {scope['path']} {authorization}")
        await app(scope, receive, send)

    return clock, seeded, (logged, paths)


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(st.sampled_from(["list", "delete"]),
                                st.sampled_from([30.0, 299.0, 301.0, 12 * 3600 - 61.0, 12 * 3600 - 59.0])),
                      min_size=1, max_size=6),
       code_kind=st.sampled_from(["right", "wrong"]))
def test_the_example_app_sees_one_retry_at_most_and_no_token_past_its_lifetime(
        shop: tuple[FrozenClock, Seeded, Any], steps: list[Any], code_kind: str) -> None:
    clock, seeded, (app, paths) = shop
    manager = seeded.users["manager"]
    asked: list[int] = []

    def code() -> str:
        asked.append(1)
        return manager.totp(clock) if code_kind == "right" else "000000"

    auth = IamAuth("/auth/token", manager.access_key_id, manager.secret_access_key, step_up_url="/auth/step-up",
                   mfa_code=code, clock=clock)
    issued: dict[str, float] = {}
    with TestClient(app, base_url="http://testserver") as client:
        for step in steps:
            if isinstance(step, float):
                clock.advance(step)
                continue
            if step == "delete":
                clock.advance(31)  # a new TOTP window: the server refuses a code it has seen
            paths.clear()
            before = len(asked)
            try:
                response = client.get("/orders", auth=auth) if step == "list" else client.delete(
                    "/orders/999999", auth=auth)
            except StepUpError as error:
                assert code_kind == "wrong" and step == "delete" and "000000" not in str(error)
                response = None
            api = [p for p in paths if not p.split()[1].startswith("/auth/")]
            assert 1 <= len(api) <= 2 and len(asked) - before <= 1
            assert sum(p.split()[1] == "/auth/token" for p in paths) <= 1  # a 12-hour session needs one
            if step == "list":
                assert response is not None and response.status_code == 200 and len(asked) == before
            elif response is not None:
                assert response.status_code in (204, 404)
            for line in api:  # every token this call sent was issued less than 12 hours ago
                token = line.split()[-1]
                issued.setdefault(token, clock.time())
                assert clock.time() - issued[token] < 12 * 3600 - 59
