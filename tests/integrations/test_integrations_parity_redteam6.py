"""Red-team round 6: differential fuzzing of the four adapters (Starlette, Flask, Django under WSGI
and under ASGI) on the stub service of tests/integrations/apps.py and django_urls.py.

Hypothesis builds raw requests (methods, unusual ones included; paths with percent-encodings, dot
segments, double and trailing slashes, unicode and case changes; query strings; Authorization
variants and duplicates; session cookies; X-Forwarded-For from trusted and untrusted peers;
method-override headers) and every adapter must give the same status, the same WWW-Authenticate,
Cache-Control and Allow headers and the same JSON error body, and no protected handler may run on
a non-2xx answer. Allowed differences are those the routers themselves make, as
test_integrations_parity.py documents them, plus two of the same kind named in ROUTER_ROWS below.

Defects found and fixed (regression rows below):
- A Starlette `HTTPEndpoint` route has no method list, so the guard's 405 for it carried no
  `Allow` (RFC 9110 15.5.6 requires one), its OPTIONS answer listed no methods, and the route
  listing flagged every method the class does not define as unmapped, so `strict=True` refused
  to start an app whose every handler was mapped (MAP-11). Django and Flask list the handlers a
  class defines; the ASGI adapter now does too.
- Flask: the guard's answer to OPTIONS listed only the methods of the one rule Werkzeug matched,
  not those of every rule at the URL (`/orders/<id>` with a GET view and a DELETE view: `Allow:
  GET, HEAD, OPTIONS`), unlike Flask's own OPTIONS answer and the other adapters.

Requests are built so that the transport cannot tell them apart: WSGI servers join repeated header
lines with commas, so repeated non-Bearer Authorization lines, repeated Cookie lines and a Bearer
value containing a comma are left out (the adapters see different requests there; all deny).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamguard.asgi import Iam
from tests.integrations.apps import flask_app, starlette_app
from tests.integrations.django_views import CALLS
from tests.integrations.support import PEER, Calls, call_wsgi, configure_django, stub_guard
from tests.web.asgi_support import call_raw

configure_django()

FRAMEWORKS = ("starlette", "flask", "django-sync", "django-async")
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_iamguard.middleware.IamGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]
Headers = tuple[tuple[str, str], ...]
Answer = tuple[int, dict[str, str], bytes, list[str]]  # status, headers, body, handlers that ran
Sender = Callable[[str, bytes, Headers, str, dict[str, Any]], Answer]


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


# ---- one request, four adapters -----------------------------------------------------------------

def _asgi_headers(headers: Headers) -> Headers:
    # A server always passes Host; the WSGI helper puts "testserver" in HTTP_HOST, so the ASGI side
    # gets the same (the CSRF check of cookie requests compares Origin with it).
    return headers if any(name == "host" for name, _ in headers) else (("host", "testserver"), *headers)


def _starlette(method: str, target: bytes, headers: Headers, client: str, options: dict[str, Any]) -> Answer:
    calls = Calls()
    guard = stub_guard(**options)[0]
    answer = asyncio.run(call_raw(starlette_app(guard, calls), method, target, _asgi_headers(headers),
                                  client=(client, 5000)))
    return answer.status, answer.headers, answer.body, calls.names


def _flask(method: str, target: bytes, headers: Headers, client: str, options: dict[str, Any]) -> Answer:
    calls = Calls()
    app, _ = flask_app(stub_guard(**options)[0], calls)
    answer = call_wsgi(app, method, target, headers, client=client)
    return answer.status, answer.headers, answer.body, calls.names


def _django(urls: str, kind: str) -> Sender:
    def send(method: str, target: bytes, headers: Headers, client: str, options: dict[str, Any]) -> Answer:
        guard = stub_guard(**options)[0]
        with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=MIDDLEWARE, IAMGUARD={"GUARD": guard}):
            CALLS.clear()
            if kind == "wsgi":
                answer: Any = call_wsgi(WSGIHandler(), method, target, headers, client=client)
            else:
                answer = asyncio.run(call_raw(ASGIHandler(), method, target, _asgi_headers(headers),
                                              client=(client, 5000)))
            names = CALLS.names
        return answer.status, {name.lower(): value for name, value in answer.headers.items()}, answer.body, names

    return send


SENDERS: dict[str, Sender] = {
    "starlette": _starlette,
    "flask": _flask,
    "django-sync": _django("tests.integrations.django_urls", "wsgi"),
    "django-async": _django("tests.integrations.django_async_urls", "asgi"),
}


def send_everywhere(method: str, target: bytes, headers: Headers = (), *, client: str = PEER,
                    **options: Any) -> dict[str, Answer]:
    return {name: send(method, target, headers, client, options) for name, send in SENDERS.items()}


def _allow(headers: dict[str, str]) -> str | None:
    """The Allow header without OPTIONS: Flask adds OPTIONS to every rule and Django's View answers
    it, Starlette's routes do neither (documented in test_integrations_parity.py)."""
    value = headers.get("allow")
    if value is None:
        return None
    return ", ".join(name for name in (part.strip() for part in value.split(",")) if name and name != "OPTIONS")


