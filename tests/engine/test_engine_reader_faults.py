"""A context value that fails oddly when read (a caller's object raising something other than
ValueError) is an unreadable value like any other: its statement fails closed (a Deny applies, an
Allow does not) and the answer does not depend on statement order (IAM semantics rules 4 and 11)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import iamguard

ORDER = "arn:app:orders:::order/7"


class BrokenZone(datetime.tzinfo):
    def utcoffset(self, moment: datetime.datetime | None) -> datetime.timedelta:
        raise RuntimeError("no offset today")

    def dst(self, moment: datetime.datetime | None) -> datetime.timedelta:
        raise RuntimeError("no offset today")

    def tzname(self, moment: datetime.datetime | None) -> str:
        return "broken"


WHEN = {"aws:CurrentTime": datetime.datetime(2030, 1, 1, tzinfo=BrokenZone())}
LATE = {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}


def statement(effect: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"Effect": effect, "Action": "orders:GetOrder", "Resource": "*"}
    if condition:
        item["Condition"] = condition
    return item


def decide(*statements: dict[str, Any]) -> iamguard.Decision:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    request = iamguard.Request("arn:aws:iam::123456789012:user/alice", "orders:GetOrder", ORDER, WHEN)
    return iamguard.evaluate(request, identity_policies=[document])


@pytest.mark.parametrize("statements", [
    (statement("Allow"), statement("Allow", LATE)),
    (statement("Allow", LATE), statement("Allow")),
])
def test_an_allow_that_cannot_read_its_value_does_not_apply_whatever_the_order(statements: tuple[Any, ...]) -> None:
    decision = decide(*statements)
    assert decision.effect is iamguard.Effect.ALLOW
    assert decision.error is None  # not a fault of the whole decision, which would deny


def test_a_deny_that_cannot_read_its_value_applies() -> None:
    decision = decide(statement("Allow"), statement("Deny", LATE))
    assert decision.effect is iamguard.Effect.EXPLICIT_DENY
    assert decision.error is None  # a statement-level failure, not a fault of the whole decision


def test_an_allow_alone_that_cannot_read_its_value_grants_nothing() -> None:
    decision = decide(statement("Allow", LATE))
    assert decision.effect is iamguard.Effect.IMPLICIT_DENY
    assert decision.errors == ("statement 0: context key 'aws:currenttime': unreadable (RuntimeError)",)
