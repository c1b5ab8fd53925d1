"""Second red-team regressions for the VerdictMemo in django_iamguard (spec LOG-04, CACHE-04).

The middleware recalls an allow before Django routes the request and checks the routing in
`process_view`. The recalled allow used to be audited at once: a request then routed elsewhere (a
later middleware chose another URLconf) left an Allow record for a view that never ran next to
the Deny of its real decision, and a request a later middleware answered itself (no view at all)
left an Allow record that the full path never writes. The record is now written only once the
routing is confirmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

from iamguard.audit import MemorySink
from iamguard.web import Guard
from tests.credentials.conftest import Env, build_env
from tests.integrations import django_memo_urls as site_module
from tests.web.memo_support import TENANT, session_tokens


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Env, dict[str, str]]]:
    env = build_env("memory", tmp_path)
    site_module.reset()
    yield env, session_tokens(env)
    site_module.reset()


@pytest.mark.parametrize(("mode", "status", "second"), [
    ("invoice", 403, [("Deny", "orders:GetInvoice")]),  # routed elsewhere: only its own decision
    ("limit", 429, []),  # no view ran: no decision, no record
])
@pytest.mark.parametrize("reuse", [True, False])
def test_a_recalled_allow_is_audited_only_for_the_view_it_was_remembered_for(
        site: tuple[Env, dict[str, str]], reuse: bool, mode: str, status: int, second: list[tuple[str, str]]) -> None:
    env, tokens = site
    sink = MemorySink()
    guard = Guard(env.creds, tenant=TENANT, audit=sink, clock=env.clock, reuse_allows=reuse)
    with override_settings(ROOT_URLCONF=site_module.__name__, MIDDLEWARE=site_module.MIDDLEWARE,
                           IAMGUARD={"GUARD": guard}):
        client = Client(REMOTE_ADDR="192.0.2.10")
        headers = {"Authorization": f"Bearer {tokens['alice']}"}
        assert client.get("/orders/1", headers=headers).status_code == 200
        site_module.LATER["mode"] = mode
        assert client.get("/orders/1", headers=headers).status_code == status
        site_module.LATER["mode"] = ""
        assert client.get("/orders/1", headers=headers).status_code == 200
    expected = [("Allow", "orders:GetOrder"), *second, ("Allow", "orders:GetOrder")]
    assert [(record.effect, record.action) for record in sink.records] == expected
