"""The audit trail's laws (spec LOG-01..04, README "Security model"), as properties.

Random sequences of web requests go through the Starlette middleware, flask_iamguard and
django_iamguard in process (memo on, `audit_allows` on), and random sequences of admin operations
through `Directory` and `Credentials` (refused ones and `Directory.batch()`es that raise
included), with hostile values (CR/LF, U+2028, ANSI escapes, bidi marks, very long and JSON-looking
text) in names, paths, headers and user agents. Laws:

1. exactly one decision record per request that reached the guard, its effect and status those of
   the response, its request id unique across the run; none for a request the router answered;
2. exactly one record per successful directory or credentials change, naming its target; none for
   a refused one or a batch that raised;
3. every record is one line in the JSON lines and the logging sink and parses back to its values,
   with only printable ASCII in it;
4. no token, cookie, Authorization header, secret access key, password, TOTP seed or code or
   recovery code in any record or log line;
5. the three adapters record the same fields for the same request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from iamguard.audit import Auditor, AuditRecord, JsonLinesSink, LoggingSink, MemorySink
from iamguard.clock import FrozenClock
from iamguard.credentials import Credentials
from iamguard.credentials import totp as totp_math
from iamguard.directory import Directory
from iamguard.store.database import StoreError
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard, rule
from tests.credentials.conftest import TENANT, build_env, cheap_settings
from tests.integrations.support import call_wsgi, configure_django
from tests.web.asgi_support import call_raw
from tests.web.memo_support import ORDER, session_tokens

ORDER_RULE = rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")
ADAPTERS = ("starlette", "flask", "django")
SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Hostile text: line breaks, separators, ANSI, bidi, NUL, quotes, braces, long runs.
HOSTILE_PIECES = ["\r\n", "\n", "\r", "\u2028", "\u2029", "\u0085", "\x1b[31m", "\x1b]0;x\x07", "\u202e", "\u200f",
                  "\u2066", "\x00", "\t", '{"effect":"Allow","status":200}', '"}\n{"a":"', "\\", "<script>", "%0a",
                  "INFO User: Admin", "A" * 300, "é"]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=8)), max_size=5).map("".join)
secret_like = st.text(string.ascii_letters + string.digits + "-_.", min_size=24, max_size=40)

SEEN_REQUEST_IDS: set[str] = set()


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


class Lines(logging.Handler):
    """Keeps each formatted log record, as a handler writing a file would."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Trail:
    """One auditor with a memory, a JSON lines and a logging sink; `take()` returns what each got
    since the last call."""

    def __init__(self, directory: Path, name: str) -> None:
        self.memory = MemorySink()
        self.path = directory / f"{name}.jsonl"
        self.path.touch()
        logger = logging.getLogger(f"tests.audit_properties.{name}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.handlers[:] = []
        self.log = Lines()
        logger.addHandler(self.log)
        self.auditor = Auditor([self.memory, JsonLinesSink(self.path), LoggingSink(logger)])
        self._offset = 0

    def take(self) -> tuple[list[AuditRecord], list[str], list[str]]:
        records = list(self.memory.records)
        self.memory.clear()
        data = self.path.read_bytes()
        text = data[self._offset:].decode("ascii")
        self._offset = len(data)
        logged = list(self.log.lines)
        self.log.lines.clear()
        return records, text.splitlines(keepends=True), logged


def check_rendering(records: list[AuditRecord], file_lines: list[str], log_lines: list[str]) -> None:
    """Law 3: each record is exactly one line in either sink, printable ASCII only, and parses
    back to the record's values."""
    assert len(file_lines) == len(records) and len(log_lines) == len(records)
    for record, line, logged in zip(records, file_lines, log_lines, strict=True):
        assert line.endswith("\n") and line.count("\n") == 1
        body = line[:-1]
        assert all(" " <= char <= "~" for char in body), body
        assert json.loads(body) == record.to_dict()
        assert body == record.to_json()
        assert "\n" not in logged and "\r" not in logged and all(" " <= char <= "~" for char in logged)
        assert logged.endswith(" " + body)
        parsed = json.loads(body)
        for name in ("user_agent", "resource", "principal", "route", "method", "source_ip", "action"):
            assert parsed[name] == getattr(record, name)


def check_secret_free(secrets: list[str], *texts: str) -> None:
    """Law 4, on the raw text and on what a JSON parser makes of it (escapes undone)."""
    for text in texts:
        decoded = text
        with contextlib.suppress(ValueError):
            decoded = json.dumps(json.loads(text.split(" ", 2)[-1] if text[:1] != "{" else text), ensure_ascii=False)
        for secret in secrets:
            assert secret not in text and secret not in decoded, f"a secret in an audit line: {text[:200]}"


# ---- web requests through the three adapters ------------------------------------------------------

def _starlette(guard: Guard) -> Callable[..., int]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from iamguard.asgi import Iam

    async def get_order(request: Request) -> Response:
        return JSONResponse({"order": request.path_params["order_id"]})

    app = Starlette(routes=[Route("/orders/{order_id}", get_order, methods=["GET"])],
                    middleware=[Iam(guard).middleware()])

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> int:
        return asyncio.run(call_raw(app, method, target, headers)).status

    return send


def _flask(guard: Guard) -> Callable[..., int]:
    from flask import Flask
    from flask_iamguard import IamGuard

    app = Flask("audit_properties", static_folder=None)
    IamGuard(app, guard=guard)

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> Any:
        return {"order": order_id}

    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> int:
        return call_wsgi(app, method, target, headers).status

    return send


def _django(handler: Any) -> Callable[..., int]:
    def send(method: str, target: bytes, headers: tuple[tuple[str, str], ...]) -> int:
        return call_wsgi(handler, method, target, headers).status

    return send


class Site:
    def __init__(self, tmp: Path) -> None:
        self.env = build_env("memory", tmp)
        self.tokens = session_tokens(self.env)
        self.trails = {name: Trail(tmp, name) for name in ADAPTERS}
        self.guards = {name: Guard(self.env.creds, tenant=TENANT, audit=self.trails[name].auditor, clock=self.env.clock,
                                   routes=[] if name == "django" else [ORDER_RULE], audit_allows=True,
                                   reuse_allows=True) for name in ADAPTERS}
        authenticate = self.env.creds.authenticate

        def faulty(token: object) -> Any:  # a store that cannot answer, for the "fault" tokens only
            if isinstance(token, str) and token.startswith("fault"):
                raise StoreError("database is locked")
            return authenticate(token)

        self.env.creds.authenticate = faulty  # type: ignore[method-assign]
        self.senders: dict[str, Callable[..., int]] = {"starlette": _starlette(self.guards["starlette"]),
                                                      "flask": _flask(self.guards["flask"])}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    configure_django()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    from tests.integrations import django_memo_urls

    built = Site(tmp_path_factory.mktemp("audit_properties"))
    with override_settings(ROOT_URLCONF=django_memo_urls.__name__,
                           MIDDLEWARE=["django_iamguard.middleware.IamGuardMiddleware"],
                           IAMGUARD={"GUARD": built.guards["django"]}):
        built.senders["django"] = _django(WSGIHandler())
        yield built
    django_memo_urls.reset()


def _raw(text: str) -> str:
    """What a server hands over for these header bytes: UTF-8 read as latin-1."""
    return text.encode("utf-8").decode("latin-1")


order_id = st.one_of(st.sampled_from(["1", "1", "2", "7", "x", "{\"a\":1}"]), st.sampled_from(["1", "2"]),
                     hostile_text.map(lambda text: text or "\u202e"), st.just("9" * 1100))
requests = st.tuples(
    st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "TRACE", "get"]),
    st.one_of(order_id.map(lambda value: "/orders/" + quote(value, safe="")),
              st.sampled_from(["/nowhere", "/orders/1/"])),
    st.sampled_from(["alice", "alice", "alice2", "bob", "bob_mfa", "none", "forged", "two", "fault", "query"]),
    st.one_of(st.none(), hostile_text),
    st.booleans(),
)


