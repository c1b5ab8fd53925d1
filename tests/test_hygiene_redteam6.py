"""Red-team round 6: audit trail, secret hygiene and resource bounds (spec LOG-01..04, DOS-01..05)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iamguard.web import wsgi

# What a WSGI server lets one request carry in header names: gunicorn accepts 100 header lines of
# up to 8190 bytes each, so a single unauthenticated request can name ~800 KB of headers.
_NAMES_PER_REQUEST = 40
_NAME_LENGTH = 4000
_REQUESTS = 400  # 64 M characters of distinct header names in all


@pytest.fixture
def empty_wsgi_memos() -> Iterator[None]:
    wsgi._SHAPES.clear()
    wsgi._HEADER_NAMES.clear()
    wsgi._shapes_weight = 0
    yield
    wsgi._SHAPES.clear()
    wsgi._HEADER_NAMES.clear()
    wsgi._shapes_weight = 0


def _flood_environ(number: int) -> dict[str, str]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/orders/7", "REMOTE_ADDR": "203.0.113.9",
               "REMOTE_PORT": "40000", "wsgi.url_scheme": "http"}
    for index in range(_NAMES_PER_REQUEST):
        environ[f"HTTP_X_{number}_{index}_" + "A" * _NAME_LENGTH] = "v"
    return environ


def _retained_characters() -> int:
    shapes = sum(len(name) for names in wsgi._SHAPES for name in names)
    header_names = sum(len(key) + sum(map(len, entry)) for key, entry in wsgi._HEADER_NAMES.items())
    return shapes + header_names


@pytest.mark.usefixtures("empty_wsgi_memos")
def test_a_flood_of_made_up_header_names_cannot_fill_the_environ_memos() -> None:
    """DOS: environ_key and environ_headers run for every routed Flask request and every Django
    WSGI request, before any credential is checked. Their memos were bounded in entries only, so
    4,096 requests with large distinct header names kept gigabytes alive."""
    for number in range(_REQUESTS):
        environ = _flood_environ(number)
        wsgi.environ_key(environ)
        wsgi.environ_headers(environ)
    assert _retained_characters() <= 16 * 1024 * 1024


@pytest.mark.usefixtures("empty_wsgi_memos")
def test_ordinary_environ_shapes_are_still_remembered() -> None:
    """The bound must not cost the memo its purpose: equal ordinary environs make equal keys."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/orders/7", "REMOTE_ADDR": "203.0.113.9",
               "REMOTE_PORT": "40000", "wsgi.url_scheme": "http", "HTTP_AUTHORIZATION": "Bearer abc",
               "HTTP_USER_AGENT": "probe/1"}
    first = wsgi.environ_key(environ)
    second = wsgi.environ_key({**environ, "REMOTE_PORT": "40001"})
    assert first is not None and first == second
    assert tuple(environ) in wsgi._SHAPES


# DOS-04: an identifier over 1 KiB is refused before any cryptography. The resource template's
# parameter length was checked only when the resource was rendered, after the token's signature
# had been verified (and a request without credentials was answered 401, not 400).
_LONG_ORDER_ID = "7" * 1500  # the path stays under the 2 KiB path limit


@pytest.mark.parametrize("token", ["forged", "reader", None])
def test_an_oversized_resource_identifier_is_refused_before_the_token_is_checked(token: str | None) -> None:
    from tests.web.test_web_guard import make_guard, request

    guard, sink = make_guard()
    authority = guard.authority
    verdict = guard.check_sync(request(token=token, path=f"/orders/{_LONG_ORDER_ID}",
                                       params={"order_id": _LONG_ORDER_ID}))
    assert not verdict.allowed and verdict.status == 400
    assert [record.reason for record in sink.records] == ["invalid_path_parameter"]
    assert authority.seen_tokens == []  # type: ignore[union-attr]


def test_a_parameter_the_resource_does_not_name_may_still_be_long() -> None:
    """Only identifiers that go into the resource are bounded: other path values are the app's."""
    from iamguard.web import rule
    from tests.web.test_web_guard import make_guard, request

    routes = [rule("orders:ListOrders", "arn:app:orders::{tenant}:order/all", methods="GET",
                   path="/orders/{slug}")]
    guard, sink = make_guard(routes=routes)
    verdict = guard.check_sync(request(route="/orders/{slug}", path=f"/orders/{_LONG_ORDER_ID}",
                                       params={"slug": _LONG_ORDER_ID}))
    assert verdict.allowed and [record.reason for record in sink.records] == ["allowed"]


# Secrets never in a repr: the bearer token a request carries (in its Authorization or Cookie
# header, and as the Credential found in it) showed in the repr of the objects that hold it, and
# context providers receive one of them (ContextInput.request).
_TOKEN = "eyJzZWNyZXQiOiJ0b2tlbiJ9.cGF5bG9hZA.c2lnbmF0dXJl"


def _holders() -> list[tuple[str, object]]:
    from iamguard.web import ContextInput, WebRequest
    from iamguard.web.tokens import Credential

    request = WebRequest("GET", "/orders/7", headers=(("authorization", f"Bearer {_TOKEN}"),
                                                       ("cookie", f"session={_TOKEN}")))
    return [
        ("credential", Credential(_TOKEN, "bearer")),
        ("web request", request),
        ("context input", ContextInput(request, {"order_id": "7"}, "arn:aws:iam::123456789012:user/alice",
                                       "orders:GetOrder", "arn:app:orders::123456789012:order/7")),
    ]


@pytest.mark.parametrize(("name", "holder"), _holders(), ids=[name for name, _ in _holders()])
def test_no_repr_shows_the_bearer_token(name: str, holder: object) -> None:
    shown = repr(holder)
    assert _TOKEN not in shown and "cGF5bG9hZA" not in shown
