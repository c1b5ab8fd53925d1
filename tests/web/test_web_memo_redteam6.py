"""Sixth red-team review of the remembered-allow path (spec CACHE-04, CACHE-05, MAP-13).

1. A remembered allow and a decided one are the same answer: for one request sequence (repeats,
   another token, MFA, a denied peer, agent and order, a store write, the next second) every
   adapter (Starlette, Flask, Django WSGI and ASGI) gives, with and without the memo, the same
   statuses, headers and bodies, the same IamContext (request id aside) and the same audit records
   (time, request id and latency aside).
2. Flask: the guard's hook runs before every other `before_request` hook, so a later hook that
   rewrote `request.method` (a `_method` form field turned into DELETE) had a MethodView run the
   DELETE handler of a request authorized as GET, remembered or decided alike. The view decorator
   now refuses a rewritten method with 400, as django_iamguard does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask, g, request
from flask.views import MethodView
from flask_iamguard import IamGuard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.audit import AuditRecord, MemorySink
from iamguard.web import Guard, IamContext, rule
from iamguard.web.memo import VerdictMemo
from tests.credentials.conftest import Env, build_env
from tests.web.asgi_support import call_raw
from tests.web.memo_support import ORDER, TENANT, session_tokens

ORDER_RULE = rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")
PEER = "192.0.2.10"

# An answer as the client and the handler saw it: status, headers, body, the IamContext's fields
# (request id aside) or None when no handler ran.
Answer = tuple[int, dict[str, str], bytes, dict[str, Any] | None]
Send = Callable[[str, bytes, tuple[tuple[str, str], ...], str], Answer]


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


def _fields(iam: IamContext | None) -> dict[str, Any] | None:
    """The handler's IamContext as comparable values (its request id is each request's own)."""
    if iam is None:
        return None
    decision = iam.decision
    return {**vars(iam), "request_id": None, "session": getattr(iam.session, "jti", iam.session),
            "decision": (decision.effect, tuple(map(str, decision.statements))) if decision is not None else None,
            "path_params": dict(iam.path_params)}


def _starlette(guard: Guard) -> Send:
    seen: list[IamContext] = []

    async def get_order(request: Request) -> Response:
        seen.append(request.state.iam)
        return JSONResponse({"order": request.path_params["order_id"]})

    app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"])],
                    middleware=[Iam(guard).middleware()])

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...], peer: str) -> Answer:
        seen.clear()
        answer = asyncio.run(call_raw(app, method, target, headers, client=(peer, 5000)))
        return answer.status, answer.headers, answer.body, _fields(seen[0] if seen else None)

    return send


def _flask(guard: Guard) -> Send:
    app = Flask("memo_redteam6", static_folder=None)
    IamGuard(app, guard=guard)
    seen: list[IamContext] = []

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> Any:
        seen.append(g.iam)
        return {"order": order_id}

    client = app.test_client()

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...], peer: str) -> Answer:
        seen.clear()
        answer = client.open(unquote(target.decode("latin-1")), method=method, headers=list(headers),
                             environ_base={"REMOTE_ADDR": peer})
        return answer.status_code, dict(answer.headers), answer.data, _fields(seen[0] if seen else None)

    return send


def _django(kind: str) -> Callable[[Guard], Send]:
    """Run inside `_django_site()`. Each guard keeps its own settings (and so its own memo) for the
    whole sequence: `override_settings` per request would start every request with a new memo."""

    def build(guard: Guard) -> Send:
        from django.test import AsyncClient, Client
        from django_iamguard import conf

        from tests.integrations import django_memo_urls as site

        mine = conf.IamGuardSettings(guard, memo=VerdictMemo.for_guard(guard))

        def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...], peer: str) -> Answer:
            site.reset()
            conf._current = mine  # this guard's settings, as conf.load() keeps them between requests
            path = unquote(target.decode("latin-1"))
            if kind == "wsgi":
                answer = Client(REMOTE_ADDR=peer).generic(method, path, headers=dict(headers))
            else:
                answer = asyncio.run(AsyncClient().generic(method, path, headers=dict(headers)))
            return (answer.status_code, dict(answer.headers), answer.content,
                    _fields(site.SEEN[0][1] if site.SEEN else None))

        return send

    return build


@contextlib.contextmanager
def _django_site(adapter: str, guard: Guard) -> Iterator[None]:
    if not adapter.startswith("django"):
        yield
        return
    from tests.integrations.support import configure_django

    configure_django()
    from django.test import override_settings

    from tests.integrations import django_memo_urls as site

    with override_settings(ROOT_URLCONF=site.__name__, MIDDLEWARE=["django_iamguard.middleware.IamGuardMiddleware"],
                           IAMGUARD={"GUARD": guard}):
        yield


ADAPTERS = {"starlette": _starlette, "flask": _flask, "django-wsgi": _django("wsgi"), "django-asgi": _django("asgi")}


def _record(record: AuditRecord) -> tuple[Any, ...]:
    return (record.effect, record.reason, record.status, record.principal, record.session_id, record.action,
            record.resource, record.statements, record.method, record.route, record.source_ip, record.user_agent,
            record.detail)


def _guard(env: Env, adapter: str, reuse: bool) -> tuple[Guard, MemorySink]:
    sink = MemorySink()  # wants every record, allows included
    routes = [ORDER_RULE] if adapter in ("starlette", "flask") else []  # the Django views declare theirs
    return Guard(env.creds, tenant=TENANT, audit=sink, clock=env.clock, reuse_allows=reuse, routes=routes), sink


def _bearer(token: str, *more: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"), *more)


def _count(guard: Guard, counts: list[int], index: int) -> None:
    """Count `guard`'s decisions in counts[index] (an answer the memo gives is not one)."""
    check, check_sync = guard.check, guard.check_sync

    async def counted(described: Any) -> Any:
        counts[index] += 1
        return await check(described)

    def counted_sync(described: Any) -> Any:
        counts[index] += 1
        return check_sync(described)

    guard.check = counted  # type: ignore[method-assign]
    guard.check_sync = counted_sync  # type: ignore[method-assign]


