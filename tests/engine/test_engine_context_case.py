"""Context keys that differ only in case: one key to IAM, so two spellings must not disagree."""

from __future__ import annotations

from typing import Any

import pytest

import iamguard
from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.engine.context import normalize_context
from iamguard.store.memory import MemoryStore
from tests.directory.helpers import TENANT

ALICE = "arn:aws:iam::123456789012:user/alice"
ORDER = "arn:app:orders:us-east-1:123456789012:order/42"
DENY_PROD = iamguard.PolicySet([{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "orders:*", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/env": "prod"}}},
]}])


@pytest.mark.parametrize("context", [
    {"aws:RequestTag/env": "dev", "aws:RequestTag/ENV": "prod"},
    {"aws:RequestTag/ENV": "prod", "aws:RequestTag/env": "dev"},
    {"aws:RequestTag/env": "prod", "AWS:REQUESTTAG/ENV": None},  # present against absent
    {"aws:RequestTag/env": None, "aws:requesttag/env": "prod"},
    {"aws:RequestTag/env": [], "aws:requesttag/env": ["prod"]},
    {"app:Flag": True, "APP:FLAG": 1},  # equal in Python, but Bool and Numeric read them differently
    {"app:Groups": ["a", "b"], "APP:GROUPS": ["a"]},
    {"app:x": "1", "APP:X": "1", "App:X": "2"},  # the third spelling disagrees
])
def test_disagreeing_spellings_are_refused(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="IAM key names ignore case") as raised:
        iamguard.Request(ALICE, "orders:GetOrder", ORDER, context)
    message = str(raised.value)
    spellings = [key for key in context if f"{key!r}" in message]
    assert len(spellings) == 2
    assert "prod" not in message and "dev" not in message  # values stay out of error messages


@pytest.mark.parametrize(("context", "expected"), [
    ({"aws:RequestTag/env": "prod", "aws:RequestTag/ENV": "prod"}, {"aws:requesttag/env": ("prod",)}),
    ({"app:Groups": {"b", "a"}, "APP:GROUPS": frozenset({"a", "b"})}, {"app:groups": ("a", "b")}),
    ({"app:Groups": ["a"], "APP:GROUPS": ("a",)}, {"app:groups": ("a",)}),
    ({"app:x": None, "APP:X": []}, {}),  # absent twice is no disagreement
    ({"aws:SourceIp": "203.0.113.9", "aws:RequestTag/env": "dev"},
     {"aws:sourceip": ("203.0.113.9",), "aws:requesttag/env": ("dev",)}),
])
def test_agreeing_or_distinct_keys_normalize(context: dict[str, Any], expected: dict[str, tuple[Any, ...]]) -> None:
    assert normalize_context(context) == expected


def test_ambiguous_context_never_reaches_an_allow() -> None:
    """The Deny would apply under one spelling and not the other: neither gets to decide."""
    decided = DENY_PROD.evaluate(iamguard.Request(ALICE, "orders:GetOrder", ORDER, {"aws:RequestTag/env": "prod"}))
    assert decided.effect is iamguard.Effect.EXPLICIT_DENY
    allowed = DENY_PROD.evaluate(iamguard.Request(ALICE, "orders:GetOrder", ORDER, {"aws:RequestTag/env": "dev"}))
    assert allowed.allowed
    with pytest.raises(ValueError, match="'aws:RequestTag/env' and 'aws:RequestTag/ENV'"):
        iamguard.Request(ALICE, "orders:GetOrder", ORDER, {"aws:RequestTag/env": "dev", "aws:RequestTag/ENV": "prod"})


def test_with_context_replaces_every_spelling_instead_of_conflicting() -> None:
    request = iamguard.Request(ALICE, "orders:GetOrder", ORDER, {"aws:RequestTag/env": "dev"})
    replaced = request.with_context({"AWS:REQUESTTAG/ENV": "prod"})
    assert replaced.values("aws:requesttag/env") == ("prod",)
    assert DENY_PROD.evaluate(replaced).effect is iamguard.Effect.EXPLICIT_DENY


def test_directory_authorize_turns_the_conflict_into_a_deny() -> None:
    store, clock = MemoryStore(), FrozenClock()
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    user = directory.create_user("alice")
    directory.put_user_policy("alice", "orders", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "orders:*", "Resource": "*"}]})
    fine = directory.authorize(user.arn, "orders:GetOrder", ORDER, context={"app:Env": "dev"})
    assert fine.allowed
    ambiguous = directory.authorize(user.arn, "orders:GetOrder", ORDER, context={"app:Env": "dev", "APP:ENV": "x"})
    assert ambiguous.effect is iamguard.Effect.EXPLICIT_DENY
    assert ambiguous.error is not None and "'app:Env' and 'APP:ENV'" in ambiguous.error
