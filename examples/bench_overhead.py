"""Middleware overhead, measured in-process through ASGI (no sockets, no HTTP client).

    python examples/bench_overhead.py [--seconds 2]

Rows: a hello-world Starlette route served bare; the same route behind iamguard's middleware
with a real session token (signature check, revocation check, policy resolution and evaluation,
audit record to the default logger) for a warm principal; and the same with a pre-verified
session (the authority returns a cached session), which isolates the middleware's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import TENANT, open_store, seed
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.credentials import AccessKeyCredentials
from iamguard.web import Guard, rule


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def app_with(guard: Guard | None) -> Starlette:
    routes = [Route("/orders/{order_id}", hello)]
    middleware = [Iam(guard).middleware()] if guard is not None else []
    return Starlette(routes=routes, middleware=middleware)


def scope_for(token: str | None) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/orders/1001", "raw_path": b"/orders/1001", "root_path": "", "query_string": b"",
            "headers": headers, "client": ("127.0.0.1", 5000), "server": ("bench", 80)}


async def rate(app: Starlette, token: str | None, seconds: float) -> float:
    template = scope_for(token)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    for _ in range(200):  # warm up caches (policy resolution, token verification keys)
        await app(dict(template), receive, send)
    if statuses[-1] != 200:
        raise RuntimeError(f"the benchmark request is not allowed: {statuses[-1]}")
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            await app(dict(template), receive, send)
        count += 100
    return count / (time.perf_counter() - started)


async def rate_httpx(app: Starlette, token: str | None, seconds: float) -> float:
    """The same, through httpx's ASGI transport (what most in-process benchmarks use)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for _ in range(50):
            response = await client.get("/orders/1001", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"the benchmark request is not allowed: {response.status_code}")
        count = 0
        started = time.perf_counter()
        while time.perf_counter() < started + seconds:
            for _ in range(20):
                await client.get("/orders/1001", headers=headers)
            count += 20
        return count / (time.perf_counter() - started)


class CachedSessions:
    """An authority that verified each token once and keeps the session: the middleware's own
    cost without the credentials layer's per-request checks."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials
        self._sessions: dict[str, Any] = {}

    def authenticate(self, token: str) -> Any:
        session = self._sessions.get(token)
        if session is None:
            session = self._sessions[token] = self.credentials.authenticate(token)
        return session

    def policy_set_for(self, session: Any, resource_policy: Any = None) -> Any:
        return self.credentials.policy_set_for(session, resource_policy)


def measure(seconds: float, harness: str = "asgi") -> list[tuple[str, float]]:
    rate_of = rate if harness == "asgi" else rate_httpx
    with tempfile.TemporaryDirectory() as workdir:
        seeded = seed(Path(workdir) / "bench.db")
        _, credentials = open_store(seeded.path)
        reader = seeded.users["reader"]
        token = credentials.get_session_token(AccessKeyCredentials(reader.access_key_id,
                                                                   reader.secret_access_key)).token
        routes = [rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}", methods="GET",
                       path="/orders/{order_id}")]
        protected = Guard(credentials, tenant=TENANT, routes=routes)
        cached = Guard(CachedSessions(credentials), tenant=TENANT, routes=routes)
        runs: list[tuple[str, Callable[[], Any]]] = [
            ("bare", lambda: rate_of(app_with(None), None, seconds)),
            ("iamguard, real token", lambda: rate_of(app_with(protected), token, seconds)),
            ("iamguard, cached session", lambda: rate_of(app_with(cached), token, seconds)),
        ]
        return [(name, asyncio.run(run())) for name, run in runs]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--harness", choices=("asgi", "httpx"), default="asgi",
                        help="call the ASGI app directly, or through httpx.ASGITransport")
    options = parser.parse_args()
    results = measure(options.seconds, options.harness)
    bare = results[0][1]
    for name, value in results:
        overhead = (bare / value - 1) * 100 if value else float("inf")
        print(f"{name:<28} {value:10.0f} req/s   overhead {overhead:6.1f} %")


if __name__ == "__main__":
    main()