STEPS: list[Any] = [
    ("GET", b"/orders/1", "alice", ()),
    ("GET", b"/orders/1", "alice2", ()),
    ("GET", b"/orders/1", "alice", (("User-Agent", "evil-bot"),)),
    ("GET", b"/orders/7", "alice", ()),
    ("GET", b"/orders/1", "bob", ()),
    ("GET", b"/orders/1", "bob_mfa", ()),
    ("GET", b"/orders/1?x=1", "alice", ()),
    ("HEAD", b"/orders/1", "alice", ()),
    "untag",
    ("GET", b"/orders/1", "alice", ()),
    "tag",
    ("GET", b"/orders/1", "alice", ()),
    "tick",
    ("GET", b"/orders/1", "alice", ()),
    ("GET", b"/orders/1", "bob_mfa", ()),  # bob's MFA is now too old
]


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_a_remembered_allow_is_the_answer_deciding_gives(tmp_path: Path, adapter: str) -> None:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    (remembering, remembered_sink), (deciding, decided_sink) = _guard(env, adapter, True), _guard(env, adapter, False)
    with _django_site(adapter, deciding):
        _differential(env, tokens, adapter, (remembering, remembered_sink), (deciding, decided_sink))


def _differential(env: Env, tokens: dict[str, str], adapter: str, remembering_pair: tuple[Guard, MemorySink],
                  deciding_pair: tuple[Guard, MemorySink]) -> None:
    (remembering, remembered_sink), (deciding, decided_sink) = remembering_pair, deciding_pair
    sends = ADAPTERS[adapter](remembering), ADAPTERS[adapter](deciding)
    decided = [0, 0]
    for index, guard in enumerate((remembering, deciding)):
        _count(guard, decided, index)
    # Django's AsyncClient has a fixed peer: the second peer is asked of the others only.
    peers = (PEER,) if adapter == "django-asgi" else (PEER, "203.0.113.9")
    statuses: list[int] = []
    for step in STEPS:
        if step == "untag":
            env.directory.tag_user("alice", {"team": "red"})
        elif step == "tag":
            env.directory.tag_user("alice", {"team": "blue"})
        elif step == "tick":
            env.clock.advance(61)
        else:
            method, target, who, more = step
            for peer in peers:
                for _ in range(2):  # decided, then repeated (the memo's answer)
                    mine, theirs = (send(method, target, _bearer(tokens[who], *more), peer) for send in sends)
                    assert mine == theirs, (step, peer)
                    statuses.append(mine[0])
    assert [_record(record) for record in remembered_sink.records] == \
        [_record(record) for record in decided_sink.records]
    assert {200, 401, 403} <= set(statuses)  # allows, denials and a step-up
    assert decided[0] < decided[1]  # the memo did answer some of the repeated requests


