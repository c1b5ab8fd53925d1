"""The web guard's answers never go stale (spec CACHE-01, CACHE-02, CACHE-04, CACHE-05), as properties.

Random directory and credentials changes (policies attached, detached, put, deleted and re-versioned,
group membership, boundaries, the tags a condition reads, revoked sessions, deactivated keys, users
deleted and recreated or renamed, route-map changes) are interleaved with random requests (several
principals' tokens, repeated and near-identical requests, Bearer and cookie, GET, HEAD and DELETE)
sent through the real adapters in process (Starlette with `Iam(...).middleware()`, Flask with
flask_iamguard, Django with django_iamguard's middleware), each with its own VerdictMemo, over one
SQLite store, on a FrozenClock the test moves (within a second, across seconds, past cache_ttl).

Law: every answer (status, and for a 2xx the handler's view of the principal) equals the answer of a
guard and app freshly built over the same store at the same clock; so all three adapters agree.
A change made by a second process (a second store object over the same file) may be unseen for at
most cache_ttl after it is made, and is never answered stale after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask_iamguard import IamGuard
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamguard.asgi import Iam
from iamguard.audit import MemorySink
from iamguard.credentials import AccessKeyCredentials, Credentials
from iamguard.directory import Directory
from iamguard.errors import IamGuardError
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard, IamContext, RouteMap, rule
from tests.credentials.conftest import Env, build_env
from tests.integrations.support import call_wsgi, configure_django
from tests.web.asgi_support import call_raw
from tests.web.memo_support import ORDER, TENANT

TTL = 1.0  # the directory's default cache_ttl: another process's write is seen within it
PEER = "192.0.2.10"
ORIGIN = "http://testserver"
COOKIE = "sid"
ORDERS = f"arn:app:orders::{TENANT}:order/*"

READ = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "orders:GetOrder", "Resource": ORDERS,
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
    {"Sid": "NoEvilAgents", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"StringLike": {"aws:UserAgent": "evil*"}}},
    {"Sid": "NotSeven", "Effect": "Deny", "Action": "*", "Resource": f"arn:app:orders::{TENANT}:order/7"}]}
READ_V2 = {"Version": "2012-10-17", "Statement": [  # version 2: no tag condition, order 7 readable
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": ORDERS}]}
WRITE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["orders:DeleteOrder", "orders:CancelOrder"], "Resource": ORDERS}]}
ONLY_READ = {"Version": "2012-10-17", "Statement": [  # a boundary
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"}]}
GROUP_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": f"arn:app:orders::{TENANT}:order/1"}]}
EXTRA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": f"arn:app:orders::{TENANT}:order/2"}]}
FRESH_MFA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["orders:DeleteOrder", "orders:GetOrder"], "Resource": ORDERS,
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                   "NumericLessThanEquals": {"aws:MultiFactorAuthAge": "60"}}}]}

USERS = ("alice", "bob", "carol")
# DELETE /orders/{order_id} is protected by the route map alone; its rule changes while requests flow.
ROUTE_MAPS: tuple[tuple[Any, ...], ...] = (
    (rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/orders/{order_id}"),),
    (rule("orders:CancelOrder", ORDER, methods="DELETE", path="/orders/{order_id}"),),
    (),  # unmapped: 403 (401 without a credential)
)

# (status, the handler's view of the principal: None when no handler ran)
Answer = tuple[int, Any]
Send = Callable[[str, bytes, tuple[tuple[str, str], ...]], Answer]


def _view(iam: Any) -> Any:
    assert isinstance(iam, IamContext)
    return (iam.principal, iam.action, iam.resource, iam.source, getattr(iam.session, "jti", None),
            dict(iam.path_params))


def _guard(credentials: Credentials, clock: Any, routes: int) -> Guard:
    return Guard(credentials, tenant=TENANT, audit=MemorySink(), clock=clock, routes=RouteMap(ROUTE_MAPS[routes]),
                 cookie_name=COOKIE, trusted_origins=(ORIGIN,))


# ---- the adapters -------------------------------------------------------------------------------

def _starlette(guard: Guard, loop: asyncio.AbstractEventLoop) -> Send:
    seen: list[Any] = []
    iam = Iam(guard)

    @iam.protect("orders:GetOrder", ORDER, methods="GET")
    async def get_order(request: Request) -> Response:
        seen.append(_view(request.state.iam))
        return JSONResponse({"order": request.path_params["order_id"]})

    async def delete_order(request: Request) -> Response:
        seen.append(_view(request.state.iam))
        return JSONResponse({"deleted": request.path_params["order_id"]})

    app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"]),
                            Route("/orders/{order_id}", delete_order, methods=["DELETE"])],
                    middleware=[iam.middleware()])

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Answer:
        seen.clear()
        answer = loop.run_until_complete(call_raw(app, method, target, headers, client=(PEER, 5000)))
        return answer.status, seen[0] if seen else None

    return send


def _flask(guard: Guard) -> Send:
    seen: list[Any] = []
    app = Flask("stale_properties", static_folder=None)
    iam = IamGuard(app, guard=guard)

    @app.get("/orders/<order_id>")
    @iam.require("orders:GetOrder", ORDER, methods="GET")
    def get_order(order_id: str) -> Any:
        seen.append(_view(g.iam))
        return {"order": order_id}

    @app.delete("/orders/<order_id>")
    def delete_order(order_id: str) -> Any:
        seen.append(_view(g.iam))
        return {"deleted": order_id}

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Answer:
        seen.clear()
        answer = call_wsgi(app, method, target, headers)
        return answer.status, seen[0] if seen else None

    return send


def _django_urlconf(seen: list[Any]) -> Any:
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path
    from django_iamguard.decorators import iam_required

    @iam_required("orders:GetOrder", ORDER, methods="GET")
    def order(request: HttpRequest, order_id: str) -> HttpResponse:
        seen.append(_view(request.iam))  # type: ignore[attr-defined]
        return JsonResponse({"order": order_id})

    class Urls:  # a URLconf need only be an object with `urlpatterns`
        urlpatterns = [path("orders/<str:order_id>", order)]

    return Urls


@contextlib.contextmanager
def _django(guard: Guard) -> Iterator[Send]:
    """The Django app for `guard`, for as long as the context lasts (the setting keeps one memo)."""
    configure_django()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    seen: list[Any] = []
    with override_settings(ROOT_URLCONF=_django_urlconf(seen), IAMGUARD={"GUARD": guard},
                           MIDDLEWARE=["django_iamguard.middleware.IamGuardMiddleware"]):
        handler = WSGIHandler()

        def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> Answer:
            seen.clear()
            answer = call_wsgi(handler, method, target, headers)
            return answer.status, seen[0] if seen else None

        yield send


# ---- the world: one SQLite store, this process and a second one ---------------------------------

@dataclass
class World:
    env: Env
    remote: tuple[Directory, Credentials]  # another process: its own store object over the same file
    arns: dict[str, str]
    keys: dict[str, AccessKeyCredentials]
    names: dict[str, str]  # each user's current name (renames)
    tokens: list[tuple[str, str]]  # (user, token), in the order issued
    routes: int = 0

    def side(self, remote: bool) -> tuple[Directory, Credentials]:
        return self.remote if remote else (self.env.directory, self.env.creds)

    def fresh_credentials(self) -> Credentials:
        """Credentials as a process that starts now has them: nothing cached."""
        env = self.env
        return Credentials(Directory(env.store, TENANT, clock=env.clock), clock=env.clock, **env.settings)


def _provision(directory: Directory, creds: Credentials, user: str, arns: dict[str, str]) -> AccessKeyCredentials:
    directory.create_user(user)
    if user == "alice":
        directory.tag_user(user, {"team": "blue"})
        directory.attach_user_policy(user, arns["read"])
    elif user == "bob":
        directory.add_user_to_group("readers", user)
        directory.put_user_policy(user, "fresh", FRESH_MFA)
    else:
        directory.attach_user_policy(user, arns["write"])
        directory.attach_user_policy(user, arns["read"])
    key = creds.create_access_key(user)
    return AccessKeyCredentials(key.access_key_id, key.secret_access_key)


def _world(path: Path) -> World:
    env = build_env("sqlite", path)
    directory, creds = env.directory, env.creds
    arns = {"read": directory.create_policy("Read", READ).arn, "write": directory.create_policy("Write", WRITE).arn,
            "boundary": directory.create_policy("OnlyRead", ONLY_READ).arn}
    directory.create_policy_version(arns["read"], READ_V2)  # v2, not the default
    directory.create_group("readers")
    directory.put_group_policy("readers", "read", GROUP_READ)
    keys = {user: _provision(directory, creds, user, arns) for user in USERS}
    device = env.enabled_device("bob")  # moves the clock 30 s
    tokens = [(user, creds.get_session_token(keys[user]).token) for user in (*USERS, "alice")]
    tokens.append(("bob", creds.get_session_token(keys["bob"], serial_number=device.serial_number,
                                                  mfa_code=env.code(device)).token))
    tokens.append(("nobody", "forged.token.value"))
    remote_store = SQLiteStore(path / "iamguard.db")
    remote_directory = Directory(remote_store, TENANT, clock=env.clock)
    remote = (remote_directory, Credentials(remote_directory, clock=env.clock, **env.settings))
    return World(env, remote, arns, keys, {user: user for user in USERS}, tokens)


def _delete_user(directory: Directory, creds: Credentials, name: str) -> None:
    for key in creds.list_access_keys(name):
        creds.delete_access_key(key.access_key_id, name)
    for group in directory.list_groups_for_user(name).items:
        directory.remove_user_from_group(group.group_name, name)
    for attached in directory.list_attached_user_policies(name).items:
        directory.detach_user_policy(name, attached.policy_arn)
    for inline in directory.list_user_policies(name).items:
        directory.delete_user_policy(name, inline)
    directory.delete_user(name)


def _change(world: World, kind: str, user: str, remote: bool) -> None:
    """One change, made by this process or the other one; a change the directory refuses (detaching
    what is not attached, deleting a user with an MFA device) changes nothing."""
    directory, creds = world.side(remote)
    name, arns = world.names[user], world.arns
    actions: dict[str, Callable[[], Any]] = {
        "attach_read": lambda: directory.attach_user_policy(name, arns["read"]),
        "detach_read": lambda: directory.detach_user_policy(name, arns["read"]),
        "attach_write": lambda: directory.attach_user_policy(name, arns["write"]),
        "detach_write": lambda: directory.detach_user_policy(name, arns["write"]),
        "put_inline": lambda: directory.put_user_policy(name, "extra", EXTRA),
        "delete_inline": lambda: directory.delete_user_policy(name, "extra"),
        "join": lambda: directory.add_user_to_group("readers", name),
        "leave": lambda: directory.remove_user_from_group("readers", name),
        "group_policy_off": lambda: directory.delete_group_policy("readers", "read"),
        "group_policy_on": lambda: directory.put_group_policy("readers", "read", GROUP_READ),
        "read_v1": lambda: directory.set_default_policy_version(arns["read"], "v1"),
        "read_v2": lambda: directory.set_default_policy_version(arns["read"], "v2"),
        "boundary": lambda: directory.put_user_permissions_boundary(name, arns["boundary"]),
        "unbound": lambda: directory.delete_user_permissions_boundary(name),
        "tag_blue": lambda: directory.tag_user(name, {"team": "blue"}),
        "tag_red": lambda: directory.tag_user(name, {"team": "red"}),
        "untag": lambda: directory.untag_user(name, ["team"]),
        "revoke_sessions": lambda: creds.revoke_sessions(f"arn:aws:iam::{TENANT}:user/{name}"),
        "key_off": lambda: creds.update_access_key(world.keys[user].access_key_id, "Inactive", name),
        "key_on": lambda: creds.update_access_key(world.keys[user].access_key_id, "Active", name),
    }
    try:
        if kind in actions:
            actions[kind]()
        elif kind == "new_token":
            world.tokens.append((user, creds.get_session_token(world.keys[user]).token))
        elif kind == "revoke_token":
            mine = [token for owner, token in world.tokens if owner == user]
            creds.revoke_session(creds.authenticate(mine[-1]))
        elif kind == "rename":
            new = user if name != user else f"{user}-2"
            directory.update_user(name, new_user_name=new)
            world.names[user] = new
        elif kind == "recreate":
            _delete_user(directory, creds, name)
            world.names[user] = user
            world.keys[user] = _provision(directory, creds, user, arns)
            world.tokens.append((user, creds.get_session_token(world.keys[user]).token))
        else:
            raise AssertionError(kind)
    except IamGuardError:
        pass


CHANGES = ("attach_read", "detach_read", "attach_write", "detach_write", "put_inline", "delete_inline", "join",
           "leave", "group_policy_off", "group_policy_on", "read_v1", "read_v2", "boundary", "unbound", "tag_blue",
           "tag_red", "untag", "revoke_sessions", "key_off", "key_on", "new_token", "revoke_token", "rename",
           "recreate")
TARGETS = (b"/orders/1", b"/orders/2", b"/orders/7", b"/orders/1?x=1", b"/orders/1?x=2", b"/orders/11")
EXTRAS: tuple[tuple[tuple[str, str], ...], ...] = ((), (("x-trace", "1"),), (("x-trace", "2"),),
                                                   (("user-agent", "evil-bot"),), (("user-agent", "good-bot"),))
ADVANCES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 61.0)

change_step = st.tuples(st.just("change"), st.sampled_from(CHANGES), st.sampled_from(USERS),
                        st.sampled_from((True, True, False)))  # mostly the other process: cache-bound
request_step = st.tuples(st.just("request"), st.sampled_from(("GET", "GET", "HEAD", "DELETE")),
                         st.sampled_from(TARGETS), st.integers(0, 40), st.booleans(), st.sampled_from(EXTRAS),
                         st.integers(1, 3))
advance_step = st.tuples(st.just("advance"), st.sampled_from(ADVANCES))
routes_step = st.tuples(st.just("routes"), st.integers(0, len(ROUTE_MAPS) - 1))
# Half requests, a sixth changes, a quarter clock moves, the rest route-map changes.
step = st.integers(0, 11).flatmap(lambda roll: request_step if roll < 6 else change_step if roll < 8
                                  else advance_step if roll < 11 else routes_step)
steps = st.lists(step, min_size=12, max_size=40)


def _headers(token: str, cookie: bool, method: str, extra: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if not cookie:
        return (("authorization", f"Bearer {token}"), *extra)
    origin = (("origin", ORIGIN),) if method == "DELETE" else ()  # a cookie's unsafe request needs its Origin
    return (("cookie", f"{COOKIE}={token}"), *origin, *extra)


@contextlib.contextmanager
def _running(world: World) -> Iterator[tuple[dict[str, tuple[Guard, Send]], asyncio.AbstractEventLoop]]:
    """The three long-lived apps: Starlette on this process's Credentials (the one that writes),
    Flask and Django each on Credentials of their own over the same store object."""
    env = world.env
    loop = asyncio.new_event_loop()
    try:
        starlette_guard = _guard(env.creds, env.clock, world.routes)
        flask_guard = _guard(world.fresh_credentials(), env.clock, world.routes)
        django_guard = _guard(world.fresh_credentials(), env.clock, world.routes)
        with _django(django_guard) as django_send:
            yield {"starlette": (starlette_guard, _starlette(starlette_guard, loop)),
                   "flask": (flask_guard, _flask(flask_guard)),
                   "django": (django_guard, django_send)}, loop
    finally:
        loop.close()


def _run(world: World, program: list[Any]) -> list[int]:
    """Run `program`; assert the law on every answer. Returns the statuses the reference gave."""
    env = world.env
    statuses: list[int] = []
    unseen_until = float("-inf")  # another process's latest write may be unseen until then
    with _running(world) as (apps, loop):
        for step in program:
            if step[0] == "advance":
                env.clock.advance(step[1])
            elif step[0] == "routes":
                world.routes = step[1]
                for guard, _ in apps.values():
                    guard.routes = RouteMap(ROUTE_MAPS[step[1]])
            elif step[0] == "change":
                _, kind, user, remote = step
                _change(world, kind, user, remote)
                if remote:
                    unseen_until = env.clock.time() + TTL
            else:
                _, method, target, index, cookie, extra, repeats = step
                token = world.tokens[index % len(world.tokens)][1]
                headers = _headers(token, cookie, method, extra)
                fresh = _starlette(_guard(world.fresh_credentials(), env.clock, world.routes), loop)
                expected = fresh(method, target, headers)
                statuses.append(expected[0])
                assert (expected[0] < 300) == (expected[1] is not None), expected
                for name, (_, send) in apps.items():
                    for attempt in range(repeats):
                        got = send(method, target, headers)
                        if env.clock.time() >= unseen_until:
                            assert got == expected, (name, attempt, step, env.clock.time())
                        else:  # within cache_ttl of another process's write: the old answer, or the new
                            assert got[0] in (200, 401, 403), (name, attempt, step, got)
    return statuses


@contextlib.contextmanager
def _tempdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="iamguard-stale-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Random programs rarely line the caches' clocks up as the regression below needs: its program is one example.
_DESYNCED = [("request", "GET", b"/orders/1", 0, False, (), 2), ("advance", 1.0),
             ("request", "GET", b"/orders/1", 0, True, (), 2), ("advance", 0.5),
             ("request", "HEAD", b"/orders/1", 3, False, (), 1), ("advance", 0.25),
             ("change", "detach_read", "alice", True), ("advance", 0.25),
             ("request", "GET", b"/orders/1", 0, False, (), 2), ("advance", 2.0),
             ("request", "GET", b"/orders/1", 0, False, (), 2)]


@settings(max_examples=40, deadline=None, database=None)
@given(program=steps)
@example(program=_DESYNCED)
def test_every_answer_is_a_fresh_guards_answer_on_every_adapter(program: list[Any]) -> None:
    with _tempdir() as path:
        world = _world(path)
        try:
            _run(world, program)
        finally:
            world.remote[0].store.close()
            world.env.store.close()


# ---- regressions ----------------------------------------------------------------------------------

def _get(index: int, target: bytes = b"/orders/1") -> tuple[Any, ...]:
    return ("request", "GET", target, index, False, (), 2)


# The directory's principal cache re-reads the store generation on its own schedule, apart from the
# credentials' generation watch. A token warm in the watch (re-read at t=1.0) and a cold token that
# refreshed only the principal cache (at t=1.5) leave the watch due first: another process's write
# at t=1.75 is seen by the watch at t=2.0, and the session, its policies and its liveness were then
# rebuilt from the principal cache's entry of the older generation, and kept under the new one:
# stale for as long as nothing else was written (here still at t=4.0, past the TTL bound).
DESYNC = [_get(0), ("advance", 1.0), _get(0), ("advance", 0.5), _get(3), ("advance", 0.25)]
STALE_AFTER_REMOTE_WRITE = {
    "policy detached": ("detach_read", "alice", 0, 403),
    "tag a condition reads": ("tag_red", "alice", 0, 403),
    "group policy deleted": ("group_policy_off", "bob", 1, 401),  # a step-up: fresh MFA would allow
    "user deleted and recreated": ("recreate", "alice", 0, 401),
    "user renamed": ("rename", "alice", 0, 401),
}


@pytest.mark.parametrize(("kind", "user", "token", "status"), list(STALE_AFTER_REMOTE_WRITE.values()),
                         ids=list(STALE_AFTER_REMOTE_WRITE))
def test_another_process_write_is_not_kept_stale_by_the_principal_cache(kind: str, user: str, token: int,
                                                                         status: int) -> None:
    desync = [_get(token), *DESYNC[1:2], _get(token), DESYNC[3], _get(3 if user == "alice" else 4), DESYNC[5]]
    program = [*desync, ("change", kind, user, True), ("advance", 0.25), _get(token), ("advance", 2.0),
               _get(token), ("advance", 0.5), _get(token)]
    with _tempdir() as path:
        world = _world(path)
        try:
            statuses = _run(world, program)
        finally:
            world.remote[0].store.close()
            world.env.store.close()
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == status
