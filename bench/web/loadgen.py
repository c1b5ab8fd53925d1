"""A load generator for the loopback row, run as its own process (standard library only).

It reads one JSON object on stdin: `{"port": int, "request": str (latin-1 text of one whole HTTP/1.1
request), "seconds": float, "depth": int, "expected": int}`. Over one keep-alive connection it sends
`depth` copies of the request at a time (HTTP/1.1 pipelining) and reads the `depth` responses
back, until `seconds` have passed. It writes `{"requests", "seconds", "unexpected"}` as JSON on
stdout, `unexpected` counting responses whose status was not `expected`.

Pipelining keeps the server busy without one round trip per request, and a process of its own
keeps the client's work off the server's core, so the rate is the server's.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

_CHUNK = 1 << 16


class ResponseReader:
    """Reads whole HTTP/1.1 responses (framed by Content-Length) from a stream of bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.statuses: list[int] = []

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                break
            head = bytes(buffer[start:end]).split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(buffer) < end + 4 + length:
                break
            self.statuses.append(int(head[0].split(b" ", 2)[1]))
            start = end + 4 + length
        del buffer[:start]


def run(port: int, request: bytes, seconds: float, depth: int, expected: int) -> dict[str, Any]:
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    batch = request * depth
    reader = ResponseReader()
    clock = time.perf_counter
    started = clock()
    try:
        while True:
            connection.sendall(batch)
            target = len(reader.statuses) + depth
            while len(reader.statuses) < target:
                data = connection.recv(_CHUNK)
                if not data:
                    raise ConnectionError(f"the server closed the connection after {len(reader.statuses)} responses")
                reader.feed(data)
            if clock() - started >= seconds:
                break
    finally:
        connection.close()
    elapsed = clock() - started
    unexpected = sum(1 for status in reader.statuses if status != expected)
    return {"requests": len(reader.statuses), "seconds": elapsed, "unexpected": unexpected}


def main() -> None:
    spec = json.load(sys.stdin)
    result = run(int(spec["port"]), spec["request"].encode("latin-1"), float(spec["seconds"]),
                 int(spec["depth"]), int(spec["expected"]))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