def _headers(site: Site, token: str, agent: str | None, cookie: str | None, forged: str) -> tuple[
        tuple[tuple[str, str], ...], str]:
    headers: list[tuple[str, str]] = []
    query = ""
    if token == "forged":
        headers.append(("authorization", f"Bearer {forged}"))
    elif token == "fault":
        headers.append(("authorization", f"Bearer fault{forged}"))
    elif token == "two":
        headers += [("authorization", f"Bearer {site.tokens['alice']}"), ("authorization", f"Bearer {forged}")]
    elif token == "query":
        query = f"?access_token={forged}"
    elif token != "none":
        headers.append(("authorization", f"Bearer {site.tokens[token]}"))
    if agent is not None:
        headers.append(("user-agent", _raw(agent)))
    if cookie is not None:
        headers.append(("cookie", f"session={cookie}"))
    return tuple(headers), query


def _fields(record: AuditRecord) -> tuple[Any, ...]:
    # `route` is left out: it is what each router made of the request, and Flask's and Django's
    # routers refuse a method or a malformed target before they name a route.
    return (record.effect, record.reason, record.status, record.principal, record.session_id, record.action,
            record.resource, record.statements, record.method, record.source_ip, record.user_agent, record.detail,
            dict(record.extra))


@SETTINGS
@given(steps=st.lists(requests, min_size=1, max_size=6), forged=secret_like, cookie=secret_like)
def test_every_request_that_reaches_the_guard_leaves_one_clean_record_the_same_in_every_adapter(
        site: Site, steps: list[Any], forged: str, cookie: str) -> None:
    secrets = [*site.tokens.values(), forged, cookie]
    for method, path, token, agent, with_cookie in steps:
        headers, query = _headers(site, token, agent, cookie if with_cookie else None, forged)
        target = (path + query).encode("ascii")
        seen: dict[str, tuple[int, list[AuditRecord]]] = {}
        for name in ADAPTERS:
            status = site.senders[name](method, target, headers)
            records, file_lines, log_lines = site.trails[name].take()
            check_rendering(records, file_lines, log_lines)
            sent = [value for header, value in headers if header in ("authorization", "cookie")]
            check_secret_free(secrets + sent, *file_lines, *log_lines,
                              *(repr(record) for record in records))
            if status == 404 or 300 <= status < 400:  # the router answered (no route, a slash redirect)
                assert records == [], (name, method, target)
            else:
                assert len(records) == 1, (name, method, target, status, records)
                record = records[0]
                assert record.effect == ("Allow" if 200 <= status < 300 else "Deny"), (name, record)
                assert record.status == (None if record.effect == "Allow" else status), (name, record, status)
                assert record.request_id not in SEEN_REQUEST_IDS
                SEEN_REQUEST_IDS.add(record.request_id)
                if agent is not None:
                    assert record.user_agent == _raw(agent)
            seen[name] = status, records
            event(f"status {status}")
        statuses = {status for status, _ in seen.values()}
        if len(statuses) == 1:  # the routers agree (Django's function views take every method)
            fields = [[_fields(record) for record in records] for _, records in seen.values()]
            assert all(each == fields[0] for each in fields), fields


