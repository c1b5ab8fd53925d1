"""`/assume-role` evaluates the role's trust policy (and the caller's policies) with the request's
network keys, read as the guard reads them: `aws:SourceIp` (through trusted proxies only),
`aws:SecureTransport` (the connection's scheme, or a trusted proxy's word), `aws:UserAgent` and
`aws:Referer`. Without them a trust policy that names a network or requires TLS refused every
caller of the endpoint.

First the framework-neutral handlers over a real `Credentials`, then the three adapters, which
must each hand over the peer and the scheme they were given."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
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
from iamguard.credentials.errors import ConfigurationError
from iamguard.web.endpoints import AuthEndpoints
from tests.credentials.conftest import Env, build_env
from tests.integrations.support import configure_django

configure_django()

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

URLCONF = __name__
urlpatterns: list[Any] = []  # Django's URLconf for this module's adapter tests

OFFICE = "192.0.2.0/24"
PROXY = "10.0.0.1"


def _trust(user_arn: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole", "Condition": condition}]}


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return build_env("memory", tmp_path)


def _session_token(env: Env) -> tuple[str, str]:
    """Alice's session token (her policies allow everything) and her ARN."""
    key = env.user_with_key("alice")
    return env.creds.get_session_token(key).token, env.directory.get_user("alice").arn


def _assume(endpoints: AuthEndpoints, token: str, role_arn: str, peer: str | None, *, scheme: str = "https",
            headers: tuple[tuple[str, str], ...] = ()) -> tuple[int, dict[str, Any]]:
    sent = (("authorization", f"Bearer {token}"), ("content-type", "application/json"), *headers)
    body = json.dumps({"role_arn": role_arn, "session_name": "s1"}).encode()
    answer = endpoints.assume_role(sent, body, peer, scheme=scheme)
    return answer.status, json.loads(answer.body)


# (name, trust condition, peer, scheme, extra headers, trusted proxies, expected status)
CASES: list[tuple[str, dict[str, Any], str | None, str, tuple[tuple[str, str], ...], tuple[str, ...], int]] = [
    ("from the office network", {"IpAddress": {"aws:SourceIp": OFFICE}}, "192.0.2.7", "http", (), (), 200),
    ("from elsewhere", {"IpAddress": {"aws:SourceIp": OFFICE}}, "198.51.100.7", "http", (), (), 403),
    ("no IP address for the peer", {"IpAddress": {"aws:SourceIp": OFFICE}}, None, "http", (), (), 403),
    ("a forwarded address from an untrusted peer is ignored", {"IpAddress": {"aws:SourceIp": OFFICE}},
     "198.51.100.7", "http", (("x-forwarded-for", "192.0.2.7"),), (), 403),
    ("a forwarded address from a trusted proxy counts", {"IpAddress": {"aws:SourceIp": OFFICE}},
     PROXY, "http", (("x-forwarded-for", "192.0.2.7"),), (PROXY,), 200),
    ("a trusted proxy's client outside the network", {"IpAddress": {"aws:SourceIp": OFFICE}},
     PROXY, "http", (("x-forwarded-for", "192.0.2.7, 198.51.100.9"),), (PROXY,), 403),
    ("TLS required, https", {"Bool": {"aws:SecureTransport": "true"}}, "192.0.2.7", "https", (), (), 200),
    ("TLS required, http", {"Bool": {"aws:SecureTransport": "true"}}, "192.0.2.7", "http", (), (), 403),
    ("TLS as a trusted proxy says", {"Bool": {"aws:SecureTransport": "true"}}, PROXY, "http",
     (("x-forwarded-proto", "https"),), (PROXY,), 200),
    ("TLS claimed by an untrusted peer", {"Bool": {"aws:SecureTransport": "true"}}, "192.0.2.7", "http",
     (("x-forwarded-proto", "https"),), (), 403),
    ("user agent", {"StringLike": {"aws:UserAgent": "deploy-bot/*"}}, "192.0.2.7", "https",
     (("user-agent", "deploy-bot/2.1"),), (), 200),
    ("another user agent", {"StringLike": {"aws:UserAgent": "deploy-bot/*"}}, "192.0.2.7", "https",
     (("user-agent", "curl/8"),), (), 403),
    ("referer", {"StringEquals": {"aws:Referer": "https://console.example/"}}, "192.0.2.7", "https",
     (("referer", "https://console.example/"),), (), 200),
]


