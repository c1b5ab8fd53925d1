"""A deny that a condition error decided says so in its audit record, in words of its own: the
error's text (which quotes request values) stays in `Decision.errors` (POL-07)."""

from __future__ import annotations

import pytest

from tests.web.stubs import ALICE, ORDER_ARN, StubAuthority, StubSession
from tests.web.test_web_guard import make_guard, request

NUMERIC_AGENT = {"NumericGreaterThan": {"aws:UserAgent": "5"}}
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": f"{ORDER_ARN}/*"},
    {"Effect": "Deny", "Action": "orders:DeleteOrder", "Resource": "*", "Condition": NUMERIC_AGENT}]}
ALLOW_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": f"{ORDER_ARN}/*", "Condition": NUMERIC_AGENT}]}


@pytest.mark.parametrize(("policy", "method", "reason", "unevaluated"), [
    (POLICY, "DELETE", "explicit_deny", True),   # the Deny that errored applies
    (ALLOW_ONLY, "GET", "implicit_deny", True),  # the Allow that errored does not
    (POLICY, "GET", "allowed", False),           # the Deny does not cover reads: nothing to say
])
def test_the_record_of_a_deny_says_a_condition_failed_closed(policy: dict, method: str, reason: str,
                                                              unevaluated: bool) -> None:
    authority = StubAuthority()
    authority.add("agent", StubSession(ALICE, "alice"), policy)
    guard, sink = make_guard(authority=authority)
    verdict = guard.check_sync(request(method, "agent", headers=(("user-agent", "curl/8.4"),)))
    assert verdict.reason == reason
    (record,) = sink.records
    if unevaluated:
        assert record.detail == "1 condition(s) could not be evaluated and failed closed"
        assert verdict.decision is not None and "curl" in verdict.decision.errors[0]
    else:
        assert record.detail is None