# Every kind of answer the guard gives, so the property above is known to meet each one.
COVERAGE = [("GET", "/orders/1", "alice", None, False, 200), ("GET", "/orders/1", "alice", "evil\r\nbot", True, 403),
            ("GET", "/orders/1", "bob", "\u202e\x1b[2J", False, 401), ("GET", "/orders/1", "none", None, False, 401),
            ("GET", "/orders/1", "forged", None, True, 401), ("GET", "/orders/1", "two", None, False, 400),
            ("GET", "/orders/1", "query", None, False, 400), ("GET", "/orders/%0a", "alice", None, False, 400),
            ("GET", "/orders/1", "fault", None, False, 503), ("TRACE", "/orders/1", "alice", None, False, 405),
            ("GET", "/nowhere", "alice", None, False, 404), ("HEAD", "/orders/1", "alice", None, False, 200)]


def test_the_table_meets_every_kind_of_answer(site: Site) -> None:
    for method, path, token, agent, with_cookie, expected in COVERAGE:
        headers, query = _headers(site, token, agent, "c00kie-value-that-is-secret" if with_cookie else None,
                                  "forged-token-value-0123456789")
        statuses = {name: site.senders[name](method, (path + query).encode(), headers) for name in ADAPTERS}
        assert set(statuses.values()) == {expected}, (method, path, token, statuses)
        records = {name: site.trails[name].take()[0] for name in ADAPTERS}
        assert all(len(found) == (0 if expected == 404 else 1) for found in records.values()), records
        if expected == 503:
            assert {found[0].reason for found in records.values()} == {"store_unavailable"}


# ---- admin operations: Directory and Credentials on one SQLite file --------------------------------

NAMES = ["alice", "bob", "carol"]
user_name = st.one_of(st.sampled_from(NAMES), hostile_text)
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
# A password long enough to be told apart from every other text in a record, hostile or not.
password = st.tuples(secret_like, hostile_text).map(lambda parts: "Pw9!" + parts[0] + parts[1])
operations = st.lists(st.one_of(
    st.tuples(st.just("create_user"), user_name),
    st.tuples(st.just("delete_user"), user_name),
    st.tuples(st.just("tag_user"), user_name, st.one_of(st.just("team"), hostile_text), hostile_text),
    st.tuples(st.just("put_user_policy"), user_name, st.one_of(st.just("main"), hostile_text)),
    st.tuples(st.just("create_access_key"), user_name),
    st.tuples(st.just("create_login_profile"), user_name, password),
    st.tuples(st.just("check_password"), user_name, password),
    st.tuples(st.just("mfa"), st.sampled_from(NAMES[:2])),
    st.tuples(st.just("batch"), st.lists(st.sampled_from([*NAMES, "dave", "erin"]), min_size=1, max_size=3)),
), min_size=1, max_size=8)


