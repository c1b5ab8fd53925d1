"""The request-target screen (spec MAP-02..07, MAP-12, MAP-13, MAP-15, DOS-04, JWT-10)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamguard.web.target import check_method, check_overrides, check_path, check_raw_path, is_plain

RAW_PATHS = [
    (b"/orders/7", None),
    (b"/orders/7/", None),
    (b"/", None),
    (b"/orders/%37", None),  # an encoded unreserved character decodes to the same path
    (b"/files/a.b", None),
    (b"/orders/caf%C3%A9", None),
    (b"/orders/a%2Fb", 400),
    (b"/orders/a%2fb", 400),
    (b"/orders/a%5Cb", 400),
    (b"/orders/a%5cb", 400),
    (b"/orders/a\\b", 400),
    (b"/orders/%2e%2e/admin", 400),
    (b"/orders/%2E/x", 400),
    (b"/orders/../admin", 400),
    (b"/orders/./7", 400),
    (b"/orders/..", 400),
    (b"/orders/7;jsessionid=1", 400),
    (b"/orders/7%3B", 400),
    (b"/orders/7%3b", 400),
    (b"/orders/%252F", 400),
    (b"/orders/7%00", 400),
    (b"/orders/7%0A", 400),
    (b"/orders/7%0d", 400),
    (b"/orders/7%7F", 400),
    (b"/orders/%207", 400),
    (b"/orders/7%20", 400),
    (b"/orders/7%09", 400),
    (b"/orders/7%20x", None),  # inner whitespace is part of the value
    (b"//orders/7", 400),
    (b"/orders//7", 400),
    (b"/orders/%zz", 400),
    (b"/orders/%4", 400),
    (b"/orders/%", 400),
    (b"/orders/%FF", 400),
    (b"/orders/%C3", 400),
    (b"/orders/\xc3\xa9", 400),  # raw non-ASCII bytes on the request line
    (b"/orders/7 x", 400),
    (b"/" + b"a" * 2048, 400),
]


@pytest.mark.parametrize(("raw", "status"), RAW_PATHS, ids=[repr(raw)[:40] for raw, _ in RAW_PATHS])
def test_raw_path_screen(raw: bytes, status: int | None) -> None:
    rejection = check_raw_path(raw)
    assert (rejection.status if rejection else None) == status


DECODED = [
    ("/orders/7", None),
    ("/orders/a*b", None),
    ("/orders/7\n", 400),
    ("/orders/7\u0000", 400),
    ("/orders/ 7", 400),
    ("/orders/7\u00a0", 400),  # no-break space is whitespace too
    ("/orders/../x", 400),
    ("/orders//x", 400),
    ("orders/7", 400),
    ("/orders/\ufffd", 400),  # a server already replaced undecodable bytes
    ("/a\\b", 400),
    ("/a;b", 400),
]


@pytest.mark.parametrize(("path", "status"), DECODED)
def test_decoded_path_screen(path: str, status: int | None) -> None:
    rejection = check_path(path)
    assert (rejection.status if rejection else None) == status


@pytest.mark.parametrize(("method", "status"), [
    ("GET", None), ("DELETE", None), ("OPTIONS", None),
    ("get", 400), ("Get", 400), ("G ET", 400), ("", 400), ("GET\n", 400),
    ("TRACE", 405), ("CONNECT", 405), ("PROPFIND", 405),
])
def test_methods(method: str, status: int | None) -> None:
    rejection = check_method(method)
    assert (rejection.status if rejection else None) == status


@pytest.mark.parametrize(("headers", "query", "reason"), [
    (["accept"], b"", None),
    (["x-http-method-override"], b"", "malformed_request"),
    (["x-http-method"], b"", "malformed_request"),
    (["x-method-override"], b"", "malformed_request"),
    ([], b"_method=DELETE", "malformed_request"),
    ([], b"a=1&%5Fmethod=DELETE", "malformed_request"),
    ([], b"_METHOD=DELETE", "malformed_request"),
    ([], b"access_token=abc", "invalid_request"),
    ([], b"page=2&method=x", None),
])
def test_override_headers_and_parameters(headers: list[str], query: bytes, reason: str | None) -> None:
    rejection = check_overrides(headers, query)
    assert (rejection.reason if rejection else None) == reason
    if rejection:
        assert rejection.status == 400


# The fast path (`is_plain`) must never accept what the full rules refuse.
_ALPHABET = st.sampled_from([b"/", b"a", b"1", b".", b"..", b"%2F", b"%2e", b"%", b";", b"\\", b" ", b"%20", b"~",
                             b"%41", b"%00", b"//", b"-", b":", b"@", b"%C3%A9", b"%ff"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, min_size=0, max_size=12))
def test_fast_path_agrees_with_the_full_rules(pieces: list[bytes]) -> None:
    raw = b"/" + b"".join(pieces)
    decoded = unquote(raw.decode("latin-1"))
    if is_plain(raw, decoded):
        assert check_raw_path(raw) is None
        assert check_path(decoded) is None
        assert decoded.encode() == raw
