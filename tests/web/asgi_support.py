"""Helpers for driving ASGI apps in tests: raw scopes (exact request-target bytes, as a server
would build them) and a recorder for handler calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass
class Recorder:
    """Protected handlers append what they received; tests assert on it."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def hit(self, name: str, params: dict[str, Any]) -> None:
        self.calls.append((name, dict(params)))


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def call_raw(app: Any, method: str, target: bytes, headers: Iterable[tuple[str, str]] = (), *,
                   root_path: str = "", client: tuple[str, int] = ("192.0.2.10", 5000),
                   scheme: str = "http", body: bytes = b"") -> RawResponse:
    """Send one HTTP request to `app` the way uvicorn builds the scope from the request line."""
    raw_path, _, query = target.partition(b"?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": scheme,
        "path": root_path + unquote(raw_path.decode("latin-1")), "raw_path": root_path.encode() + raw_path,
        "root_path": root_path, "query_string": query,
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": client, "server": ("testserver", 80), "state": {},
    }
    messages: list[dict[str, Any]] = []
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(message for message in messages if message["type"] == "http.response.start")
    answer = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return RawResponse(start["status"], {name.decode(): value.decode() for name, value in start["headers"]}, answer)
