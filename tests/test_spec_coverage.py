"""Spec items from the security catalogue that no other test names, checked through the public API.

Each test is named after the catalogue ID it covers (MAP-14, CSRF-01, CACHE-04, POL-08).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

import iamguard
from iamguard.web import WebRequest
from tests.web.stubs import TENANT
from tests.web.test_web_guard import make_guard

COOKIE = "__Host-iamguard"
def web_request(method: str = "GET", token: str | None = "reader", *,
                headers: tuple[tuple[str, str], ...] = (), query_string: bytes = b"") -> WebRequest:
    credentials = (("authorization", f"Bearer {token}"),) if token else ()
    return WebRequest(method, "/orders/7", route="/orders/{order_id}", path_params={"order_id": "7"},
                      headers=credentials + headers, client="192.0.2.10", query_string=query_string)


# Headers, cookies and query parameters that other stacks have trusted as "already authorized" or
# "internal" markers, or as a rewrite of the target (CVE-2025-29927 and friends).
SKIP_SIGNALS: list[tuple[tuple[tuple[str, str], ...], bytes]] = [
    ((("x-middleware-subrequest", "middleware:middleware:middleware:middleware:middleware"),), b""),
    ((("x-iamguard-authorized", "true"),), b""),
    ((("x-iamguard-decision", "Allow"),), b""),
    ((("x-internal", "1"),), b""),
    ((("x-authorized", "true"),), b""),
    ((("x-original-url", "/health"),), b""),
    ((("x-rewrite-url", "/health"),), b""),
    ((("x-forwarded-user", "admin"), ("x-remote-user", "admin")), b""),
    ((("x-forwarded-prefix", "/health"),), b""),
    ((("cookie", "iamguard_authorized=1; internal=true"),), b""),
    ((), b"internal=1&authorized=true&skip_auth=1"),
]


@pytest.mark.parametrize(("headers", "query"), SKIP_SIGNALS)
@pytest.mark.parametrize(("method", "token", "status", "reason"), [
    ("GET", None, 401, "missing_credentials"),
    ("DELETE", "reader", 403, "implicit_deny"),
    ("DELETE", "no-deletes", 403, "explicit_deny"),
])
def test_map_14_client_signals_never_mark_a_request_authorized(headers: tuple[tuple[str, str], ...], query: bytes,
                                                               method: str, token: str | None, status: int,
                                                               reason: str) -> None:
    guard, sink = make_guard()
    verdict = guard.check_sync(web_request(method, token, headers=headers, query_string=query))
    assert (verdict.status, verdict.reason, verdict.allowed) == (status, reason, False)
    assert [(record.effect, record.reason) for record in sink.records] == [("Deny", reason)]


@pytest.mark.parametrize("origin", [(), (("origin", "https://evil.example"),), (("origin", "null"),)])
def test_csrf_01_bearer_authentication_needs_no_anti_forgery_check(origin: tuple[tuple[str, str], ...]) -> None:
    guard, _ = make_guard(cookie_name=COOKIE, trusted_origins=("https://shop.example",))
    bearer = guard.check_sync(web_request("DELETE", "writer-mfa", headers=origin))
    assert (bearer.status, bearer.reason) == (None, "allowed")
    cookie = guard.check_sync(web_request("DELETE", None, headers=(("cookie", f"{COOKIE}=writer-mfa"), *origin)))
    assert (cookie.status, cookie.reason) == (403, "csrf_failed")


@pytest.mark.parametrize(("first", "second", "status", "reason"), [
    ("writer-mfa", "writer", 401, "mfa_required"),  # same user, no MFA in the second session
    ("writer-mfa", "writer-old-mfa", 401, "mfa_required"),  # same user, MFA too old
    ("writer-mfa", "reader", 403, "implicit_deny"),  # another principal
    ("writer", "writer-mfa", None, "allowed"),  # a deny is not reused either
])
def test_cache_04_a_decision_is_not_reused_for_a_session_with_other_context(first: str, second: str,
                                                                            status: int | None,
                                                                            reason: str) -> None:
    guard, _ = make_guard()
    for _ in range(2):  # warm whatever the guard keeps between requests
        guard.check_sync(web_request("DELETE", first))
    verdict = guard.check_sync(web_request("DELETE", second))
    assert (verdict.status, verdict.reason) == (status, reason)


ANYONE = {"AWS": f"arn:aws:iam::{TENANT}:root"}


def _statement(kind: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow"}
    if kind in ("resource", "trust"):
        statement["Principal"] = ANYONE
    statement["Action"] = "sts:AssumeRole" if kind == "trust" else "*"
    if kind != "trust":
        statement["Resource"] = "*"
    return statement


def _with_duplicate(kind: str, place: str) -> str:
    """The document as JSON text with one key written twice, the later value widening the grant."""
    body = json.dumps(_statement(kind))[1:-1]
    if place == "effect":
        statement = '{"Effect":"Deny",' + body + "}"
    else:
        condition = '"Condition":{"Bool":{"aws:SecureTransport":"true","aws:SecureTransport":"false"}}'
        statement = "{" + body + "," + condition + "}"
    return '{"Version":"2012-10-17","Statement":[' + statement + "]}"


@pytest.mark.parametrize("place", ["effect", "condition"])
@pytest.mark.parametrize("kind", ["identity", "resource", "boundary", "session", "trust"])
def test_pol_08_duplicate_keys_are_rejected_for_every_policy_kind(kind: str, place: str) -> None:
    baseline: Mapping[str, Any] = {"Version": "2012-10-17", "Statement": [_statement(kind)]}
    iamguard.parse_policy(baseline, kind=kind)  # the same document without the duplicate is valid
    with pytest.raises(iamguard.PolicyError) as raised:
        iamguard.parse_policy(_with_duplicate(kind, place), kind=kind)
    assert "DuplicateKey" in [finding.code for finding in raised.value.findings]
