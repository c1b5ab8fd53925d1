"""The VerdictMemo gives an allow again only where deciding anew would give the same allow.

Through the ASGI middleware, against a real credentials store on a frozen clock: a repeated
request within its second is not decided again (the guard is not asked), and every input that
could change the answer makes the next request decided again: another second, a store write in
this process (detach, revoke, tag), another token of the same user (with or without MFA),
another peer, header, query or method, a route map change, an audit sink that wants allows, a
store that cannot answer. A property test runs random request sequences through a memo app and
a memo-less app side by side and compares every answer (spec CACHE-01, CACHE-03, CACHE-04).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamguard.asgi import Iam, IamMiddleware
from iamguard.audit import MemorySink
from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.store.database import StoreError
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard, rule
from iamguard.web.guard import Reusable, Verdict
from iamguard.web.memo import VerdictMemo
from iamguard.web.request import IamContext
from iamguard.web.wsgi import environ_key, environ_of_key
from tests.credentials.conftest import Env, build_env
from tests.web.asgi_support import RawResponse, call_raw
from tests.web.memo_support import ALICE, ORDER, TENANT, DenialsOnly, Flaky, session_tokens


class Shop:
    """One tenant on a frozen clock, an app protected by the middleware, and a count of the
    guard's decisions (a request the memo answered is not counted)."""

    def __init__(self, env: Env, *, reuse: bool = True, sink: MemorySink | None = None) -> None:
        self.env = env
        self.clock: FrozenClock = env.clock
        self.sink = sink if sink is not None else DenialsOnly()
        self.guard = Guard(env.creds, tenant=TENANT, audit=self.sink, clock=env.clock, reuse_allows=reuse,
                           routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
        self.decided = 0
        check = self.guard.check

        async def counted(request: Any) -> Verdict:
            self.decided += 1
            return await check(request)

        refuse = self.guard.refuse

        def counted_refusal(request: Any, rejection: Any) -> Verdict:
            self.decided += 1
            return refuse(request, rejection)

        self.guard.check = counted  # type: ignore[method-assign]
        self.guard.refuse = counted_refusal  # type: ignore[method-assign]
        self.seen: list[IamContext] = []

        async def get_order(request: Request) -> Response:
            self.seen.append(request.state.iam)
            return JSONResponse({"order": request.path_params["order_id"]})

        self.app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"])],
                             middleware=[Iam(self.guard).middleware()])

    def get(self, token: str, target: bytes = b"/orders/1", *, method: str = "GET",
            peer: str = "192.0.2.10", headers: tuple[tuple[str, str], ...] = ()) -> RawResponse:
        sent = (("authorization", f"Bearer {token}"), *headers)
        return asyncio.run(call_raw(self.app, method, target, sent, client=(peer, 5000)))


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Shop, dict[str, str]]:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    return Shop(env), tokens


