"""KEY-03: refused credentials are limited per client address at the token endpoints.

The limiter itself (sliding window, bounded table, IPv6 networks, unknown addresses), then the
same scenarios through the Starlette, Flask and Django adapters' real test clients: an address
over its limit gets 429 `Throttling` with `Retry-After` whatever it sends, other addresses are
untouched, only refused credentials count, and behind trusted proxies the forwarded client is
the one counted (the guard's own rule), never an address a client made up.

This module is also the URLconf of its Django tests (`urlpatterns`, filled by `serve`)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import include, path
from django_iamguard.endpoints import auth_urlpatterns
from flask import Flask
from flask_iamguard import auth_blueprint
from starlette.applications import Starlette
from starlette.routing import Mount

from iamguard.asgi import auth_routes
from iamguard.clock import FrozenClock
from iamguard.credentials import AuthenticationFailed, InvalidClientTokenId, PasswordExpired
from iamguard.credentials.errors import AccessDenied, InvalidAuthenticationCode, InvalidToken, Throttled
from iamguard.credentials.facade import AccessKeyCredentials
from iamguard.web.endpoints import AuthEndpoints
from iamguard.web.throttle import UNKNOWN_SOURCE, SourceLimit, SourceLimiter
from tests.integrations.support import configure_django

configure_django()

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

URLCONF = __name__
urlpatterns: list[Any] = []  # Django's URLconf for this module's tests: see `serve`

GOOD_KEY = "AKIAGOODGOODGOODGOOD"
LOCKED_KEY = "AKIALOCKEDLOCKEDLOCK"
RIGHT = {"access_key_id": GOOD_KEY, "secret_access_key": "right"}
WRONG = {"access_key_id": GOOD_KEY, "secret_access_key": "wrong"}
LIMIT = SourceLimit(failures=3, window_seconds=60)


# ---- the limiter ---------------------------------------------------------------------------------

def _limiter(limit: SourceLimit = LIMIT) -> tuple[SourceLimiter, FrozenClock]:
    clock = FrozenClock()
    return SourceLimiter(limit, clock), clock


def test_the_window_slides_with_the_oldest_refusal() -> None:
    limiter, clock = _limiter()
    for _ in range(2):
        limiter.record_refusal("192.0.2.1")
        clock.advance(10)
    assert limiter.retry_after("192.0.2.1") is None  # two refusals: under the limit
    limiter.record_refusal("192.0.2.1")  # refusals at 0, 10 and 20; now is 20
    assert limiter.retry_after("192.0.2.1") == 40  # until the one at 0 leaves the 60 s window
    clock.advance(39.5)
    assert limiter.retry_after("192.0.2.1") == 1  # rounded up, never 0
    clock.advance(0.5)
    assert limiter.retry_after("192.0.2.1") is None
    limiter.record_refusal("192.0.2.1")  # refusals at 10, 20 and 60
    assert limiter.retry_after("192.0.2.1") == 10
    assert limiter.retry_after("192.0.2.2") is None  # one address's refusals are its own


def test_the_table_is_bounded_and_forgets_quiet_addresses_first() -> None:
    limiter, clock = _limiter(SourceLimit(failures=3, window_seconds=60, max_sources=4))
    for _ in range(3):
        limiter.record_refusal("198.51.100.1")  # over the limit
    for index in range(2, 5):
        limiter.record_refusal(f"198.51.100.{index}")
    clock.advance(30)
    for _ in range(3):
        limiter.record_refusal("198.51.100.9")  # a fifth address: the least recently refused goes
    assert len(limiter) == 4
    assert limiter.retry_after("198.51.100.1") is None  # it was the least recently refused
    clock.advance(31)  # 198.51.100.2-4 are now quiet (their one refusal left the window)
    limiter.record_refusal("198.51.100.50")
    assert len(limiter) == 2  # the quiet ones were dropped, not a limited one
    assert limiter.retry_after("198.51.100.9") == 29
    for index in range(10_000):  # an attacker rotating addresses only churns the table
        limiter.record_refusal(f"10.{index // 256 % 256}.{index % 256}.1")
    assert len(limiter) == 4


@pytest.mark.parametrize(("limit", "address", "key"), [
    (SourceLimit(), "192.0.2.7", "192.0.2.7"),
    (SourceLimit(), "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    (SourceLimit(), "2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    (SourceLimit(ipv6_prefix=128), "2001:db8:1:2:aaaa::1", "2001:db8:1:2:aaaa::1"),
    (SourceLimit(ipv6_prefix=48), "2001:db8:1:2::1", "2001:db8:1::/48"),
    (SourceLimit(), None, UNKNOWN_SOURCE),
    (SourceLimit(), "testclient", UNKNOWN_SOURCE),
])
def test_the_budget_an_address_counts_against(limit: SourceLimit, address: str | None, key: str) -> None:
    assert SourceLimiter(limit, FrozenClock()).key(address) == key


@pytest.mark.parametrize("settings", [
    {"failures": 0}, {"window_seconds": -1}, {"max_sources": 0}, {"ipv6_prefix": 129}, {"failures": True},
    {"window_seconds": 1.5},
])
def test_a_limit_must_be_positive_whole_numbers(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SourceLimit"):
        SourceLimit(**settings)


def test_the_default_is_twenty_refusals_in_ten_minutes_per_address() -> None:
    assert (SourceLimit().failures, SourceLimit().window_seconds, SourceLimit().ipv6_prefix) == (20, 600, 64)
    endpoints = AuthEndpoints(Issuer())
    assert endpoints.source_limiter is not None and endpoints.source_limiter.limit == SourceLimit()


# ---- a stub credentials layer ----------------------------------------------------------------------

@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: int
    session_arn: str


class Issuer:
    """A TokenIssuer: `GOOD_KEY` with secret "right" and step-up code 123456 succeed; `LOCKED_KEY`
    is locked by its per-key lock; every other credential is refused as the real layer words it."""

    def __init__(self) -> None:
        self.clock = FrozenClock()
        self.calls = 0

    def _issued(self) -> Issued:
        return Issued("tok", int(self.clock.time()) + 900, "arn:aws:sts::111122223333:assumed-role/r/s")

    def get_session_token(self, credentials: Any, **options: Any) -> Any:
        self.calls += 1
        if not isinstance(credentials, AccessKeyCredentials):
            if credentials.user_name == "expired":
                raise PasswordExpired("the password must be changed before signing in")
            raise AuthenticationFailed("the user name or password is incorrect")
        if credentials.access_key_id == LOCKED_KEY:
            raise Throttled("too many failed attempts for this access key; try again later", 30)
        if credentials.access_key_id == GOOD_KEY and credentials.secret_access_key == "right":
            return self._issued()
        raise InvalidClientTokenId("the security token included in the request is invalid")

    def authenticate(self, token: object) -> Any:
        if token == "good":
            return object()
        raise InvalidToken("the token is not valid")

    def assume_role(self, *args: Any, **options: Any) -> Any:
        self.calls += 1
        raise AccessDenied("not authorized to assume the role")

    def step_up(self, session: Any, mfa_code: str | None = None, **options: Any) -> Any:
        self.calls += 1
        if mfa_code == "123456":
            return self._issued()
        raise InvalidAuthenticationCode("the code is not valid")


# ---- the three adapters ------------------------------------------------------------------------------

Answer = tuple[int, dict[str, str], Any]


class Send:
    """POST a JSON body to an auth endpoint of one adapter, from the TCP peer `peer`."""

    def __init__(self, post: Callable[[str, str, Mapping[str, str], bytes], tuple[int, Mapping[str, str], bytes]],
                 issuer: Issuer) -> None:
        self._post = post
        self.issuer = issuer

    def __call__(self, peer: str, body: Any, *, endpoint: str = "/auth/token",
                 headers: Mapping[str, str] | None = None) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, answer_headers, content = self._post(peer, endpoint, {"content-type": "application/json",
                                                                     **(headers or {})}, raw)
        lowered = {name.lower(): value for name, value in answer_headers.items()}
        return status, lowered, json.loads(content) if content else None


def _starlette(issuer: Issuer, options: dict[str, Any]) -> Send:
    app = Starlette(routes=[Mount("/auth", routes=auth_routes(issuer, **options))])
    clients: dict[str, TestClient] = {}

    def post(peer: str, endpoint: str, headers: Mapping[str, str], body: bytes) -> Any:
        client = clients.setdefault(peer, TestClient(app, client=(peer, 50000)))
        response = client.post(endpoint, content=body, headers=dict(headers))
        return response.status_code, response.headers, response.content

    return Send(post, issuer)


def _flask(issuer: Issuer, options: dict[str, Any]) -> Send:
    app = Flask(__name__)
    app.register_blueprint(auth_blueprint(issuer, **options))
    client = app.test_client()

    def post(peer: str, endpoint: str, headers: Mapping[str, str], body: bytes) -> Any:
        response = client.post(endpoint, data=body, headers=dict(headers), environ_base={"REMOTE_ADDR": peer})
        return response.status_code, response.headers, response.get_data()

    return Send(post, issuer)


def _django(issuer: Issuer, options: dict[str, Any]) -> Send:
    urlpatterns[:] = [path("auth/", include(auth_urlpatterns(issuer, **options)))]

    def post(peer: str, endpoint: str, headers: Mapping[str, str], body: bytes) -> Any:
        extra = {name: value for name, value in headers.items() if name != "content-type"}
        with override_settings(ROOT_URLCONF=URLCONF, MIDDLEWARE=[]):
            response = Client(REMOTE_ADDR=peer).post(endpoint, body, content_type=headers["content-type"],
                                                     headers=extra)
        return response.status_code, response.headers, response.content

    return Send(post, issuer)


ADAPTERS = {"starlette": _starlette, "flask": _flask, "django": _django}
Serve = Callable[..., Send]


@pytest.fixture(params=list(ADAPTERS))
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """Mount the auth endpoints on a fresh app of one adapter: `serve(source_limit=..., ...)`
    (`LIMIT` unless given; `serve(default_limit=True)` passes none, for the adapter's default)."""
    build = ADAPTERS[request.param]

    def make(*, default_limit: bool = False, **options: Any) -> Send:
        if not default_limit:
            options.setdefault("source_limit", LIMIT)
        return build(Issuer(), options)

    yield make
    urlpatterns.clear()


def _refuse(send: Send, peer: str, times: int, body: Any = None) -> None:
    for _ in range(times):
        assert send(peer, body or WRONG)[0] == 403


# ---- through the adapters ------------------------------------------------------------------------------

def test_an_address_over_its_limit_is_answered_429_until_its_window_slides(serve: Serve) -> None:
    send = serve()
    _refuse(send, "203.0.113.5", 3)
    calls = send.issuer.calls
    status, headers, body = send("203.0.113.5", RIGHT)  # even the right secret: the address is limited
    assert (status, headers["retry-after"], body["error"]) == (429, "60", "Throttling")
    assert "address" in body["message"] and headers["content-type"] == "application/json"
    assert send.issuer.calls == calls  # answered before any credential work
    assert send("203.0.113.6", RIGHT)[0] == 200  # another address is untouched
    assert send("203.0.113.6", WRONG)[0] == 403
    send.issuer.clock.advance(59)
    assert send("203.0.113.5", RIGHT)[1]["retry-after"] == "1"
    send.issuer.clock.advance(1)
    assert send("203.0.113.5", RIGHT)[0] == 200


def test_one_budget_per_address_across_the_three_endpoints(serve: Serve) -> None:
    send = serve()
    assert send("203.0.113.5", {"mfa_code": "000000"}, endpoint="/auth/step-up",
                headers={"authorization": "Bearer good"})[0] == 403
    assert send("203.0.113.5", {"user_name": "alice", "password": "guess"})[0] == 403
    assert send("203.0.113.5", WRONG)[0] == 403
    for endpoint in ("/auth/token", "/auth/assume-role", "/auth/step-up"):
        assert send("203.0.113.5", RIGHT, endpoint=endpoint, headers={"authorization": "Bearer good"})[0] == 429


REFUSALS_THAT_DO_NOT_COUNT = [
    ("malformed JSON", b"{not json", "/auth/token", {}, 400),
    ("a missing field", {"access_key_id": GOOD_KEY}, "/auth/token", {}, 400),
    ("no Bearer session", {"mfa_code": "123456"}, "/auth/step-up", {}, 401),
    ("a forged Bearer session", {"mfa_code": "123456"}, "/auth/step-up", {"authorization": "Bearer forged"}, 401),
    ("a refused role", {"role_arn": "arn:aws:iam::111122223333:role/r", "session_name": "s"}, "/auth/assume-role",
     {"authorization": "Bearer good"}, 403),
    ("an expired but correct password", {"user_name": "expired", "password": "right"}, "/auth/token", {}, 403),
]


@pytest.mark.parametrize(("name", "body", "endpoint", "headers", "status"), REFUSALS_THAT_DO_NOT_COUNT,
                         ids=[row[0] for row in REFUSALS_THAT_DO_NOT_COUNT])
def test_only_refused_credentials_count(serve: Serve, name: str, body: Any, endpoint: str,
                                        headers: dict[str, str], status: int) -> None:
    send = serve()
    for _ in range(LIMIT.failures + 2):
        assert send("203.0.113.5", body, endpoint=endpoint, headers=headers)[0] == status, name
    _refuse(send, "203.0.113.5", LIMIT.failures)  # the full budget is still there
    assert send("203.0.113.5", RIGHT)[0] == 429


def test_a_per_key_lock_answer_counts_as_a_refusal(serve: Serve) -> None:
    send = serve()
    locked = {"access_key_id": LOCKED_KEY, "secret_access_key": "guess"}
    for _ in range(LIMIT.failures):
        status, headers, body = send("203.0.113.5", locked)
        assert (status, headers["retry-after"], body["error"]) == (429, "30", "Throttling")  # the key's lock
    assert send("203.0.113.5", RIGHT)[1]["retry-after"] == "60"  # now the address's own limit


def test_a_success_resets_no_count(serve: Serve) -> None:
    send = serve()
    _refuse(send, "203.0.113.5", LIMIT.failures - 1)
    assert send("203.0.113.6", RIGHT)[0] == 200
    assert send("203.0.113.5", RIGHT)[0] == 200
    _refuse(send, "203.0.113.5", 1)
    assert send("203.0.113.5", RIGHT)[0] == 429


def test_ipv6_clients_of_one_64_share_a_budget(serve: Serve) -> None:
    send = serve()
    for host in ("2001:db8:5::1", "2001:db8:5::2", "2001:db8:5:0:ffff::3"):
        _refuse(send, host, 1)
    assert send("2001:db8:5::99", RIGHT)[0] == 429
    assert send("2001:db8:6::1", RIGHT)[0] == 200


def test_without_trusted_proxies_forwarding_headers_cannot_pick_the_budget(serve: Serve) -> None:
    send = serve()
    for index in range(LIMIT.failures):
        assert send("203.0.113.5", WRONG, headers={"x-forwarded-for": f"198.51.100.{index}"})[0] == 403
    assert send("203.0.113.5", RIGHT, headers={"x-forwarded-for": "198.51.100.200"})[0] == 429


def test_behind_trusted_proxies_the_forwarded_client_is_counted(serve: Serve) -> None:
    send = serve(trusted_proxies=["10.0.0.0/8"])
    for proxy in ("10.0.0.1", "10.0.0.2", "10.0.0.1"):  # one client through several proxies
        assert send(proxy, WRONG, headers={"x-forwarded-for": "spoofed, 198.51.100.7"})[0] == 403
    assert send("10.0.0.1", RIGHT, headers={"forwarded": 'for="198.51.100.7"'})[0] == 429
    assert send("10.0.0.1", RIGHT, headers={"x-forwarded-for": "198.51.100.8"})[0] == 200  # another client
    assert send("10.0.0.2", RIGHT)[0] == 200  # the proxy's own address is another budget


def test_an_unreadable_forwarding_header_from_a_trusted_proxy_is_400(serve: Serve) -> None:
    send = serve(trusted_proxies=["10.0.0.0/8"])
    status, _, body = send("10.0.0.1", RIGHT, headers={"x-forwarded-for": "not-an-address"})
    assert (status, body["error"], send.issuer.calls) == (400, "BadRequest", 0)


def test_the_limit_can_be_turned_off(serve: Serve) -> None:
    send = serve(source_limit=None)
    _refuse(send, "203.0.113.5", LIMIT.failures * 3)
    assert send("203.0.113.5", RIGHT)[0] == 200


def test_every_adapter_applies_the_default_limit_when_none_is_given(serve: Serve) -> None:
    send = serve(default_limit=True)
    _refuse(send, "203.0.113.5", 20)
    status, headers, _ = send("203.0.113.5", RIGHT)
    assert (status, headers["retry-after"]) == (429, "600")
