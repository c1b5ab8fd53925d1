"""Compiled condition operators.

IAM's logic: operators and keys are ANDed, the values of one key are ORed, and a negated
operator is the NOR of its values. A missing key makes positive operators false and negated
ones true; `IfExists` turns a missing key into true; `ForAllValues` holds for a missing or empty
key and `ForAnyValue` does not.
"""

from __future__ import annotations

import functools
import operator as op
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iamguard.engine.context import EvaluationState
from iamguard.engine.patterns import ArnPattern, resolve
from iamguard.engine.wildcard import compile_tokens
from iamguard.errors import EvaluationError
from iamguard.policy import values as readers
from iamguard.policy.model import ConditionEntry
from iamguard.policy.operators import Comparison, Family, Qualifier
from iamguard.policy.template import Variable, tokenize

ValueTest = Callable[[Any], bool]

_ORDER = {
    Comparison.EQUALS: op.eq,
    Comparison.LESS: op.lt,
    Comparison.LESS_EQUAL: op.le,
    Comparison.GREATER: op.gt,
    Comparison.GREATER_EQUAL: op.ge,
}


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
    return lambda value: any(test(value, expected) for expected in policy_values)


class CompiledCondition:
    __slots__ = ("_arn_patterns", "_dynamic", "_static", "entry", "family", "family_code", "if_exists", "key",
                 "negated", "qualifier")

    def __init__(self, entry: ConditionEntry, *, variables: bool) -> None:
        self.entry = entry
        self.key = entry.key_lower
        base = entry.operator.base
        self.family = base.family
        self.family_code = base.family.value
        self.negated = base.negated
        self.qualifier = entry.operator.qualifier
        self.if_exists = entry.operator.if_exists
        self._static: ValueTest | None = None
        self._dynamic: tuple[tuple[Any, ...], ...] | None = None
        self._arn_patterns: tuple[ArnPattern, ...] = ()
        use_variables = variables and base.accepts_variables
        if self.family is Family.NULL:
            return
        if self.family is Family.ARN:
            # ARN patterns split at the policy's own colons before variables are substituted, so a
            # value from the request stays inside its segment as literal text.
            self._arn_patterns = tuple(
                ArnPattern(readers.to_text(value), variables=use_variables) for value in entry.values
            )
            if not any(pattern.dynamic for pattern in self._arn_patterns):
                patterns = self._arn_patterns
                self._static = lambda value: any(pattern.match_text(value, None) for pattern in patterns)
            return
        if use_variables:
            token_lists = tuple(
                tokenize(readers.to_text(value), variables=True, wildcards=base.accepts_wildcards)
                for value in entry.values
            )
            if any(isinstance(token, Variable) for tokens in token_lists for token in tokens):
                self._dynamic = token_lists
                return
        self._static = self._build_test(entry.values)

    def _build_test(self, raw_values: tuple[Any, ...] | list[Any]) -> ValueTest:
        """A test of one request value against every policy value (OR)."""
        base = self.entry.operator.base
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
            return lambda address: any(
                address[0] == version and address[1] & mask == base for version, base, mask in networks
            )
        raise AssertionError(f"unhandled family {family}")  # pragma: no cover

    def _test_for(self, state: EvaluationState) -> ValueTest:
        if self._static is not None:
            return self._static
        if self._arn_patterns:
            patterns = self._arn_patterns
            return lambda value: any(pattern.match_text(value, state) for pattern in patterns)
        assert self._dynamic is not None
        resolved_values: list[str] = []
        like = self.entry.operator.base.accepts_wildcards
        matchers = []
        for tokens in self._dynamic:
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
        if self.family is Family.NULL:
            present = state.request.values(self.key) is not None
            if not present:
                state.missing.add(self.key)
            wanted_absent = {readers.to_bool(value) for value in self.entry.values}
            return (not present) in wanted_absent
        request_values = state.coerced(self.key, self.family_code)
        if request_values is None:
            if self.if_exists:
                return True
            if self.qualifier is Qualifier.FOR_ALL_VALUES:
                return True
            if self.qualifier is Qualifier.FOR_ANY_VALUE:
                return False
            return self.negated
        test = self._test_for(state)
        negated = self.negated
        if self.qualifier is None:
            if len(request_values) > 1:
                raise EvaluationError(
                    f"context key {self.key!r} has {len(request_values)} values; a plain "
                    f"{self.entry.operator.name} compares one value, use ForAnyValue: or ForAllValues:"
                )
            return test(request_values[0]) != negated
        if self.qualifier is Qualifier.FOR_ALL_VALUES:
            return all(test(value) != negated for value in request_values)
        return any(test(value) != negated for value in request_values)

    def outcome(self, state: EvaluationState) -> ConditionOutcome:
        raw = state.request.values(self.key)
        try:
            return ConditionOutcome(self.entry, self.evaluate(state), raw)
        except EvaluationError as exc:
            return ConditionOutcome(self.entry, False, raw, str(exc))
