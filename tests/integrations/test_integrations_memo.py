"""The VerdictMemo in flask_iamguard and django_iamguard, through each framework's test client,
against a real credentials store on a frozen clock: a repeated request is answered without
deciding again, a write in this process counts on the next request, any difference in the
request is decided again, and in Django a routing that changed after the key was read (a later
middleware choosing another URLconf) is decided again rather than given the remembered allow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from flask import Flask, g
from flask_iamguard import IamGuard

from iamguard.web import Guard, IamContext, Verdict, rule
from tests.credentials.conftest import Env, build_env
from tests.integrations import django_memo_urls
from tests.web.memo_support import ALICE, ORDER, TENANT, DenialsOnly, session_tokens

ORDER_RULE = rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")


class Counted:
    """A guard whose decisions are counted (answers the memo gives are not); `routes`: its route
    map (the Django views declare their rules themselves)."""

    def __init__(self, env: Env, routes: tuple[Any, ...] = (ORDER_RULE,)) -> None:
        self.guard = Guard(env.creds, tenant=TENANT, audit=DenialsOnly(), clock=env.clock, routes=routes)
        self.decided = 0
        check_sync, check = self.guard.check_sync, self.guard.check

        def counted_sync(request: Any) -> Verdict:
            self.decided += 1
            return check_sync(request)

        async def counted(request: Any) -> Verdict:
            self.decided += 1
            return await check(request)

        self.guard.check_sync = counted_sync  # type: ignore[method-assign]
        self.guard.check = counted  # type: ignore[method-assign]


@pytest.fixture
def env(tmp_path: Path) -> tuple[Env, dict[str, str]]:
    built = build_env("memory", tmp_path)
    return built, session_tokens(built)


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


# ---- Flask ---------------------------------------------------------------------------------------

def _flask(counted: Counted) -> tuple[Flask, list[IamContext]]:
    app = Flask("memo", static_folder=None)
    seen: list[IamContext] = []

    @app.get("/orders/<order_id>")
    def get_order(order_id: str) -> dict[str, str]:
        seen.append(g.iam)
        return {"order": order_id}

    IamGuard(app, guard=counted.guard)
    return app, seen


def test_flask_answers_a_repeated_request_without_deciding_again(env: tuple[Env, dict[str, str]]) -> None:
    built, tokens = env
    counted = Counted(built)
    app, seen = _flask(counted)
    client = app.test_client()
    answers = [client.get("/orders/1", headers=_bearer(tokens["alice"])) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert counted.decided == 1
    assert len({iam.request_id for iam in seen}) == 3 and {iam.principal for iam in seen} == {ALICE}
    assert all("Cache-Control" not in answer.headers for answer in answers)  # Bearer: as the full path
    assert client.get("/orders/1", headers=_bearer(tokens["alice"], **{"User-Agent": "evil"})).status_code == 403
    assert client.get("/orders/2", headers=_bearer(tokens["alice"])).status_code == 200
    assert counted.decided == 3


def test_flask_counts_a_revocation_on_the_next_request(env: tuple[Env, dict[str, str]]) -> None:
    built, tokens = env
    counted = Counted(built)
    app, seen = _flask(counted)
    client = app.test_client()
    assert client.get("/orders/1", headers=_bearer(tokens["alice"])).status_code == 200
    built.creds.revoke_session(seen[0].session)
    assert client.get("/orders/1", headers=_bearer(tokens["alice"])).status_code == 401
    built.clock.advance(1)
    assert client.get("/orders/1", headers=_bearer(tokens["alice2"])).status_code == 200
    assert len(seen) == 2


# ---- Django --------------------------------------------------------------------------------------

@pytest.fixture
def django_site(env: tuple[Env, dict[str, str]]) -> Iterator[tuple[Counted, Env, dict[str, str]]]:
    built, tokens = env
    counted = Counted(built, routes=())
    django_memo_urls.reset()
    with override_settings(ROOT_URLCONF=django_memo_urls.__name__, MIDDLEWARE=django_memo_urls.MIDDLEWARE,
                           IAMGUARD={"GUARD": counted.guard}):
        yield counted, built, tokens
    django_memo_urls.reset()


def test_django_answers_a_repeated_request_without_deciding_again(
        django_site: tuple[Counted, Env, dict[str, str]]) -> None:
    counted, _, tokens = django_site
    client = Client()
    answers = [client.get("/orders/1", headers=_bearer(tokens["alice"])) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert all(answer.headers["Cache-Control"] == "private" for answer in answers)
    assert counted.decided == 1
    seen = [iam for _, iam in django_memo_urls.SEEN]
    assert len({iam.request_id for iam in seen}) == 3 and {iam.resource for iam in seen} == {
        f"arn:app:orders::{TENANT}:order/1"}
    assert client.get("/orders/7", headers=_bearer(tokens["alice"])).status_code == 403
    assert counted.decided == 2


def test_django_counts_a_detached_policy_on_the_next_request(
        django_site: tuple[Counted, Env, dict[str, str]]) -> None:
    _, built, tokens = django_site
    client = Client()
    assert client.get("/orders/1", headers=_bearer(tokens["alice"])).status_code == 200
    directory = built.directory
    directory.detach_user_policy("alice", directory.list_attached_user_policies("alice").items[0].policy_arn)
    assert client.get("/orders/1", headers=_bearer(tokens["alice"])).status_code == 403
    assert len(django_memo_urls.SEEN) == 1


def test_django_decides_again_when_the_routing_changed_after_the_key_was_read(
        django_site: tuple[Counted, Env, dict[str, str]]) -> None:
    counted, _, tokens = django_site
    client = Client()
    assert client.get("/orders/1", headers=_bearer(tokens["alice"])).status_code == 200
    django_memo_urls.LATER["mode"] = "invoice"  # the same request now routes to a view with another rule
    refused = client.get("/orders/1", headers=_bearer(tokens["alice"]))
    assert refused.status_code == 403  # decided for the invoice view, which alice may not read
    assert counted.decided == 2
    assert [view for view, _ in django_memo_urls.SEEN] == ["order"]  # the invoice view never ran
