"""Each framework's contenders (bare, iamguard, peers) behind one client, and the status checks
that prove the timed requests take the path they claim to."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.web.clients import AsgiApp, AsgiClient, Client, Slice, WsgiClient
from bench.web.tenant import HELLO, PATH, WebTenant
from iamguard.audit import AUDIT_LOGGER, JsonLinesSink

BARE = "bare"
IAMGUARD = "iamguard"
PEER = "peer"
DIAGNOSTIC = "diagnostic"  # a setup no one should deploy, shown to put the others in proportion
DECIDED = "decided"  # iamguard with reuse_allows=False: what a request that is no repeat costs
DECIDED_LABEL = "iamguard, every request decided"
AUDITED = "audited"  # iamguard with every allow written to a JSON-lines file


@dataclass(frozen=True)
class Contender:
    label: str
    kind: str  # BARE, IAMGUARD, DIAGNOSTIC or PEER
    client: Client
    token: str | None = field(repr=False)  # sent with every timed request
    note: str = ""


@dataclass(frozen=True)
class Framework:
    name: str
    driver: str  # how requests reach the app
    contenders: tuple[Contender, ...]
    close: Callable[[], None] = field(repr=False)
    in_process: bool = True  # False: served over a socket, shown for proportion, no target


@dataclass(frozen=True)
class Unavailable:
    name: str
    reason: str


def starlette(tenant: WebTenant) -> Framework:
    from bench.web import starlette_apps as apps

    def client(app: AsgiApp) -> AsgiClient:
        return AsgiClient(app, PATH)

    folder = tempfile.TemporaryDirectory(prefix="iamguard-bench-audit-")
    audited = ("this row and the next append every allow (and deny) to a JSON-lines file with `JsonLinesSink`, "
               "as a deployment that keeps a full audit trail does: with the memo, and deciding every request")

    def audit_log(name: str) -> JsonLinesSink:
        return JsonLinesSink(Path(folder.name) / f"{name}.jsonl")

    contenders = (
        Contender("bare", BARE, client(apps.bare()), None),
        Contender("iamguard", IAMGUARD, client(apps.with_iamguard(tenant)), tenant.reader_token),
        Contender(DECIDED_LABEL, DECIDED, client(apps.with_iamguard(tenant, reuse_allows=False)),
                  tenant.reader_token),
        Contender("iamguard, allows audited", AUDITED, client(apps.with_iamguard(tenant, audit=audit_log("memo"))),
                  tenant.reader_token, audited),
        Contender(f"{DECIDED_LABEL}, allows audited", AUDITED,
                  client(apps.with_iamguard(tenant, reuse_allows=False, audit=audit_log("decided"))),
                  tenant.reader_token),
        Contender("token table, no policy (floor)", DIAGNOSTIC, client(apps.with_token_table(tenant)),
                  tenant.reader_token,
                  "a pure ASGI middleware that finds the bearer token and looks it up in a dict, then calls "
                  "the app: no policy, expiry or revocation, so not a setup to deploy; the least any "
                  "token-checking middleware adds, against which to read the 15% target"),
        Contender("pycasbin, token verified by iamguard", PEER,
                  client(apps.with_casbin(tenant, apps.verified_subject(tenant))), tenant.reader_token,
                  "subject = `Credentials.authenticate(token).principal_arn`: the same token checks as "
                  "iamguard"),
        Contender("pycasbin, token table", PEER,
                  client(apps.with_casbin(tenant, apps.table_subject(tenant))), tenant.reader_token,
                  "subject = a dict lookup of the token: authorization alone"),
    )
    def close() -> None:
        _close(contenders)
        folder.cleanup()

    return Framework("Starlette", "ASGI app called directly", contenders, close)


def starlette_served(tenant: WebTenant) -> Framework:
    from bench.web import starlette_apps as apps
    from bench.web.loopback import PIPELINE_DEPTH, LoopbackClient

    clients: list[LoopbackClient] = []
    try:
        for app in (apps.bare(), apps.with_iamguard(tenant), apps.with_iamguard(tenant, reuse_allows=False)):
            clients.append(LoopbackClient(app, PATH))
    except BaseException:
        for client in clients:
            client.close()
        raise
    # The bare app gets the reader's token too: every server parses the very same request bytes.
    contenders = (
        Contender("bare", BARE, clients[0], tenant.reader_token),
        Contender("iamguard", IAMGUARD, clients[1], tenant.reader_token),
        Contender(DECIDED_LABEL, DECIDED, clients[2], tenant.reader_token),
    )
    driver = (f"uvicorn (its default HTTP/1.1 parser) on 127.0.0.1, one keep-alive connection, requests "
              f"pipelined {PIPELINE_DEPTH} deep by a load generator in a process of its own")
    return Framework("Starlette on uvicorn", driver, contenders, lambda: _close(contenders), in_process=False)


def flask(tenant: WebTenant) -> Framework:
    from bench.web import flask_apps as apps

    protected = apps.with_iamguard(tenant)
    contenders = (
        Contender("bare", BARE, WsgiClient(apps.bare().wsgi_app, PATH), None),
        Contender("iamguard", IAMGUARD, WsgiClient(protected.wsgi_app, PATH), tenant.reader_token),
        Contender(DECIDED_LABEL, DECIDED, WsgiClient(apps.with_iamguard(tenant, reuse_allows=False).wsgi_app, PATH),
                  tenant.reader_token),
    )
    return Framework("Flask", "`app.wsgi_app(environ, start_response)`", contenders,
                     lambda: _close(contenders))


def django(tenant: WebTenant) -> Framework:
    from bench.web.django_apps import DjangoSite

    site = DjangoSite(tenant.guard())
    deciding = tenant.guard(reuse_allows=False)
    contenders = (
        Contender("bare", BARE, WsgiClient(site.bare, PATH), None),
        Contender("iamguard", IAMGUARD, WsgiClient(site.protected, PATH), tenant.reader_token),
        Contender(DECIDED_LABEL, DECIDED, GuardSwitched(WsgiClient(site.protected, PATH),
                                                        lambda: site.guarded_by(deciding)), tenant.reader_token),
    )

    def close() -> None:
        _close(contenders)
        site.close()

    return Framework("Django", "`WSGIHandler()(environ, start_response)`", contenders, close)


class GuardSwitched:
    """A client whose requests are served under another guard (Django reads its guard from the
    one settings object of the process): switched in around each batch, outside the timing."""

    def __init__(self, client: Client, switched: Callable[[], AbstractContextManager[None]]) -> None:
        self.client = client
        self.switched = switched

    def answer(self, token: str | None) -> tuple[int, bytes]:
        with self.switched():
            return self.client.answer(token)

    def run_for(self, token: str | None, seconds: float, expected: int = 200) -> Slice:
        with self.switched():
            return self.client.run_for(token, seconds, expected)

    def close(self) -> None:
        self.client.close()


BUILDERS: dict[str, Callable[[WebTenant], Framework]] = {
    "Starlette": starlette, "Flask": flask, "Django": django, "Starlette on uvicorn": starlette_served}
INTEGRATIONS = {"Flask": "flask_iamguard", "Django": "django_iamguard", "Starlette on uvicorn": "uvicorn"}


def _close(contenders: tuple[Contender, ...]) -> None:
    for contender in contenders:
        contender.client.close()


def build(name: str, tenant: WebTenant) -> Framework | Unavailable:
    """The framework's contenders, or why they cannot be built (an integration that is missing
    or broken is reported, not fatal: the other frameworks are still measured)."""
    try:
        return BUILDERS[name](tenant)
    except Exception as exc:
        package = INTEGRATIONS.get(name, name)
        return Unavailable(name, f"{package}: {type(exc).__name__}: {exc}")


def expectations(contender: Contender, tenant: WebTenant) -> tuple[tuple[str, str | None, int], ...]:
    """(what is sent, token, status the app must answer)."""
    if contender.kind == BARE:
        return (("no token", None, 200),)
    return (("the reader's token", tenant.reader_token, 200), ("no token", None, 401),
            ("a token of a user allowed nothing", tenant.outsider_token, 403))


def problems(framework: Framework, tenant: WebTenant) -> list[str]:
    """Every expected answer the framework's apps do not give, described; empty when all do. An
    allowed request must also have reached the handler (its body is the handler's)."""
    found = []
    for contender in framework.contenders:
        for sent, token, expected in expectations(contender, tenant):
            try:
                status, body = contender.client.answer(token)
            except Exception as exc:
                found.append(f"{framework.name} {contender.label} with {sent}: {type(exc).__name__}: {exc}")
                continue
            if status != expected:
                found.append(f"{framework.name} {contender.label} with {sent}: {status}, expected {expected}")
            elif expected == 200 and body != HELLO:
                found.append(f"{framework.name} {contender.label} with {sent}: 200 without the handler's "
                             "body")
    return found


@contextmanager
def quiet_denials() -> Iterator[None]:
    """The status checks send denied requests on purpose; their audit records (WARNING) and
    Django's 4xx log lines would otherwise reach stderr through logging's last-resort handler.
    A NullHandler drops them without changing any logger's level, so the allowed path (whose
    audit record is skipped because INFO is off) costs exactly what it costs by default."""
    handlers = [(logging.getLogger(name), logging.NullHandler()) for name in (AUDIT_LOGGER, "django.request")]
    for logger, handler in handlers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