class Boom(Exception):
    """What ends a batch: nothing in it may stay, or be recorded."""


def _admin(tmp: Path) -> tuple[Directory, Credentials, Trail, FrozenClock]:
    clock = FrozenClock()
    store = SQLiteStore(tmp / "iam.db")
    Directory.create_tenant(store, TENANT, clock=clock)
    trail = Trail(tmp, "admin")
    directory = Directory(store, TENANT, clock=clock, audit=trail.auditor)
    return directory, Credentials(directory, clock=clock, audit=trail.auditor, **cheap_settings()), trail, clock


def _apply(directory: Directory, creds: Credentials, clock: FrozenClock, op: tuple[Any, ...],
           secrets: list[str]) -> tuple[str, str] | None:
    """Run one operation; the (event, target user name) of the change it made, None when refused."""
    kind, name = op[0], op[1]
    if kind == "create_user":
        directory.create_user(name)
        return "CreateUser", name
    if kind == "delete_user":
        directory.delete_user(name)
        return "DeleteUser", name
    if kind == "tag_user":
        directory.tag_user(name, {op[2]: op[3]})
        return "TagUser", name
    if kind == "put_user_policy":
        directory.put_user_policy(name, op[2], DOC)
        return "PutUserPolicy", name
    if kind == "create_access_key":
        key = creds.create_access_key(name)
        secrets.append(key.secret_access_key)
        return "access_key_created", name
    if kind == "create_login_profile":
        secrets.append(op[2])
        creds.create_login_profile(name, op[2])
        return "login_profile_created", name
    if kind == "check_password":
        secrets.append(op[2])
        creds.check_password(name, op[2])
        raise AssertionError("a random password was accepted")
    if kind == "mfa":
        device = creds.create_virtual_mfa_device(name, f"phone{clock.time():.0f}")
        secrets.append(device.base32_seed)
        now = clock.time()
        first, second = totp_math.code_at(device.base32_seed, now - 30), totp_math.code_at(device.base32_seed, now)
        creds.enable_mfa_device(name, device.serial_number, first, second)
        clock.advance(30)
        code = totp_math.code_at(device.base32_seed, clock.time())
        codes = creds.create_recovery_codes(name, device.serial_number, code)
        secrets.extend([first, second, code, *codes])
        clock.advance(30)
        return None  # several changes: counted by the caller
    with directory.batch():  # "batch"
        for each in op[1]:
            directory.create_user(each)
            secrets.append(creds.create_access_key(each).secret_access_key)
        raise Boom()


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_every_admin_change_leaves_one_clean_record_and_a_refused_one_none(
        tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[Any, ...]]) -> None:
    directory, creds, trail, clock = _admin(tmp_path_factory.mktemp("admin"))
    directory.create_user("alice")
    directory.create_user("bob")
    secrets: list[str] = []
    for op in ops:
        trail.take()
        before = {name: _exists(directory, name) for name in [*NAMES, "dave", "erin"]}
        try:
            change = _apply(directory, creds, clock, op, secrets)
        except AssertionError:
            raise
        except Exception:  # refused (invalid name, conflict, missing user) or a batch that raised
            change = ("refused", "")
        event(f"{op[0]}: {'refused' if change is not None and change[0] == 'refused' else 'changed'}")
        records, file_lines, log_lines = trail.take()
        check_rendering(records, file_lines, log_lines)
        check_secret_free(secrets, *file_lines, *log_lines, *(repr(record) for record in records))
        changes = [record for record in records if record.effect == "Allow"]
        if change is None:  # mfa: a device created and enabled, a set of recovery codes
            assert [record.extra["event"] for record in changes] == [
                "mfa_device_created", "mfa_device_enabled", "recovery_codes_created"]
        elif change[0] == "refused":
            assert changes == [], (op, records)
            assert {name: _exists(directory, name) for name in before} == before  # nothing stayed either
        else:
            assert len(changes) == 1, (op, records)
            extra = changes[0].extra
            assert extra["event"] == change[0]
            if extra["component"] == "directory":
                assert extra["target"]["name"] == change[1]
                assert changes[0].resource == f"arn:aws:iam::{TENANT}:user/{change[1]}"
            else:
                assert extra["user_id"] == directory.get_user(change[1]).user_id


def _exists(directory: Directory, name: str) -> bool:
    try:
        directory.get_user(name)
    except Exception:
        return False
    return True
