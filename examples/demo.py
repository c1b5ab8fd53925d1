"""`make demo`: seed the example shop, serve it with uvicorn on 127.0.0.1, print curl commands.

The commands show an allow, a deny with its reason, and an MFA step-up (RFC 9470). Audit
records are printed on the console as the requests arrive. Nothing here is production setup:
the demo enables debug explanations in 403 bodies and prints secrets once so you can use them.

    python examples/demo.py [--db PATH] [--port N]   # --db keeps the store for the other example apps
    python examples/demo.py --self-test      # run the printed flow with httpx and exit
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shlex
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn
from common import Seeded, seed
from starlette_app import create_app

HOST = "127.0.0.1"


def pick_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def instructions(seeded: Seeded, base: str) -> str:
    python = shlex.quote(sys.executable)
    reader, manager = seeded.users["reader"], seeded.users["manager"]
    json_token = f"{python} -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])'"

    def exchange(user: Any) -> str:
        body = shlex.quote(f'{{"access_key_id": "{user.access_key_id}", '
                           f'"secret_access_key": "{user.secret_access_key}"}}')
        return (f"curl -s -X POST {base}/auth/token -H 'content-type: application/json' -d {body} "
                f"| {json_token}")

    seed_text = manager.totp_seed
    totp = f"{python} -c \"import pyotp; print(pyotp.TOTP('{seed_text}').now())\""
    return f"""
iamguard demo: the orders service is listening on {base}
(users: admin, reader, and manager, whose deletes need an MFA younger than 5 minutes)

# 1. Trade access keys for session tokens (secrets are shown once, here):
READER=$({exchange(reader)})
MANAGER=$({exchange(manager)})

# 2. An allow: the reader lists and reads orders.
curl -i {base}/orders -H "Authorization: Bearer $READER"
curl -i {base}/orders/1001 -H "Authorization: Bearer $READER"

# 3. A deny with its reason: the reader may not delete (403; the demo runs in debug mode, so the
#    body explains the implicit deny; the console shows the audit record with reason=implicit_deny).
curl -i -X DELETE {base}/orders/1001 -H "Authorization: Bearer $READER"

# 4. A step-up: the manager may delete, but only with a fresh MFA.
curl -i -X DELETE {base}/orders/1001 -H "Authorization: Bearer $MANAGER"
#    -> 401 WWW-Authenticate: Bearer error="insufficient_user_authentication", ..., max_age=300
#    The manager's TOTP secret is {seed_text} (add it to an authenticator app, or):
CODE=$({totp})
FRESH=$(curl -s -X POST {base}/auth/step-up -H "Authorization: Bearer $MANAGER" \\
  -H 'content-type: application/json' -d "{{\\"mfa_code\\": \\"$CODE\\"}}" | {json_token})
curl -i -X DELETE {base}/orders/1001 -H "Authorization: Bearer $FRESH"
#    -> 204. A code works once: if the step-up says InvalidAuthenticationCode, wait for the next code.

# No token at all: 401 with a bare Bearer challenge.
curl -i {base}/orders
"""


def self_test(base: str, seeded: Seeded) -> list[str]:
    """The printed flow, run with httpx. Returns one line per step; raises on a wrong answer."""
    import httpx

    lines = []
    with httpx.Client(base_url=base, timeout=10) as http:
        def token(user: Any) -> str:
            answer = http.post("/auth/token", json={"access_key_id": user.access_key_id,
                                                    "secret_access_key": user.secret_access_key})
            answer.raise_for_status()
            return str(answer.json()["token"])

        reader, manager = token(seeded.users["reader"]), token(seeded.users["manager"])
        steps = [
            ("allow", "GET", "/orders/1001", reader, 200),
            ("deny", "DELETE", "/orders/1001", reader, 403),
            ("step-up challenge", "DELETE", "/orders/1001", manager, 401),
        ]
        for label, method, path, bearer, expected in steps:
            answer = http.request(method, path, headers={"Authorization": f"Bearer {bearer}"})
            if answer.status_code != expected:
                raise AssertionError(f"{label}: {answer.status_code} {answer.text}")
            lines.append(f"{label}: {answer.status_code} {answer.headers.get('www-authenticate', '')}".rstrip())
        fresh = http.post("/auth/step-up", json={"mfa_code": seeded.users["manager"].totp()},
                          headers={"Authorization": f"Bearer {manager}"})
        fresh.raise_for_status()
        deleted = http.delete("/orders/1001", headers={"Authorization": f"Bearer {fresh.json()['token']}"})
        if deleted.status_code != 204:
            raise AssertionError(f"delete after step-up: {deleted.status_code} {deleted.text}")
        lines.append(f"delete after step-up: {deleted.status_code}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="a new SQLite file for the demo (default: a temporary one)")
    parser.add_argument("--port", type=int, default=8000, help="preferred port (a free one is used if busy)")
    parser.add_argument("--self-test", action="store_true", help="run the flow against the server and exit")
    options = parser.parse_args(argv)

    workdir = None
    if options.db is None:
        workdir = tempfile.TemporaryDirectory(prefix="iamguard-demo-")
        db_path = Path(workdir.name) / "demo.db"
    elif options.db.exists():
        parser.error(f"{options.db} exists; give a new path (the demo prints secrets only when it creates them)")
    else:
        db_path = options.db

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("iamguard.audit").setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The sealing key for TOTP seeds and signing keys; a real app reads it from a secret store. A
    # temporary store gets a fresh one. A store kept with --db is meant to be reopened by the Flask
    # and Django examples, which configure no data_key, so it keeps its key in the store instead
    # (a demo-only shortcut: with a per-run key they could neither sign tokens nor check MFA codes).
    data_key = secrets.token_bytes(32) if options.db is None else None
    seeded = seed(db_path, data_key=data_key)
    app = create_app(db_path, debug=True, data_key=data_key)
    port = pick_port(options.port)
    base = f"http://{HOST}:{port}"
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    try:
        if options.self_test:
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 15
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            try:
                for line in self_test(base, seeded):
                    print(line)
            finally:
                server.should_exit = True
                thread.join(timeout=10)
            return 0
        print(instructions(seeded, base), flush=True)
        print("Press Ctrl-C to stop.\n", flush=True)
        server.run()
        return 0
    finally:
        if workdir is not None:
            workdir.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
