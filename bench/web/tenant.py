"""The tenant behind the protected apps: one reader allowed to read orders, one outsider allowed
nothing, each holding a session token obtained through an access key, on the SQLite store."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from iamguard.audit import AuditSink
from iamguard.credentials import AccessKeyCredentials, Credentials
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore
from iamguard.web import Guard, SessionAuthority, rule

TENANT = "111122223333"
ROUTE = "/orders/{order_id}"
PATH = "/orders/1001"  # the request every client sends
HELLO = b"hello"  # what every hello-world handler answers
ACTION = "orders:GetOrder"
RESOURCE = "arn:app:orders::{tenant}:order/{order_id}"
READ_ORDERS = {"Version": "2012-10-17", "Statement": [
    {"Sid": "ReadOrders", "Effect": "Allow", "Action": ACTION,
     "Resource": f"arn:app:orders::{TENANT}:order/*"}]}


@dataclass(frozen=True)
class WebTenant:
    credentials: Credentials
    reader_arn: str
    reader_token: str = field(repr=False)  # allowed to GET the route
    outsider_token: str = field(repr=False)  # authenticated, allowed nothing

    def guard(self, authority: SessionAuthority | None = None, *, reuse_allows: bool = True,
              audit: AuditSink | None = None) -> Guard:
        """The guard every iamguard-protected app uses: the route map's one rule, default settings
        otherwise (audit to the `iamguard.audit` logger, system clock, allows reused within their
        second). `authority` replaces the credentials as the session authority (the diagnostic
        contender); `reuse_allows=False` decides every request (the "every request decided" rows);
        `audit` replaces the audit sink (the "allows audited" rows)."""
        return Guard(authority if authority is not None else self.credentials, tenant=TENANT,
                     routes=[rule(ACTION, RESOURCE, methods="GET", path=ROUTE)], reuse_allows=reuse_allows,
                     audit=audit)


def _token(credentials: Credentials, user_name: str) -> str:
    key = credentials.create_access_key(user_name)
    return credentials.get_session_token(AccessKeyCredentials(key.access_key_id, key.secret_access_key)).token


def seed(path: Path) -> WebTenant:
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    # Keys from the "secret manager": without them iamguard keeps generated ones in the store and warns.
    credentials = Credentials(directory, data_key=secrets.token_bytes(32), pepper=secrets.token_bytes(32))
    reader = directory.create_user("reader")
    directory.attach_user_policy("reader", directory.create_policy("ReadOrders", READ_ORDERS).arn)
    directory.create_user("outsider")
    return WebTenant(credentials, reader.arn, _token(credentials, "reader"), _token(credentials, "outsider"))


@contextmanager
def web_tenant() -> Iterator[WebTenant]:
    """A freshly seeded tenant in a temporary SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="iamguard-bench-web-") as folder:
        tenant = seed(Path(folder) / "web.db")
        try:
            yield tenant
        finally:
            tenant.credentials.directory.store.close()
