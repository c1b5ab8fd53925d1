"""Compiled condition operators.

IAM's logic: operators and keys are ANDed, the values of one key are ORed, and a negated
operator is the NOR of its values. A missing key makes positive operators false and negated
ones true; `IfExists` turns a missing key into true; `ForAllValues` holds for a missing or empty
key and `ForAnyValue` does not.
"""

from __future__ import annotations

import functools
import operator as op
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamguard.engine.context import EvaluationState
from iamguard.engine.patterns import ArnPattern, resolve
from iamguard.engine.wildcard import compile_tokens
from iamguard.errors import EvaluationError
from iamguard.policy import values as readers
from iamguard.policy.model import ConditionEntry
from iamguard.policy.operators import BaseOperator, Comparison, Family, Qualifier
from iamguard.policy.template import Variable, tokenize

ValueTest = Callable[[Any], bool]

_ORDER = {
    Comparison.EQUALS: op.eq,
    Comparison.LESS: op.lt,
    Comparison.LESS_EQUAL: op.le,
    Comparison.GREATER: op.gt,
    Comparison.GREATER_EQUAL: op.ge,
}


def _never(_value: Any) -> bool:
    return False


_PLAIN, _ALL, _ANY = "plain", "all", "any"
_MODES = {None: _PLAIN, Qualifier.FOR_ALL_VALUES: _ALL, Qualifier.FOR_ANY_VALUE: _ANY}


@dataclass(frozen=True)
class ConditionOutcome:
    """How one condition fared, for explanations."""

    entry: ConditionEntry
    holds: bool
    request_values: tuple[Any, ...] | None
    error: str | None = None


@functools.lru_cache(maxsize=4096)
def _network(value: str) -> tuple[int, int, int]:
    """(version, base, mask) of a CIDR block; policies repeat the same few blocks, so memoized."""
    network = readers.to_network(value)
    return (network.version, int(network.network_address), int(network.netmask))


def _any_of(test: Callable[[Any, Any], bool], policy_values: tuple[Any, ...]) -> ValueTest:
    if len(policy_values) == 1:
        (expected,) = policy_values
        return lambda value: test(value, expected)
    return lambda value: any(test(value, expected) for expected in policy_values)


# Tests are pure functions of (operator, values): those built from variables' values at
# evaluation time are memoized rather than rebuilt on every decision.
TEST_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=TEST_CACHE_SIZE)
def _shared_test(base: BaseOperator, typed_values: tuple[tuple[type, Any], ...]) -> ValueTest:
    return _value_test(base, [value for _, value in typed_values])


def _value_test(base: BaseOperator, raw_values: tuple[Any, ...] | list[Any]) -> ValueTest:
    """A test of one request value against every policy value (OR)."""
    family, comparison = base.family, base.comparison
    if family is Family.STRING:
        texts = [readers.to_text(value) for value in raw_values]
        if comparison is Comparison.EQUALS:
            return frozenset(texts).__contains__
        if comparison is Comparison.EQUALS_IGNORE_CASE:
            lowered = frozenset(text.lower() for text in texts)
            return lambda value: value.lower() in lowered
        matchers = [compile_tokens(tokenize(text, variables=False, wildcards=True)) for text in texts]
        return lambda value: any(matcher(value) for matcher in matchers)
    if family is Family.NUMERIC:
        return _any_of(_ORDER[comparison], tuple(readers.to_decimal(value) for value in raw_values))
    if family is Family.DATE:
        return _any_of(_ORDER[comparison], tuple(readers.to_datetime(value) for value in raw_values))
    if family is Family.BOOL:
        return frozenset(readers.to_bool(value) for value in raw_values).__contains__
    if family is Family.BINARY:
        return frozenset(readers.to_binary(value) for value in raw_values).__contains__
    if family is Family.IP:
        # Addresses arrive as (version, integer); a network is (version, base, mask), so
        # containment is one AND and never matches across IP versions.
        networks = tuple(_network(value) for value in raw_values)
        if len(networks) == 1:
            ((version, network_base, mask),) = networks
            return lambda address: address[0] == version and address[1] & mask == network_base
        return lambda address: any(
            address[0] == version and address[1] & mask == network_base
            for version, network_base, mask in networks
        )
    raise AssertionError(f"unhandled family {family}")  # pragma: no cover


@functools.lru_cache(maxsize=TEST_CACHE_SIZE)
def _shared_slot(key: str, family: str) -> tuple[str, str]:
    """One (key, family) tuple per pair: the evaluation state's cache key, shared by conditions."""
    return (key, family)


