"""Helpers for the Flask and Django adapter tests: a raw WSGI caller (the environ a real server
builds from the request line), Django configured once per process, and the stub guard every
test app shares."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.store.database import StoreError
from iamguard.web import Guard, public, rule
from tests.web.stubs import TENANT, StubAuthority, TokenRefused, standard_authority

REPO = Path(__file__).resolve().parents[2]
DJANGO_EXAMPLE = REPO / "examples" / "django_app"
ORDER = "arn:app:orders::{tenant}:order/{order_id}"
FILE = "arn:app:orders::{tenant}:file/{path}"
PEER = "192.0.2.10"


def stub_guard(authority: StubAuthority | None = None, **options: Any) -> tuple[Guard, MemorySink, StubAuthority]:
    """The guard of every stub app: DELETE /orders/{order_id} and GET /health in the route map,
    GET /orders/{order_id} and /files/{path} declared by decorators on the views."""
    authority = authority or standard_authority()
    sink = options.pop("audit", None) or MemorySink()
    routes = options.pop("routes", None) or [
        rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/orders/{order_id}"),
        public(methods="GET", path="/health"),
    ]
    options.setdefault("clock", FrozenClock())
    guard = Guard(authority, tenant=TENANT, audit=sink, routes=routes, step_up_endpoint="/auth/step-up", **options)
    return guard, sink, authority


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Calls:
    """Protected views append (view name, the path parameters they received)."""

    seen: list[tuple[str, dict[str, Any]]]

    def __init__(self) -> None:
        self.seen = []

    def hit(self, name: str, params: dict[str, Any]) -> None:
        self.seen.append((name, dict(params)))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def clear(self) -> None:
        self.seen.clear()


@dataclass(frozen=True)
class WsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def wsgi_environ(method: str, target: bytes, headers: Iterable[tuple[str, str]] = (), *, body: bytes = b"",
                 client: str = PEER, scheme: str = "http") -> dict[str, Any]:
    """The environ gunicorn builds: PATH_INFO percent-decoded as latin-1 (PEP 3333), the target
    as sent in RAW_URI, repeated header lines joined with commas."""
    raw_path, _, query = target.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"), "RAW_URI": target.decode("latin-1"),
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": client,
        "HTTP_HOST": "testserver", "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
        environ[key] = f"{environ[key]},{value}" if key in environ and key.startswith("HTTP_") else value
    return environ


def call_wsgi(app: Callable[..., Any], method: str, target: bytes, headers: Iterable[tuple[str, str]] = (), *,
              body: bytes = b"", client: str = PEER, scheme: str = "http") -> WsgiResponse:
    return call_environ(app, wsgi_environ(method, target, headers, body=body, client=client, scheme=scheme))


def call_environ(app: Callable[..., Any], environ: dict[str, Any]) -> WsgiResponse:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: Sequence[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = {name.lower(): value for name, value in response_headers}
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        payload = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return WsgiResponse(captured["status"], captured["headers"], payload)


DJANGO_SETTINGS: dict[str, Any] = {
    "SECRET_KEY": "tests-only-not-a-secret-" + "x" * 40,
    "DEBUG": False,
    "ALLOWED_HOSTS": ["testserver", "127.0.0.1", "localhost"],
    "INSTALLED_APPS": ["django_iamguard"],
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django_iamguard.middleware.IamGuardMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    "ROOT_URLCONF": "tests.integrations.django_urls",
    "DATABASES": {},
    "USE_TZ": True,
    "IAMGUARD": {"GUARD": "tests.integrations.django_views.current_guard"},
    "LOGGING_CONFIG": None,
}


def configure_django() -> None:
    """Configure Django once per process. Every test changes what it needs with
    `override_settings`, so nothing a test sets outlives it; no other test module uses Django."""
    from django.conf import settings

    if str(DJANGO_EXAMPLE) not in sys.path:
        sys.path.insert(0, str(DJANGO_EXAMPLE))
    if not settings.configured:
        import django

        settings.configure(**DJANGO_SETTINGS)
        django.setup()


READER = bearer("reader")

# Request targets and headers every adapter must refuse the same way (the framework-specific
# rows, such as how each router answers a case change or a trailing slash, stay in each test).
COMMON_ATTACKS: list[tuple[str, bytes, tuple[tuple[str, str], ...], int]] = [
    ("GET", b"/orders/1%2F..%2Fadmin", READER, 400),
    ("GET", b"/orders/1%2fx", READER, 400),
    ("GET", b"/orders/%2e%2e/admin", READER, 400),
    ("GET", b"/orders/../admin", READER, 400),
    ("GET", b"/orders/./1", READER, 400),
    ("GET", b"//admin", READER, 400),
    ("GET", b"/orders//1", READER, 400),
    ("GET", b"/orders/1;x=y", READER, 400),
    ("GET", b"/orders/1%3b", READER, 400),
    ("GET", b"/orders/1%252F", READER, 400),
    ("GET", b"/orders/1%00", READER, 400),
    ("GET", b"/orders/1%0a", READER, 400),
    ("GET", b"/orders/%201", READER, 400),
    ("GET", b"/orders/1\\", READER, 400),
    ("GET", b"/orders/%ff", READER, 400),
    ("GET", b"/health%3F/../admin", (), 400),
    ("GET", b"/files/a%2F..%2F..%2Fetc", READER, 400),
    ("GET", b"/ADMIN", READER, 404),
    ("GET", b"/Orders/1", READER, 404),
    ("GET", b"/orders/1/", READER, 404),
    ("GET", b"/admin", READER, 403),  # unmapped, authenticated
    ("GET", b"/admin", (), 401),  # unmapped, anonymous
    ("get", b"/orders/1", READER, 400),
    ("TRACE", b"/orders/1", READER, 405),
    ("POST", b"/orders/1", (*READER, ("x-http-method-override", "GET")), 400),
    ("POST", b"/orders/1?_method=GET", READER, 400),
    ("DELETE", b"/orders/1", (*READER, ("x-http-method", "GET")), 400),
    ("POST", b"/orders/1/lines", (*READER, ("x-method-override", "GET")), 400),
    ("OPTIONS", b"/orders/1", (), 204),  # answered by the guard, never the view
    ("GET", b"/orders/1", bearer("forged"), 401),
    ("GET", b"/orders/1", bearer("alg.none."), 401),
    ("GET", b"/orders/1", (("authorization", "Bearer reader"), ("authorization", "Bearer writer")), 400),
    ("GET", b"/orders/1", (("authorization", "Basic eDp5"), ("authorization", "Bearer reader")), 400),
    ("GET", b"/orders/1?access_token=reader", (), 400),
    ("DELETE", b"/orders/1", READER, 403),
    ("DELETE", b"/orders/1", bearer("writer"), 401),  # step-up
    ("POST", b"/orders/1/lines", READER, 403),
]


class ExplodingSink:
    def emit(self, record: Any) -> None:
        raise OSError("disk full")


def _broken_provider(given: Any) -> Any:
    raise ValueError("cannot read the order's owner")


# Faults inside authorization, each adapter's answer: (name, stub authority failures, guard
# options, status). Never the handler's response.
FAULTS: list[tuple[str, dict[str, BaseException], dict[str, Any], int]] = [
    ("authenticate raises", {"authenticate": KeyError("x")}, {}, 503),
    ("store is locked", {"authenticate": StoreError("database is locked")}, {}, 503),
    ("timeout", {"authenticate": TimeoutError()}, {}, 503),
    ("policies fail to load", {"policy_set_for": RecursionError()}, {}, 503),
    ("token refused", {"authenticate": TokenRefused("revoked")}, {}, 401),
    ("context provider fails", {}, {"context": [_broken_provider]}, 503),
    ("audit sink fails", {}, {"audit": ExplodingSink()}, 503),
]