def guard_answer(status: int, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    """What must be identical across adapters. Cache-Control only on refusals: on an allowed
    answer Flask leaves Bearer responses unmarked, by design (README "Caches")."""
    document = json.loads(body) if body and status >= 400 else None
    return (status, headers.get("www-authenticate"), _allow(headers),
            headers.get("cache-control") if status >= 300 else None, document)


def _is_router_answer(status: int, headers: dict[str, str]) -> bool:
    # 404s and trailing-slash redirects come from the routers (no guard body, no endpoint).
    return status in (301, 307, 308, 404) and not headers.get("content-type", "").startswith("application/json")


def _allow_from_router(path: bytes) -> set[str]:
    """The adapters whose 405/OPTIONS `Allow` names what their router alone makes of `path`, not
    compared: Django lists every method for a function view whose rules name none (documented in
    test_integrations_parity.py); Werkzeug reads "//health" as "/health"
    (test_integrations_redteam6.py); Starlette's `{path:path}` matches "/files/" (ROUTER_ROWS)."""
    unlisted: set[str] = set()
    if path.startswith((b"/admin", b"/slashed/")):
        unlisted |= {"django-sync", "django-async"}
    if b"//" in path:
        unlisted |= set(FRAMEWORKS)
    if path == b"/files/":
        unlisted.add("starlette")
    return unlisted


def check_parity(method: str, target: bytes, answers: dict[str, Answer]) -> None:
    for framework, (status, _, body, handlers) in answers.items():
        if not 200 <= status < 300:
            assert handlers == [], f"{framework} ran {handlers} for {method} {target!r}: {status} {body[:200]!r}"
    decided = {framework: answer for framework, answer in answers.items()
               if not _is_router_answer(answer[0], answer[1])}
    if len(decided) < len(answers):
        # Some router answered itself (404, a slash redirect) where another matched a route: no
        # adapter may then have run a handler (the rows of ROUTER_ROWS name the cases).
        assert all(not 200 <= status < 300 for status, _, _, _ in decided.values()), (method, target, answers)
        return
    statuses = {answer[0] for answer in decided.values()}
    if method == "OPTIONS" and statuses <= {204, 405}:
        # Starlette's routes do not answer OPTIONS (405); the guard answers it elsewhere (204).
        decided = {name: answer for name, answer in decided.items() if name != "starlette"}
    elif 405 in statuses:
        # Django's views and Starlette's HTTPEndpoint take every method: where a router answers 405
        # the guard decides there, and refuses (no handler ran, checked above) with the first rule
        # the request breaks: a bad forwarded header (400), no credentials (401), no rule (403).
        takes_every_method = {"django-sync", "django-async"}
        if target.partition(b"?")[0].endswith(b"/lines"):
            takes_every_method.add("starlette")
        assert all(answer[0] == 405 or name in takes_every_method for name, answer in decided.items()), \
            (method, target, answers)
        decided = {name: answer for name, answer in decided.items() if answer[0] == 405}
    shaped = {name: guard_answer(status, headers, body) for name, (status, headers, body, _) in decided.items()}
    unlisted = _allow_from_router(target.partition(b"?")[0])
    rest = {name: (*answer[:2], *answer[3:]) for name, answer in shaped.items()}
    assert len({json.dumps(answer, sort_keys=True) for answer in rest.values()}) == 1, (method, target, shaped)
    allows = {answer[2] for name, answer in shaped.items() if name not in unlisted}
    assert len(allows) <= 1, (method, target, shaped)


# ---- regressions: the defects this round fixed ---------------------------------------------------

def _answers(starlette: tuple[int, str], flask: tuple[int, str], django: tuple[int, str]
             ) -> dict[str, tuple[int, str]]:
    return {"starlette": starlette, "flask": flask, "django-sync": django, "django-async": django}


LINES = "GET, HEAD, OPTIONS, POST"  # Flask's MethodView and Django's View answer OPTIONS themselves
ORDER = "DELETE, GET, HEAD"

# (method, target, headers, {framework: (status, Allow)})
ALLOW_ROWS: list[tuple[str, bytes, Headers, dict[str, tuple[int, str]]]] = [
    # Starlette HTTPEndpoint: a 405 and a preflight list the handlers the class defines.
    ("CONNECT", b"/orders/7/lines", (("authorization", "Bearer reader"),),
     _answers((405, "GET, HEAD, POST"), (405, LINES), (405, LINES))),
    ("PROPFIND", b"/orders/7/lines", (), _answers((405, "GET, HEAD, POST"), (405, LINES), (405, LINES))),
    ("OPTIONS", b"/orders/7/lines", (), _answers((204, "GET, HEAD, POST"), (204, LINES), (204, LINES))),
    # Flask: the preflight lists every rule at the URL (the GET view and the DELETE view).
    ("OPTIONS", b"/orders/7", (), _answers((405, ORDER), (204, f"{ORDER}, OPTIONS"), (204, ORDER))),
    ("OPTIONS", b"/orders/7", (("authorization", "Bearer reader"),),
     _answers((405, ORDER), (204, f"{ORDER}, OPTIONS"), (204, ORDER))),
]


def _ids(rows: list[tuple[str, bytes, Headers, Any]]) -> list[str]:
    return [f"{method} {target.decode()} {len(headers)}" for method, target, headers, _ in rows]


@pytest.mark.parametrize(("method", "target", "headers", "expected"), ALLOW_ROWS, ids=_ids(ALLOW_ROWS))
def test_every_adapter_lists_the_methods_of_the_resource(method: str, target: bytes, headers: Headers,
                                                         expected: dict[str, tuple[int, str]]) -> None:
    answers = send_everywhere(method, target, headers)
    got = {framework: (status, response_headers.get("allow")) for framework, (status, response_headers, _, _)
           in answers.items()}
    assert got == expected
    check_parity(method, target, answers)


def test_the_starlette_route_listing_names_only_the_methods_an_endpoint_class_defines() -> None:
    app = starlette_app(stub_guard()[0], Calls())
    reports = {(report.method, report.path): report for report in Iam(stub_guard()[0]).report(app)}
    lines = sorted(method for method, path in reports if path == "/orders/{order_id}/lines")
    assert lines == ["GET", "HEAD", "POST"]
    assert all(reports[(method, "/orders/{order_id}/lines")].ok for method in lines)
    # Only the route that really has no rule is flagged: strict mode no longer refuses the app
    # for methods its HTTPEndpoint never answers.
    assert sorted(key for key, report in reports.items() if not report.ok) == [("GET", "/admin"), ("HEAD", "/admin")]


# ---- the router differences the fuzzing meets, named -----------------------------------------------

# (method, target, headers, {framework: status}); no handler runs in any of them.
ROUTER_ROWS: list[tuple[str, bytes, Headers, dict[str, int]]] = [
    # Starlette's `{path:path}` matches an empty value, Werkzeug's and Django's do not: the guard
    # refuses the empty value (400; 401 before that without credentials), the others answer 404.
    ("GET", b"/files/", (("authorization", "Bearer reader"),),
     {"starlette": 400, "flask": 404, "django-sync": 404, "django-async": 404}),
    ("GET", b"/files/", (), {"starlette": 401, "flask": 404, "django-sync": 404, "django-async": 404}),
    # Flask routes a MethodView by method (405); Starlette's HTTPEndpoint and Django's View take
    # every method and the guard denies the one no rule names.
    ("DELETE", b"/orders/7/lines", (("authorization", "Bearer reader"),),
     {"starlette": 403, "flask": 405, "django-sync": 403, "django-async": 403}),
    ("PUT", b"/orders/7/lines", (), {"starlette": 401, "flask": 405, "django-sync": 401, "django-async": 401}),
]


@pytest.mark.parametrize(("method", "target", "headers", "expected"), ROUTER_ROWS, ids=_ids(ROUTER_ROWS))
def test_router_differences_refuse_everywhere(method: str, target: bytes, headers: Headers,
                                              expected: dict[str, int]) -> None:
    answers = send_everywhere(method, target, headers)
    assert {framework: answer[0] for framework, answer in answers.items()} == expected
    check_parity(method, target, answers)


# ---- the differential fuzzer -------------------------------------------------------------------

_SEGMENTS = [
    "orders", "Orders", "ORDERS", "7", "8", "lines", "files", "health", "admin", "slashed", "x", ".", "", "..",
    "%2e", "%2E%2e", "%37", "%2F", "%2f", "%5C", "%3B", ";x", "%25", "%252F", "%00", "%0a", "%09", "%20",
    "a%20b", "%C3%A9", "\u00e9", "%E2%80%AE", "%EF%BC%8F", "*", "%2A", "$%7Bx%7D", "a:b", "%3F", "%23", "~",
    "%7E", "%ff", "%", "%g1", "+", "a+b", "%C0%AF", "reports", "q1.pdf", "A", "%41", "%4f%52DERS",
]
_METHODS = [*["GET"] * 8, "HEAD", "HEAD", "POST", "POST", "DELETE", "DELETE", "PUT", "PATCH", "OPTIONS", "TRACE",
            "CONNECT", "PROPFIND", "get", "Get", "G-ET"]
_TOKENS = ["reader", "reader", "reader", "seven", "writer", "writer", "writer-mfa", "writer-old-mfa", "seven",
           "no-deletes", "owner", "forged", "", "a.b.c", "re ader", "r\u00e9ader", "x" * 9000]
_SCHEMES = ["Bearer", "Bearer", "Bearer", "Bearer", "bearer", "BEARER", "Basic", "Token", "Bearer\t"]
_QUERIES = [b"?a=1", b"?_method=DELETE", b"?_METHOD=x", b"?access_token=reader", b"?%5Fmethod=x",
            b"?a=%ff", b"?x", b"?&&", b"?a=1;_method=x", b"?q=%00", b"?Access_Token=x"]
_OVERRIDES = ["x-http-method-override", "x-method-override", "x-http-method"]
_FORWARDED = ["198.51.100.7", "garbage", "", "198.51.100.7, 192.0.2.1", "01.2.3.4", "[2001:db8::1]",
              "2001:db8::1", "198.51.100.7:80", " 198.51.100.7"]


_IDS = ["7", "8", "42", "a*b", "caf%C3%A9", "%E2%82%AC", "a:b", "%24%7Baws:username%7D", "A-7", "7.json"]
_ROUTES = ["/orders/{}", "/orders/{}", "/orders/{}/lines", "/files/{}/{}", "/files/{}", "/health", "/admin",
           "/slashed/{}/", "/Orders/{}", "/ORDERS/{}/LINES", "/HEALTH", "/nothing/{}"]


@st.composite
def _targets(draw: st.DrawFn) -> bytes:
    """Mostly a route of the service with well-formed or odd values; sometimes any segments."""
    if draw(st.integers(0, 3)) < 3:
        values = [draw(st.sampled_from(_IDS)) if draw(st.integers(0, 3)) < 3 else draw(st.sampled_from(_SEGMENTS))
                  for _ in range(2)]
        path = draw(st.sampled_from(_ROUTES)).format(*values)
    else:
        path = "/" + "/".join(draw(st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=3)))
    if draw(st.integers(0, 8)) == 8:
        path += "/"
    if draw(st.integers(0, 15)) == 15:
        path = "/" + path
    return path.encode("utf-8") + (draw(st.sampled_from(_QUERIES)) if draw(st.integers(0, 3)) == 3 else b"")


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, bytes, Headers, str, dict[str, Any]]:
    headers: list[tuple[str, str]] = []
    options: dict[str, Any] = {}
    client = PEER
    if draw(st.integers(0, 3)) < 3:
        headers.append(("authorization", f"{draw(st.sampled_from(_SCHEMES))} {draw(st.sampled_from(_TOKENS))}"))
        if draw(st.integers(0, 8)) == 8:  # a second Bearer line (a second non-Bearer one: see the docstring)
            headers.append(("authorization", f"Bearer {draw(st.sampled_from(_TOKENS))}"))
    if draw(st.integers(0, 5)) == 5:
        options["cookie_name"] = "session"
        headers.append(("cookie", f"theme=dark; session={draw(st.sampled_from(_TOKENS))}"))
        if draw(st.booleans()):
            headers.append(("origin", draw(st.sampled_from(["http://testserver", "https://evil.example", "null"]))))
    if draw(st.integers(0, 8)) == 8:
        headers.append((draw(st.sampled_from(_OVERRIDES)), draw(st.sampled_from(["GET", "DELETE"]))))
    if draw(st.integers(0, 3)) == 3:
        options["trusted_proxies"] = ["192.0.2.0/24"]
        client = draw(st.sampled_from([PEER, "203.0.113.5", "::ffff:192.0.2.10"]))
        for _ in range(draw(st.integers(1, 2))):
            headers.append(("x-forwarded-for", draw(st.sampled_from(_FORWARDED))))
        if draw(st.booleans()):
            headers.append(("x-forwarded-proto", draw(st.sampled_from(["https", "http", "gopher"]))))
    if draw(st.integers(0, 6)) == 6:
        headers.append(("user-agent", "curl/8.0"))
    order = draw(st.permutations(headers))
    return draw(st.sampled_from(_METHODS)), draw(_targets()), tuple(order), client, options


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(_requests())
def test_fuzzed_requests_get_the_same_answer_from_every_adapter(
        request: tuple[str, bytes, Headers, str, dict[str, Any]]) -> None:
    method, target, headers, client, options = request
    check_parity(method, target, send_everywhere(method, target, headers, client=client, **options))