def test_a_repeated_request_is_answered_without_deciding_again(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    first, second = app.get(tokens["alice"]), app.get(tokens["alice"])
    assert (first.status, second.status, app.decided) == (200, 200, 1)
    assert first.body == second.body == b'{"order":"1"}'
    assert first.headers["cache-control"] == second.headers["cache-control"] == "private"
    # The handler gets the decision's IamContext, with a request id of its own.
    remembered, recalled = app.seen
    assert recalled.request_id != remembered.request_id
    assert {**vars(recalled), "request_id": None} == {**vars(remembered), "request_id": None}
    assert (recalled.principal, recalled.resource) == (ALICE, f"arn:app:orders::{TENANT}:order/1")


def test_the_next_second_decides_again(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    app.get(tokens["alice"])
    app.clock.advance(0.5)  # still the same second when the frozen clock started on one
    app.get(tokens["alice"])
    decided = app.decided
    app.clock.advance(1)
    assert app.get(tokens["alice"]).status == 200
    assert app.decided == decided + 1


def test_an_mfa_age_crossing_its_limit_counts_at_the_next_second(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    answers = []
    for _ in range(4):  # the MFA code was verified at issue; the policy allows 60 s of age
        answers.append((app.get(tokens["bob_mfa"]).status, app.get(tokens["bob_mfa"]).status))
        app.clock.advance(20)
    assert answers == [(200, 200), (200, 200), (200, 200), (200, 200)]
    app.clock.advance(1)
    challenged = app.get(tokens["bob_mfa"])
    assert challenged.status == 401 and "insufficient_user_authentication" in challenged.headers["www-authenticate"]


def test_an_mfa_session_s_allow_is_not_given_to_the_same_user_without_mfa(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    assert app.get(tokens["bob_mfa"]).status == 200
    assert app.get(tokens["bob"]).status == 401  # step-up: the same user, the same request, no MFA
    assert app.get(tokens["bob_mfa"]).status == 200


@pytest.mark.parametrize("change", ["detach", "untag", "revoke", "deactivate_key"])
def test_a_store_write_in_this_process_counts_on_the_next_request(shop: tuple[Shop, dict[str, str]],
                                                                   change: str) -> None:
    app, tokens = shop
    assert app.get(tokens["alice"]).status == app.get(tokens["alice"]).status == 200
    directory, creds = app.env.directory, app.env.creds
    if change == "detach":
        directory.detach_user_policy("alice", directory.list_attached_user_policies("alice").items[0].policy_arn)
    elif change == "untag":
        directory.tag_user("alice", {"team": "red"})
    elif change == "revoke":
        creds.revoke_sessions(ALICE, before=app.clock.time() + 1)
    else:
        creds.update_access_key(creds.list_access_keys("alice")[0].access_key_id, "Inactive", "alice")
    expected = 403 if change in ("detach", "untag") else 401
    assert app.get(tokens["alice"]).status == expected
    assert app.seen and len(app.seen) == 2  # the handler never ran after the change


@pytest.mark.parametrize(("request_args", "status"), [
    ({"peer": "203.0.113.9"}, 403),  # a Deny for that network: the peer is part of the key
    ({"headers": (("user-agent", "evil-bot"),)}, 403),  # a header the policies read
    ({"target": b"/orders/7"}, 403),  # another resource
    ({"target": b"/orders/1?x=1"}, 200),  # another query: decided again, allowed
    ({"method": "DELETE"}, 405),  # another method
    ({"headers": (("x-trace", "2"),)}, 200),  # any other header: decided again, allowed
])
def test_a_request_that_differs_in_anything_is_decided_again(shop: tuple[Shop, dict[str, str]],
                                                            request_args: dict[str, Any], status: int) -> None:
    app, tokens = shop
    assert app.get(tokens["alice"]).status == app.get(tokens["alice"]).status == 200
    decided = app.decided
    assert app.get(tokens["alice"], **request_args).status == status
    assert app.decided == decided + 1


def test_another_token_of_the_same_user_is_decided_again(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    app.get(tokens["alice"])
    app.get(tokens["alice2"])
    assert app.decided == 2
    app.env.creds.revoke_session(app.seen[-1].session)
    assert app.get(tokens["alice2"]).status == 401
    assert app.get(tokens["alice"]).status == 200


def test_denials_are_never_remembered(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    statuses = [app.get(tokens["alice"], b"/orders/7").status for _ in range(3)]
    assert statuses == [403, 403, 403] and app.decided == 3
    assert [record.effect for record in app.sink.records] == ["Deny", "Deny", "Deny"]


def test_a_sink_that_wants_allows_gets_a_record_of_every_recalled_allow(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    app = Shop(env, sink=MemorySink())  # keeps everything
    assert [app.get(tokens["alice"]).status for _ in range(3)] == [200, 200, 200]
    assert app.decided == 1
    records = app.sink.records
    assert [record.effect for record in records] == ["Allow", "Allow", "Allow"]
    assert [record.request_id for record in records] == [iam.request_id for iam in app.seen]
    assert len({record.request_id for record in records}) == 3
    same = {(record.principal, record.session_id, record.action, record.resource, record.statements,
             record.source_ip, record.route, record.reason) for record in records}
    assert len(same) == 1 and next(iter(same))[0] == ALICE


def test_an_allow_remembered_without_a_record_is_decided_once_a_sink_wants_allows(
        shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop  # the sink keeps denials only: the allow is remembered without a record
    app.get(tokens["alice"])
    app.get(tokens["alice"])
    assert app.decided == 1
    keeping = MemorySink()
    app.guard.auditor.sinks = (keeping,)
    assert [app.get(tokens["alice"]).status for _ in range(2)] == [200, 200]
    assert app.decided == 2  # decided (and recorded) once, then recalled with that record
    assert [record.effect for record in keeping.records] == ["Allow", "Allow"]


@pytest.mark.parametrize(("required", "status"), [(True, 503), (False, 200)])
def test_a_recalled_allow_whose_record_cannot_be_written(tmp_path: Path, required: bool, status: int) -> None:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    sink = Flaky()
    app = Shop(env, sink=sink)
    app.guard.config = dataclasses.replace(app.guard.config, require_audit=required)
    assert app.get(tokens["alice"]).status == 200
    sink.failing = True
    assert app.get(tokens["alice"]).status == status
    assert len(app.seen) == (2 if status == 200 else 1)


def test_a_store_that_cannot_answer_is_a_503_not_a_remembered_allow(shop: tuple[Shop, dict[str, str]],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    app, tokens = shop
    assert app.get(tokens["alice"]).status == 200

    def unavailable() -> int:
        raise StoreError("the database is locked")

    # A write in this process means the generation must be read again, and now it cannot be.
    app.env.directory.tag_user("alice", {"team": "blue"})
    for source in app.env.creds.generation_watch._sources:
        monkeypatch.setattr(source, "generation", unavailable)
    answer = app.get(tokens["alice"])
    assert answer.status == 503 and len(app.seen) == 1


def test_another_process_s_write_counts_once_the_cache_ttl_has_passed(tmp_path: Path) -> None:
    """The memo keeps an allow no longer than the credentials' own caches keep the generation:
    a write through another connection to the file (another process) is seen once the
    directory's cache TTL has passed since the store was last read, even within one second."""
    env = build_env("sqlite", tmp_path)
    try:
        tokens = session_tokens(env)
        app = Shop(env)
        app.clock.advance(1.6)
        assert app.get(tokens["alice"]).status == 200  # the generation is read again now (1.6)
        app.clock.advance(0.6)  # the next second (2.2); the generation read at 1.6 holds until 2.6
        assert app.get(tokens["alice"]).status == app.get(tokens["alice"]).status == 200
        assert app.decided == 2
        other = Directory(SQLiteStore(env.store.path), TENANT, clock=env.clock)
        other.detach_user_policy("alice", other.list_attached_user_policies("alice").items[0].policy_arn)
        app.clock.advance(0.3)  # 2.5: within the TTL, as for the credentials' own caches
        assert app.get(tokens["alice"]).status == 200
        app.clock.advance(0.2)  # 2.7: the same second, past the TTL: read again, decided again
        assert app.get(tokens["alice"]).status == 403
        assert app.decided == 3
        other.store.close()
    finally:
        env.store.close()


def test_a_route_map_change_decides_again(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop
    app.get(tokens["alice"])
    app.guard.routes.add(rule("orders:ListOrders", "arn:app:orders::{tenant}:orders", methods="GET", path="/orders"))
    assert app.get(tokens["alice"]).status == 200
    assert app.decided == 2


def test_off_when_turned_off_or_when_an_input_is_the_app_s_own(tmp_path: Path) -> None:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    app = Shop(env, reuse=False)
    assert [app.get(tokens["alice"]).status for _ in range(3)] == [200, 200, 200] and app.decided == 3
    creds = env.creds
    assert VerdictMemo.for_guard(Guard(creds, clock=env.clock)) is not None
    assert VerdictMemo.for_guard(Guard(creds, clock=FrozenClock())) is None  # another clock
    assert VerdictMemo.for_guard(Guard(creds, clock=env.clock, context=[lambda given: {}])) is None
    assert VerdictMemo.for_guard(Guard(creds, clock=env.clock, directory=env.directory,
                                       resolver=lambda request: None)) is None


def test_only_routers_that_read_the_scope_alone_get_a_memo(shop: tuple[Shop, dict[str, str]]) -> None:
    app, tokens = shop

    class Custom(Route):  # may read anything in matches()
        pass

    async def endpoint(request: Request) -> Response:
        return JSONResponse({})

    custom = Starlette(routes=[Custom("/orders/{order_id}", endpoint, methods=["GET"])],
                       middleware=[Iam(app.guard).middleware()])
    for _ in range(3):
        assert asyncio.run(call_raw(custom, "GET", b"/orders/1", [("authorization", f"Bearer {tokens['alice']}")])
                           ).status == 200
    assert app.decided == 3


def _allow(shop: Shop, second: int) -> Verdict:
    iam = IamContext("r", ALICE, "orders:GetOrder", "arn", None, source="bearer")
    return Verdict(True, "allowed", iam,
                   reuse=Reusable(second, shop.env.creds.generation(), shop.guard.routes.version))


def test_a_verdict_from_another_second_is_not_kept(shop: tuple[Shop, dict[str, str]]) -> None:
    app, _ = shop
    memo = VerdictMemo.for_guard(app.guard)
    assert memo is not None
    second = int(app.clock.time())
    assert memo.recall(("k",)) is None  # opens the current second
    memo.remember(("k",), _allow(app, second - 1))
    assert memo.recall(("k",)) is None
    memo.remember(("k",), _allow(app, second))
    assert memo.recall(("k",)) is not None
    memo.remember(([],), _allow(app, second))
    assert memo.recall(([],)) is None  # an unhashable key is neither kept nor an error
    app.clock.advance(1)
    assert memo.recall(("k",)) is None  # a new second drops every entry


def test_the_memo_is_bounded(shop: tuple[Shop, dict[str, str]]) -> None:
    app, _ = shop
    memo = VerdictMemo(app.guard, app.env.creds.generation_watch, limit=2)
    memo.recall("open")
    for key in ("a", "b", "c"):
        memo.remember(key, _allow(app, int(app.clock.time())))
    assert [memo.recall(key) is not None for key in ("a", "b", "c")] == [False, False, True]


# ---- the law: the memo never changes an answer -------------------------------------------------

STEPS = st.lists(st.one_of(
    st.tuples(st.just("get"), st.sampled_from(["alice", "alice2", "bob", "bob_mfa"]),
              st.sampled_from([b"/orders/1", b"/orders/7", b"/orders/2?x=1"]),
              st.sampled_from(["192.0.2.10", "203.0.113.9"])),
    st.tuples(st.just("tick"), st.sampled_from([0.25, 1, 30])),
    st.tuples(st.just("write"), st.sampled_from(["untag", "tag", "revoke_alice2"])),
), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_the_memo_never_changes_an_answer(tmp_path_factory: pytest.TempPathFactory,
                                          steps: list[tuple[Any, ...]]) -> None:
    env = build_env("memory", tmp_path_factory.mktemp("memo"))
    tokens = session_tokens(env)
    remembering, deciding = Shop(env, reuse=True), Shop(env, reuse=False)
    for step in steps:
        if step[0] == "get":
            _, who, target, peer = step
            answers = [shop.get(tokens[who], target, peer=peer) for shop in (remembering, deciding)]
            assert answers[0].status == answers[1].status, step
            assert answers[0].body == answers[1].body
        elif step[0] == "tick":
            env.clock.advance(step[1])
        elif step[1] == "untag":
            env.directory.tag_user("alice", {"team": "red"})
        elif step[1] == "tag":
            env.directory.tag_user("alice", {"team": "blue"})
        elif _alive(env, tokens["alice2"]):
            env.creds.revoke_session(env.creds.authenticate(tokens["alice2"]))
    assert remembering.decided <= deciding.decided


def _alive(env: Env, token: str) -> bool:
    try:
        env.creds.authenticate(token)
    except Exception:  # revoked already
        return False
    return True


def test_middleware_keeps_a_memo_only_with_a_reusing_guard(shop: tuple[Shop, dict[str, str]]) -> None:
    app, _ = shop

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        return None

    assert IamMiddleware(inner, app.guard)._memo is not None
    assert IamMiddleware(inner, Guard(app.env.creds, clock=FrozenClock()))._memo is None


# ---- the WSGI key ------------------------------------------------------------------------------

def test_the_environ_key_holds_every_string_but_the_peer_port() -> None:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/orders/1", "REMOTE_ADDR": "192.0.2.1",
                               "REMOTE_PORT": "50000", "HTTP_AUTHORIZATION": "Bearer a", "wsgi.input": object()}
    key = environ_key(environ)
    assert key == environ_key({**environ, "REMOTE_PORT": "50001", "wsgi.input": object()})  # another connection
    assert key != environ_key({**environ, "HTTP_AUTHORIZATION": "Bearer b"})
    assert key != environ_key({**environ, "HTTP_X_ANYTHING": "1"})
    proxied = {**environ, "werkzeug.proxy_fix.orig": {"REMOTE_ADDR": "10.0.0.1"}}
    assert environ_key(proxied) != environ_key({**environ, "werkzeug.proxy_fix.orig": {"REMOTE_ADDR": "10.0.0.2"}})
    # The environ as screened can be read back from the key (for a decision after later rewrites).
    kept = environ_key(proxied)
    assert kept is not None
    assert environ_of_key(kept) == {name: value for name, value in proxied.items()
                                    if isinstance(value, (str, dict)) and name != "REMOTE_PORT"}

    class Text(str):  # its own comparison could make two values one key: no key at all
        pass

    assert environ_key({**environ, "HTTP_AUTHORIZATION": Text("Bearer a")}) is None
    # Which entries to keep is learnt once per shape (names, in order); values are checked every time.
    assert environ_key({**environ, "PATH_INFO": b"/orders/1"}) is None  # the shape of `environ`
    assert environ_key({**environ, "HTTP_X_COUNT": 5}) is None  # a name the guard reads, not a string
    assert environ_key({**environ, "HTTP_X.COUNT": 5}) is None  # a header, even with a dot in its name
    assert environ_key({**environ, "wsgi.url_scheme": "https"}) != environ_key({**environ, "wsgi.url_scheme": "http"})
    assert environ_key({**environ, "wsgi.url_scheme": None}) is None
    assert environ_key({"REMOTE_PORT": "1"}) == environ_key({"REMOTE_PORT": "2"})
    assert environ_key({"PATH_INFO": "/a"}) != environ_key({"PATH_INFO": "/b"})
    assert environ_of_key(environ_key({"PATH_INFO": "/a", "REMOTE_PORT": "1"})) == {"PATH_INFO": "/a"}
    assert environ_key({**environ, "werkzeug.proxy_fix.orig": ["not", "a", "mapping"]}) is None


# ---- FastAPI: endpoint routes are remembered, included routers are not ------------------------

def _fastapi(shop: Shop, *, included: bool) -> Any:
    from fastapi import APIRouter, FastAPI

    api = FastAPI()
    router = APIRouter() if included else api.router

    @router.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    if included:
        api.include_router(router)
    api.add_middleware(IamMiddleware, iam=shop.guard)
    return api


@pytest.mark.parametrize(("included", "decided"), [(False, 1), (True, 3)])
def test_fastapi_endpoint_routes_are_remembered(shop: tuple[Shop, dict[str, str]], included: bool,
                                                decided: int) -> None:
    app, tokens = shop
    api = _fastapi(app, included=included)
    bearer = [("authorization", f"Bearer {tokens['alice']}")]
    answers = [asyncio.run(call_raw(api, "GET", b"/orders/1", bearer)) for _ in range(3)]
    assert [(answer.status, answer.body) for answer in answers] == [(200, b'{"order":1}')] * 3
    assert app.decided == decided
    # A spelling the handler would read as another value is refused, and never remembered.
    refused = [asyncio.run(call_raw(api, "GET", b"/orders/01", bearer)).status for _ in range(2)]
    assert refused == [400, 400] and app.decided == decided + 2
