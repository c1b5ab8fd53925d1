"""A real server on loopback for the middleware row: uvicorn serves an ASGI app from a thread of
the bench process, and `bench/web/loadgen.py`, a process of its own, sends it requests.

This puts the in-process figures in proportion: it is what a deployed app pays per request,
HTTP parsing and the event loop included. Bare and protected apps receive the very same bytes
(the reader's token included), so the difference is the protection alone.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.web.clients import AsgiApp, Slice

LOADGEN = Path(__file__).with_name("loadgen.py")
PIPELINE_DEPTH = 16
_START_TIMEOUT_S = 10.0


class ServedApp:
    """`app` served by uvicorn on 127.0.0.1 (a free port) until `close()`."""

    def __init__(self, app: AsgiApp) -> None:
        import uvicorn  # the `server` extra; the row reports the framework unavailable without it

        # Port 0: the system picks a free port, read back once the server listens. (A socket handed
        # in through `sockets=` would lack TCP_NODELAY: asyncio sets it only on sockets whose protocol
        # is IPPROTO_TCP, and Nagle's algorithm would then hold every response for a delayed ACK.)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="bench-uvicorn")
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.close()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port: int = self._server.servers[0].sockets[0].getsockname()[1]

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_S)


def request_bytes(path: str, token: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: bench.local", "User-Agent: iamguard-bench"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class LoopbackClient:
    """The middleware row's client protocol over a real socket: `answer` sends one request with
    http.client; `run_for` runs the load generator for a timed slice."""

    def __init__(self, app: AsgiApp, path: str) -> None:
        self.path = path
        self._served = ServedApp(app)

    def answer(self, token: str | None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self._served.port, timeout=10)
        try:
            headers = {"Host": "bench.local", "User-Agent": "iamguard-bench"}
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            connection.request("GET", self.path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def run_for(self, token: str | None, seconds: float, expected: int = 200) -> Slice:
        spec = {"port": self._served.port, "request": request_bytes(self.path, token).decode("latin-1"),
                "seconds": seconds, "depth": PIPELINE_DEPTH, "expected": expected}
        finished = subprocess.run([sys.executable, str(LOADGEN)], input=json.dumps(spec), capture_output=True,
                                  text=True, timeout=seconds + 60, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"the load generator failed: {finished.stderr.strip()[-500:]}")
        result: dict[str, Any] = json.loads(finished.stdout)
        return Slice(int(result["requests"]), float(result["seconds"]), int(result["unexpected"]))

    def close(self) -> None:
        self._served.close()
