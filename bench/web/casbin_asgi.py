"""A pure ASGI middleware enforcing a pycasbin model, written for the overhead comparison.

pycasbin ships no ASGI middleware of its own; this one has the shape such middlewares have (and
the shape iamguard's has): read the bearer token, turn it into a subject, ask the enforcer about
(subject, path, method), then answer 401, 403 or run the app. The model is the one-rule
equivalent of the iamguard route map and policy: the reader may GET `/orders/:order_id`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import casbin
from casbin.model import Model

MODEL = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && keyMatch2(r.obj, p.obj) && r.act == p.act
"""
CASBIN_ROUTE = "/orders/:order_id"  # keyMatch2's spelling of /orders/{order_id}

SubjectOf = Callable[[str], "str | None"]  # bearer token -> subject, None when not acceptable

_UNAUTHORIZED = (401, [(b"www-authenticate", b"Bearer"), (b"content-type", b"application/json")],
                 json.dumps({"error": "Unauthorized"}).encode())
_FORBIDDEN = (403, [(b"content-type", b"application/json")], json.dumps({"error": "AccessDenied"}).encode())


def enforcer_for(subject: str) -> casbin.Enforcer:
    model = Model()
    model.load_model_from_text(MODEL)
    enforcer = casbin.Enforcer(model)
    enforcer.add_policy(subject, CASBIN_ROUTE, "GET")
    return enforcer


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


class CasbinMiddleware:
    """`Middleware(CasbinMiddleware, enforcer=..., subject_of=...)`. Fails closed: a subject
    lookup that raises is a 401, an enforcer that raises a 403."""

    def __init__(self, app: Any, enforcer: casbin.Enforcer, subject_of: SubjectOf) -> None:
        self.app = app
        self.enforcer = enforcer
        self.subject_of = subject_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        try:
            subject = self.subject_of(token) if token is not None else None
        except Exception:  # an unverifiable token is no credential
            subject = None
        if subject is None:
            await self._refuse(send, _UNAUTHORIZED)
            return
        try:
            allowed = self.enforcer.enforce(subject, scope["path"], scope["method"])
        except Exception:
            allowed = False
        if not allowed:
            await self._refuse(send, _FORBIDDEN)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Any, answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode("ascii"))]})
        await send({"type": "http.response.body", "body": body})
