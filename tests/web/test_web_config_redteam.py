"""Red-team regressions for the guard's configuration and its context providers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from iamguard.web import ContextInput, GuardConfig
from tests.web.stubs import ALICE, StubSession, standard_authority
from tests.web.test_web_guard import make_guard, request

NAN = float("nan")

REFUSED_SETTINGS = [
    # NaN compares false with everything: the deadline would never pass for synchronous work.
    ("timeout NaN", {"timeout": NAN}),
    ("timeout infinite", {"timeout": float("inf")}),
    ("timeout bool", {"timeout": True}),
    # max_age goes into the challenge as an integer (RFC 9470): a float crashed every step-up (503).
    ("max_age NaN", {"step_up_max_age": NAN}),
    ("max_age float", {"step_up_max_age": 2.5}),
    ("max_age bool", {"step_up_max_age": True}),
    # Sandboxed frames and file: pages of any site send `Origin: null`: trusting it is CSRF.
    ("origin null", {"trusted_origins": ("null",)}),
    ("origin star", {"trusted_origins": ("*",)}),
    ("origins as one string", {"trusted_origins": "https://shop.example"}),
    # Spellings a browser never sends in Origin: they would silently never match.
    ("origin trailing slash", {"trusted_origins": ("https://shop.example/",)}),
    ("origin with path", {"trusted_origins": ("https://shop.example/app",)}),
    ("origin upper case", {"trusted_origins": ("HTTPS://Shop.example",)}),
    ("origin default port", {"trusted_origins": ("https://shop.example:443",)}),
    ("origin bare host", {"trusted_origins": ("shop.example",)}),
    ("cookie name semicolon", {"cookie_name": "sid;x"}),
    ("cookie name equals", {"cookie_name": "sid=x"}),
    ("cookie name space", {"cookie_name": "s id"}),
    ("cookie name empty", {"cookie_name": ""}),
    # A string would be searched by substring: "GE" passed the method screen.
    ("methods as one string", {"methods": "GET"}),
    ("method lower case", {"methods": frozenset({"GET", "get"})}),
    ("method not a token", {"methods": frozenset({"GE T"})}),
]


@pytest.mark.parametrize(("name", "settings"), REFUSED_SETTINGS, ids=[row[0] for row in REFUSED_SETTINGS])
def test_unusable_settings_are_refused_at_startup(name: str, settings: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        GuardConfig(**settings)


ACCEPTED_SETTINGS = [
    ("integer timeout", {"timeout": 2}, "timeout", 2),
    ("origin with port", {"trusted_origins": ["http://localhost:8000"]}, "trusted_origins",
     ("http://localhost:8000",)),
    ("origin ipv6", {"trusted_origins": ("https://[::1]:8443",)}, "trusted_origins", ("https://[::1]:8443",)),
    ("app scheme origin", {"trusted_origins": ("capacitor://localhost",)}, "trusted_origins",
     ("capacitor://localhost",)),
    ("cookie token", {"cookie_name": "__Host-sid"}, "cookie_name", "__Host-sid"),
    ("methods as a list", {"methods": ["GET", "POST"]}, "methods", frozenset({"GET", "POST"})),
]


@pytest.mark.parametrize(("name", "settings", "attribute", "expected"), ACCEPTED_SETTINGS,
                         ids=[row[0] for row in ACCEPTED_SETTINGS])
def test_usable_settings_are_kept(name: str, settings: dict[str, Any], attribute: str, expected: Any) -> None:
    assert getattr(GuardConfig(**settings), attribute) == expected


def test_integer_max_age_still_reaches_the_challenge() -> None:
    presence_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
    authority = standard_authority()
    authority.add("presence", StubSession(ALICE, "alice"), presence_only)
    guard, _ = make_guard(authority=authority, step_up_max_age=0)
    verdict = guard.check_sync(request(token="presence"))
    assert verdict.reason == "mfa_required" and verdict.response is not None
    assert dict(verdict.response.headers)["www-authenticate"].endswith(", max_age=0")
    assert verdict.response.json()["max_age"] == 0


def test_provider_cannot_change_the_parameters_the_handler_reads() -> None:
    """`IamContext.path_params` must be the values that went into the resource: a provider that
    writes into its input could otherwise authorize order 7 and hand the handler order 8."""

    def rewriting(given: ContextInput) -> Mapping[str, Any]:
        given.path_params["order_id"] = "8"  # type: ignore[index]
        return {}

    guard, _ = make_guard(context=[rewriting])
    verdict = guard.check_sync(request(token="seven"))
    assert (verdict.allowed, verdict.reason, verdict.status) == (False, "context_error", 503)


def test_provider_still_reads_the_parameters() -> None:
    seen: list[dict[str, str]] = []

    def reading(given: ContextInput) -> Mapping[str, Any]:
        seen.append(dict(given.path_params))
        return {"app:order": given.path_params["order_id"]}

    guard, _ = make_guard(context=[reading])
    verdict = guard.check_sync(request(token="seven"))
    assert verdict.allowed and verdict.iam is not None
    assert seen == [{"order_id": "7"}] and dict(verdict.iam.path_params) == {"order_id": "7"}
