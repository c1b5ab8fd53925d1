"""In-process clients: one request at a time, straight into the app's ASGI or WSGI callable.

Both clients do the same per-request work whatever app they drive (copy a prepared scope or
environ, collect the status, drain the body), so the difference between two apps served by one
client is the apps' own cost.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

BATCH = 50  # requests between two looks at the clock

AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]  # (scope, receive, send)
WsgiApp = Callable[[Any, Any], Iterable[bytes]]  # (environ, start_response)


@dataclass(frozen=True)
class Slice:
    """One timed stretch of back-to-back requests."""

    requests: int
    seconds: float
    unexpected: int  # responses whose status was not the expected one

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


class Client(Protocol):
    def answer(self, token: str | None) -> tuple[int, bytes]:
        """One request: the status and the whole body."""
        ...

    def run_for(self, token: str | None, seconds: float, expected: int = 200) -> Slice: ...

    def close(self) -> None: ...


def _headers(token: str | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", b"bench.local"), (b"user-agent", b"iamguard-bench")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode("ascii")))
    return headers


class AsgiClient:
    """Calls an ASGI app with the scope a server would build for `GET <path>` over HTTP/1.1."""

    def __init__(self, app: AsgiApp, path: str) -> None:
        self.app = app
        self.path = path
        self._loop = asyncio.new_event_loop()

    def _scope(self, token: str | None) -> dict[str, Any]:
        return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": self.path, "raw_path": self.path.encode("ascii"),
                "root_path": "", "query_string": b"", "headers": _headers(token),
                "client": ("127.0.0.1", 50000), "server": ("bench.local", 80)}

    async def _serve(self, token: str | None, seconds: float, expected: int) -> Slice:
        template = self._scope(token)
        app = self.app
        unexpected = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal unexpected
            if message["type"] == "http.response.start" and message["status"] != expected:
                unexpected += 1

        clock = time.perf_counter
        count = 0
        started = clock()
        deadline = started + seconds
        while True:
            for _ in range(BATCH):
                await app(dict(template), receive, send)  # servers hand every request its own scope
            count += BATCH
            if clock() >= deadline:
                break
        return Slice(count, clock() - started, unexpected)

    async def _one(self, token: str | None) -> tuple[int, bytes]:
        statuses: list[int] = []
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(self._scope(token), receive, send)
        if len(statuses) != 1:
            raise RuntimeError(f"the app sent {len(statuses)} response starts for one request")
        return statuses[0], b"".join(body)

    def answer(self, token: str | None) -> tuple[int, bytes]:
        return self._loop.run_until_complete(self._one(token))

    def run_for(self, token: str | None, seconds: float, expected: int = 200) -> Slice:
        return self._loop.run_until_complete(self._serve(token, seconds, expected))

    def close(self) -> None:
        self._loop.close()


class WsgiClient:
    """Calls a WSGI app with the environ a server would build for `GET <path>` over HTTP/1.1."""

    def __init__(self, app: WsgiApp, path: str) -> None:
        self.app = app
        self.path = path

    def _environ(self, token: str | None) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": self.path, "QUERY_STRING": "",
            "SERVER_NAME": "bench.local", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "bench.local",
            "HTTP_USER_AGENT": "iamguard-bench", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if token is not None:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return environ

    def _call(self, template: dict[str, Any], start_response: Callable[..., Any]) -> bytes:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = self.app(environ, start_response)
        try:
            return b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    def answer(self, token: str | None) -> tuple[int, bytes]:
        statuses: list[int] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            statuses.append(int(status.split(" ", 1)[0]))

        body = self._call(self._environ(token), start_response)
        if len(statuses) != 1:
            raise RuntimeError(f"the app called start_response {len(statuses)} times for one request")
        return statuses[0], body

    def run_for(self, token: str | None, seconds: float, expected: int = 200) -> Slice:
        template = self._environ(token)
        prefix = f"{expected} "
        unexpected = 0

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            nonlocal unexpected
            if not status.startswith(prefix):
                unexpected += 1

        call = self._call
        clock = time.perf_counter
        count = 0
        started = clock()
        deadline = started + seconds
        while True:
            for _ in range(BATCH):
                call(template, start_response)
            count += BATCH
            if clock() >= deadline:
                break
        return Slice(count, clock() - started, unexpected)

    def close(self) -> None:
        pass