class CompiledCondition:
    # CPython lays slots out in name order: the ones `evaluate` reads start with an underscore so
    # that they share the object's first cache lines (a large policy set is mostly not in cache).
    __slots__ = ("_eq_value", "_eq_variable", "_is_null", "_mode", "_negated", "_slot", "_static",
                 "_when_missing", "arn_patterns", "dynamic_values", "entry", "family", "family_code", "if_exists",
                 "key", "negated", "qualifier")

    def __init__(self, entry: ConditionEntry, *, variables: bool) -> None:
        self.entry = entry
        self.key = sys.intern(entry.key_lower)  # shared by every condition on this key
        base = entry.operator.base
        self.family = base.family
        self.family_code = base.family.value
        self.negated = self._negated = base.negated
        self.qualifier = entry.operator.qualifier
        self.if_exists = entry.operator.if_exists
        # Precomputed for `evaluate`, which runs for every statement a decision reaches.
        self._is_null = self.family is Family.NULL
        self._slot = _shared_slot(self.key, self.family_code)
        self._mode = _MODES[self.qualifier]
        self._when_missing = bool(entry.operator.holds_when_key_missing)  # Null is answered apart
        self._static: ValueTest | None = None
        # A static test against one string (the most common condition) is a comparison with
        # that string: no test object and no set for a decision to bring into the CPU's cache.
        self._eq_value: str | None = None
        self._eq_variable: Variable | None = None  # the same, against one variable's value
        self.dynamic_values: tuple[tuple[Any, ...], ...] | None = None
        self.arn_patterns: tuple[ArnPattern, ...] = ()
        use_variables = variables and base.accepts_variables
        if self.family is Family.NULL:
            return
        if self.family is Family.ARN:
            # ARN patterns split at the policy's own colons before variables are substituted, so a
            # value from the request stays inside its segment as literal text.
            self.arn_patterns = tuple(
                ArnPattern(readers.to_text(value), variables=use_variables) for value in entry.values
            )
            if not any(pattern.dynamic for pattern in self.arn_patterns):
                patterns = self.arn_patterns
                self._static = lambda value: any(pattern.match_text(value, None) for pattern in patterns)
            return
        if use_variables:
            token_lists = tuple(
                tokenize(readers.to_text(value), variables=True, wildcards=base.accepts_wildcards)
                for value in entry.values
            )
            # `${*}`, `${?}` and `${$}` are literal characters: a value holding one is read from its
            # tokens like a value with variables, never re-read as plain text (where `*` is a wildcard).
            if any(isinstance(token, Variable) for tokens in token_lists for token in tokens) or any(
                    "${" in readers.to_text(value) for value in entry.values):
                self.dynamic_values = token_lists
                if (self.family is Family.STRING and base.comparison is Comparison.EQUALS
                        and len(token_lists) == 1 and len(token_lists[0]) == 1
                        and isinstance(token_lists[0][0], Variable)):
                    self._eq_variable = token_lists[0][0]  # the policy value is `${key}` alone
                return
        self._static = _value_test(base, entry.values)
        if (self.family is Family.STRING and base.comparison is Comparison.EQUALS and len(entry.values) == 1):
            self._eq_value = readers.to_text(entry.values[0])

    def check(self) -> CompiledCondition | EqualsCheck:
        """What a decision calls `evaluate` on: this condition, or a new small copy of what it
        reads when it compares a key with one fixed string (plainly or with ForAnyValue). The
        evaluator makes the copies when it indexes statements, so that they sit together in memory
        with the rest of what a decision reads."""
        if self._eq_value is None or self._mode is _ALL:
            return self
        return EqualsCheck(self._slot, self._eq_value, self._negated, self._mode is _ANY, self)

    def _build_test(self, raw_values: tuple[Any, ...] | list[Any]) -> ValueTest:
        """A test of one request value against values resolved from variables, shared by every
        evaluation with the same operator and values (the type is part of the key: 1, 1.0 and
        True differ)."""
        return _shared_test(self.entry.operator.base, tuple((type(value), value) for value in raw_values))

    def _test_for(self, state: EvaluationState) -> ValueTest:
        if self._static is not None:
            return self._static
        if self.arn_patterns:
            patterns = self.arn_patterns
            return lambda value: any(pattern.match_text(value, state) for pattern in patterns)
        assert self.dynamic_values is not None
        resolved_values: list[str] = []
        like = self.entry.operator.base.accepts_wildcards
        matchers = []
        for tokens in self.dynamic_values:
            resolved = resolve(tokens, state)
            if resolved is None:
                continue  # a variable with no value: this policy value can match nothing
            if like:
                matchers.append(compile_tokens(resolved))
            else:
                resolved_values.append("".join(str(token) for token in resolved))
        if matchers:
            return lambda value: any(matcher(value) for matcher in matchers)
        if self.family is Family.BOOL:
            booleans = set()
            for text in resolved_values:
                try:
                    booleans.add(readers.to_bool(text))
                except ValueError:
                    continue
            return booleans.__contains__
        if not resolved_values:
            return lambda value: False
        return self._build_test(resolved_values)

    def evaluate(self, state: EvaluationState) -> bool:
        """True when the condition holds. Raises EvaluationError when a request value cannot be
        read for this operator (the caller decides: an Allow does not apply, a Deny does)."""
        if self._is_null:
            present = state.request.values(self.key) is not None
            if not present:
                state.missing.add(self.key)
            wanted_absent = {readers.to_bool(value) for value in self.entry.values}
            return (not present) in wanted_absent
        request_values = state.coerced_slot(self._slot)
        if request_values is None:
            return self._when_missing  # Operator.holds_when_key_missing
        negated = self._negated
        mode = self._mode
        variable = self._eq_variable
        if variable is None:
            expected = self._eq_value
        else:  # as `_test_for` would resolve it, without building a test
            expected = state.variable_or_default(variable.key, variable.default)
            if expected is None:  # no value and no default: this policy value matches nothing
                return self._judge(_never, request_values)
        if expected is not None:  # the same outcome as `value in frozenset([expected])`
            if mode is _PLAIN:
                if len(request_values) > 1:
                    raise self._multivalued(request_values)
                equal: bool = request_values[0] == expected
                return equal != negated
            if mode is _ALL:
                for value in request_values:
                    if (value == expected) == negated:
                        return False
                return True
            for value in request_values:
                if (value == expected) != negated:
                    return True
            return False
        test = self._static
        return self._judge(test if test is not None else self._test_for(state), request_values)

    def _judge(self, test: ValueTest, request_values: tuple[Any, ...]) -> bool:
        """Apply the qualifier (and negation) to one test over the request's values."""
        negated = self._negated
        mode = self._mode
        if mode is _PLAIN:
            if len(request_values) > 1:
                raise self._multivalued(request_values)
            return test(request_values[0]) != negated
        if mode is _ALL:
            for value in request_values:
                if test(value) == negated:
                    return False
            return True
        for value in request_values:
            if test(value) != negated:
                return True
        return False

    def _multivalued(self, request_values: tuple[Any, ...]) -> EvaluationError:
        return EvaluationError(
            f"context key {self.key!r} has {len(request_values)} values; a plain "
            f"{self.entry.operator.name} compares one value, use ForAnyValue: or ForAllValues:"
        )

    def outcome(self, state: EvaluationState) -> ConditionOutcome:
        raw = state.request.values(self.key)
        try:
            return ConditionOutcome(self.entry, self.evaluate(state), raw)
        except EvaluationError as exc:
            return ConditionOutcome(self.entry, False, raw, str(exc))


