"""Red-team regressions for the VerdictMemo in django_iamguard.

A request recalled before routing whose routing then turns out different (a later middleware chose
another URLconf) is decided anew; that decision must read the request as the server gave it, as
the full path does, and not `request.META` as a later middleware rewrote it (here: REMOTE_ADDR
taken from a client-sent X-Forwarded-For), or a forged source address decides it (CTX-01, CACHE-04).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

from iamguard.web import Guard
from tests.credentials.conftest import Env, build_env
from tests.integrations import django_memo_urls as site_module
from tests.web.memo_support import TENANT, DenialsOnly, session_tokens

INTERNAL = "10.0.0.5"
INVOICES_FROM_INSIDE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetInvoice", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": f"{INTERNAL}/32"}}}]}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Env, dict[str, str]]]:
    env = build_env("memory", tmp_path)
    tokens = session_tokens(env)
    env.directory.put_user_policy("alice", "invoices", INVOICES_FROM_INSIDE)
    site_module.reset()
    yield env, tokens
    site_module.reset()


@pytest.mark.parametrize("reuse", [True, False])
def test_a_recalled_request_routed_elsewhere_is_decided_on_the_server_s_peer(
        site: tuple[Env, dict[str, str]], reuse: bool) -> None:
    env, tokens = site
    guard = Guard(env.creds, tenant=TENANT, audit=DenialsOnly(), clock=env.clock, reuse_allows=reuse)
    with override_settings(ROOT_URLCONF=site_module.__name__, MIDDLEWARE=site_module.MIDDLEWARE,
                           IAMGUARD={"GUARD": guard}):
        client = Client(REMOTE_ADDR="192.0.2.10")
        headers = {"Authorization": f"Bearer {tokens['alice']}", "X-Forwarded-For": INTERNAL}
        assert client.get("/orders/1", headers=headers).status_code == 200
        site_module.LATER["mode"] = "invoice"  # the same request, in the same second, now routes elsewhere
        answer = client.get("/orders/1", headers=headers)
    # The server's peer is 192.0.2.10, outside the network the invoice policy allows.
    assert answer.status_code == 403
    assert [view for view, _ in site_module.SEEN] == ["order"]
