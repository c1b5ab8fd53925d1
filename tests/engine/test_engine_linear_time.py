"""Wildcard matching runs in linear time: patterns that make a backtracking matcher explode
finish quickly. The bound is generous (0.2 s against a target of milliseconds) so CI noise
cannot make it flaky, while exponential behaviour would take far longer."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from iamguard.engine.wildcard import compile_tokens
from iamguard.policy.template import tokenize
from tests.engine.support import ACCOUNT, ALLOW, IMPLICIT, allow, effect_of

BOUND_SECONDS = 0.2
LONG = "a" * 10_000

HOSTILE_PATTERNS = [
    "*a*a*a*a*a*a*a*a*b",
    "*" + "*".join(["a"] * 30) + "*b",
    "*" + "*".join(["aa"] * 30) + "*b",
    "*" + "?*" * 30 + "b",
    "a*" * 30 + "b",
    "*" + "*".join(["a?a"] * 30) + "*b",
]


def _elapsed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS)
def test_hostile_pattern_against_a_long_value_is_fast(pattern: str) -> None:
    matcher = compile_tokens(tokenize(pattern, variables=False, wildcards=True))
    elapsed, result = _elapsed(lambda: matcher(LONG))
    assert result is False
    assert elapsed < BOUND_SECONDS


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS)
def test_hostile_pattern_still_matches_when_it_should(pattern: str) -> None:
    matcher = compile_tokens(tokenize(pattern, variables=False, wildcards=True))
    elapsed, result = _elapsed(lambda: matcher(LONG + "b"))
    assert result is True
    assert elapsed < BOUND_SECONDS


def test_hostile_resource_pattern_through_evaluate() -> None:
    prefix = f"arn:app:files:us-east-1:{ACCOUNT}:"
    statement = allow("files:Read", prefix + "*a*a*a*a*a*a*a*a*b")
    elapsed, effect = _elapsed(lambda: effect_of(statement, action="files:Read", resource=prefix + LONG))
    assert effect is IMPLICIT
    assert elapsed < BOUND_SECONDS
    assert effect_of(statement, action="files:Read", resource=prefix + LONG + "b") is ALLOW


def test_hostile_string_like_condition_through_evaluate() -> None:
    pattern = "*" + "*".join(["a"] * 30) + "*b"
    statement = allow(condition={"StringLike": {"app:path": pattern}})
    elapsed, effect = _elapsed(lambda: effect_of(statement, context={"app:path": LONG}))
    assert effect is IMPLICIT
    assert elapsed < BOUND_SECONDS


def test_hostile_action_pattern_through_evaluate() -> None:
    statement = allow("svc:*a*a*a*a*a*a*a*a*b")
    elapsed, effect = _elapsed(lambda: effect_of(statement, action="svc:" + LONG))
    assert effect is IMPLICIT
    assert elapsed < BOUND_SECONDS