class EqualsCheck:
    """`CompiledCondition.evaluate` for a condition that compares a key with one fixed string:
    with a value for the key (one value unless `any_value`), it holds exactly when some value
    `(value == expected) != negated`; anything else (a missing key, several values for a plain
    operator, which is an error) is left to the condition itself."""

    __slots__ = ("any_value", "condition", "expected", "negated", "slot")

    def __init__(self, slot: tuple[str, str], expected: str, negated: bool, any_value: bool,
                 condition: CompiledCondition) -> None:
        self.slot = slot
        self.expected = expected
        self.negated = negated
        self.any_value = any_value
        self.condition = condition

    def evaluate(self, state: EvaluationState) -> bool:
        values = state.coerced_slot(self.slot)
        if values is None or (len(values) != 1 and not self.any_value):
            return self.condition.evaluate(state)
        expected, negated = self.expected, self.negated
        for value in values:
            if (value == expected) != negated:
                return True
        return False


# Conditions are pure functions of (operator, key, values), so equal conditions in different
# statements share one compiled object: policies repeat the same few (the same CIDR, the same tag
# test, the same threshold), and a shared condition is compiled once and stays in the CPU's cache.
# The key keeps the key's spelling (explanations show it) and each value's type (1, 1.0 and True
# compare equal but are different policy values). Bounded: cleared when full.
CONDITION_CACHE_SIZE = 16384
_COMPILED: dict[tuple[Any, ...], CompiledCondition] = {}


def compile_condition(entry: ConditionEntry, *, variables: bool) -> CompiledCondition:
    """A CompiledCondition for `entry`, shared with every equal condition compiled before."""
    try:
        # Only strings, numbers and types in the key: the collector untracks such tuples.
        cache_key = (entry.operator.name, entry.key, variables,
                     tuple((type(value), value) for value in entry.values))
        compiled = _COMPILED.get(cache_key)
    except TypeError:  # pragma: no cover - the parser admits only scalar values
        return CompiledCondition(entry, variables=variables)
    if compiled is None:
        compiled = CompiledCondition(entry, variables=variables)
        if len(_COMPILED) >= CONDITION_CACHE_SIZE:
            _COMPILED.clear()
        _COMPILED[cache_key] = compiled
    return compiled


def clear_shared() -> None:
    _COMPILED.clear()
    _shared_test.cache_clear()
    _shared_slot.cache_clear()
    _network.cache_clear()