@pytest.mark.parametrize(("condition", "peer", "scheme", "headers", "proxies", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_trust_policy_sees_the_request_network_keys(
        env: Env, condition: dict[str, Any], peer: str | None, scheme: str, headers: tuple[tuple[str, str], ...],
        proxies: tuple[str, ...], expected: int) -> None:
    token, user_arn = _session_token(env)
    role = env.directory.create_role("office", _trust(user_arn, condition))
    endpoints = AuthEndpoints(env.creds, source_limit=None, trusted_proxies=proxies)
    status, body = _assume(endpoints, token, role.arn, peer, scheme=scheme, headers=headers)
    assert status == expected, body
    if expected == 200:
        assert body["session_arn"].endswith(":assumed-role/office/s1")
    else:
        assert body["error"] == "AccessDenied"


def test_the_caller_cannot_name_the_time_keys_through_headers(env: Env) -> None:
    """Only the four network keys come from the request; the rest of the context is the
    credentials layer's (a header is never a context key)."""
    token, user_arn = _session_token(env)
    before = {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}
    role = env.directory.create_role("past", _trust(user_arn, before))
    endpoints = AuthEndpoints(env.creds, source_limit=None)
    status, _ = _assume(endpoints, token, role.arn, "192.0.2.7",
                        headers=(("aws-currenttime", "1999-01-01T00:00:00Z"), ("x-aws-currenttime", "1999")))
    assert status == 403


def test_an_unreadable_forwarding_header_from_a_trusted_proxy_is_400_without_a_per_source_limit(env: Env) -> None:
    token, user_arn = _session_token(env)
    role = env.directory.create_role("office", _trust(user_arn, {"IpAddress": {"aws:SourceIp": OFFICE}}))
    endpoints = AuthEndpoints(env.creds, source_limit=None, trusted_proxies=(PROXY,))
    status, body = _assume(endpoints, token, role.arn, PROXY, headers=(("x-forwarded-for", "not-an-address"),))
    assert status == 400
    assert body["error"] == "BadRequest"


# ---- the adapters hand over the peer and the scheme --------------------------------------------

Post = Callable[[str, bool, dict[str, str], bytes], int]  # (peer, https, headers, body) -> status


def _starlette(env: Env) -> Post:
    app = Starlette(routes=[Mount("/auth", routes=auth_routes(env.creds, source_limit=None))])

    def post(peer: str, https: bool, headers: dict[str, str], body: bytes) -> int:
        base = "https://testserver" if https else "http://testserver"
        with TestClient(app, base_url=base, client=(peer, 50000)) as client:
            return client.post("/auth/assume-role", content=body, headers=headers).status_code

    return post


def _flask(env: Env) -> Post:
    app = Flask(__name__)
    app.register_blueprint(auth_blueprint(env.creds, source_limit=None))
    client = app.test_client()

    def post(peer: str, https: bool, headers: dict[str, str], body: bytes) -> int:
        return client.post("/auth/assume-role", data=body, headers=headers, base_url=(
            "https://localhost" if https else "http://localhost"), environ_base={"REMOTE_ADDR": peer}).status_code

    return post


def _django(env: Env) -> Post:
    urlpatterns[:] = [path("auth/", include(auth_urlpatterns(env.creds, source_limit=None)))]

    def post(peer: str, https: bool, headers: dict[str, str], body: bytes) -> int:
        extra = {name: value for name, value in headers.items() if name != "content-type"}
        with override_settings(ROOT_URLCONF=URLCONF, MIDDLEWARE=[]):
            return Client(REMOTE_ADDR=peer).post("/auth/assume-role", body, content_type="application/json",
                                                 headers=extra, secure=https).status_code

    return post


ADAPTERS = {"starlette": _starlette, "flask": _flask, "django": _django}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Iterator[Callable[[Env], Post]]:
    yield ADAPTERS[request.param]
    urlpatterns.clear()


@pytest.mark.parametrize(("peer", "https", "expected"), [
    ("192.0.2.7", True, 200),
    ("198.51.100.7", True, 403),
    ("192.0.2.7", False, 403),
], ids=["office-over-tls", "elsewhere-over-tls", "office-without-tls"])
def test_each_adapter_passes_the_peer_and_the_scheme(env: Env, adapter: Callable[[Env], Post], peer: str,
                                                    https: bool, expected: int) -> None:
    token, user_arn = _session_token(env)
    condition = {"IpAddress": {"aws:SourceIp": OFFICE}, "Bool": {"aws:SecureTransport": "true"}}
    role = env.directory.create_role("office", _trust(user_arn, condition))
    post = adapter(env)
    body = json.dumps({"role_arn": role.arn, "session_name": "s1"}).encode()
    status = post(peer, https, {"authorization": f"Bearer {token}", "content-type": "application/json"}, body)
    assert status == expected


class _Misconfigured:
    """A TokenIssuer whose store holds signing keys sealed with another data key."""

    clock = FrozenClock()

    def get_session_token(self, credentials: Any, **options: Any) -> Any:
        raise ConfigurationError("no usable active signing key (sealed with another data key?)")


def test_a_server_fault_while_issuing_is_503_and_says_nothing_of_the_configuration() -> None:
    endpoints = AuthEndpoints(_Misconfigured(), source_limit=None)  # type: ignore[arg-type]
    body = json.dumps({"access_key_id": "AKIAAAAAAAAAAAAAAAAA", "secret_access_key": "x"}).encode()
    answer = endpoints.token((("content-type", "application/json"),), body, "192.0.2.7")
    assert answer.status == 503
    assert b"signing" not in answer.body and b"ConfigurationError" not in answer.body