# ---- Flask: a method rewritten after the guard decided (MAP-13) -------------------------------------

def _method_view_app(env: Env, reuse: bool) -> tuple[Flask, MemorySink, list[str]]:
    sink = MemorySink()
    guard = Guard(env.creds, tenant=TENANT, audit=sink, clock=env.clock, reuse_allows=reuse)
    app = Flask("memo_redteam6_override", static_folder=None)
    iam = IamGuard(app, guard=guard)
    ran: list[str] = []

    class OrderView(MethodView):
        @iam.require("orders:GetOrder", ORDER, methods="GET")
        def get(self, order_id: str) -> Any:
            ran.append("get")
            return {"order": order_id}

        @iam.require("orders:DeleteOrder", ORDER, methods="DELETE")
        def delete(self, order_id: str) -> Any:
            ran.append("delete")
            return {"deleted": order_id}

    app.add_url_rule("/orders/<order_id>", view_func=OrderView.as_view("order"))

    @app.before_request
    def method_override() -> None:  # the app's own override, after the guard's hook
        override = request.headers.get("X-Test-Method")
        if override:
            request.method = override

    return app, sink, ran


@pytest.mark.parametrize("reuse", [True, False], ids=["memo", "full"])
@pytest.mark.parametrize(("method", "override", "status", "ran"), [
    ("GET", None, 200, ["get", "get"]),
    ("GET", "DELETE", 400, []),  # alice may read, not delete: the DELETE handler never runs
    ("GET", "delete", 400, []),  # MethodView lower-cases the method: still the DELETE handler
    ("DELETE", None, 403, []),  # sent as DELETE, the guard decides it: alice may not delete
])
def test_flask_refuses_a_method_rewritten_after_the_guard_decided(tmp_path: Path, reuse: bool, method: str,
                                                                  override: str | None, status: int,
                                                                  ran: list[str]) -> None:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    app, sink, handled = _method_view_app(env, reuse)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['alice']}", **({"X-Test-Method": override} if override else {})}
    answers = [client.open("/orders/1", method=method, headers=headers) for _ in range(2)]  # the second may be recalled
    assert [answer.status_code for answer in answers] == [status, status]
    assert handled == ran
    if status == 400:
        assert all(b"method overrides are not accepted" in answer.data for answer in answers)
        assert [record.reason for record in sink.records if record.effect == "Deny"] == ["malformed_request"] * 2


def test_the_refusal_of_a_rewritten_method_shares_the_request_id_of_the_allow_before_it(tmp_path: Path) -> None:
    """The trail shows one request, allowed by the hook and then refused by the decorator: both
    records carry the same request id and the client's address."""
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    app, sink, handled = _method_view_app(env, reuse=False)
    answer = app.test_client().get("/orders/1", headers={"Authorization": f"Bearer {tokens['alice']}",
                                                         "X-Test-Method": "DELETE"},
                                   environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert answer.status_code == 400 and handled == []
    allow, deny = sink.records
    assert (allow.effect, deny.effect, deny.reason) == ("Allow", "Deny", "malformed_request")
    assert deny.request_id == allow.request_id
    assert deny.source_ip == "192.0.2.44"
