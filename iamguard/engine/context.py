"""The request as the evaluator sees it: normalized once, values coerced lazily and memoized."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iamguard.errors import EvaluationError
from iamguard.policy import values as readers
from iamguard.policy.arn import PrincipalName, read_principal, split_arn
from iamguard.policy.operators import Family

_READERS = {
    Family.STRING: readers.to_text,
    Family.ARN: readers.to_text,
    Family.NUMERIC: readers.to_decimal,
    Family.DATE: readers.to_datetime,
    Family.BOOL: readers.to_bool,
    Family.BINARY: readers.to_binary,
    Family.IP: readers.to_address,
}
_MULTI = (list, tuple, set, frozenset)


def _normalize_context(context: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Lowercase key names (IAM key names ignore case) and give every value the shape of a tuple.

    An empty collection is stored as absent: for every operator IAM treats an empty set like a
    missing key (ForAllValues true, ForAnyValue false, Null true).
    """
    normalized: dict[str, tuple[Any, ...]] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise TypeError(f"context key {key!r} is not a string")
        if isinstance(value, _MULTI):
            items = tuple(sorted(value, key=repr)) if isinstance(value, (set, frozenset)) else tuple(value)
            if items:
                normalized[key.lower()] = items
        elif value is not None:
            normalized[key.lower()] = (value,)
    return normalized


@dataclass(frozen=True)
class Request:
    """One authorization question. `context` is the whole request context: nothing is added."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    _values: dict[str, tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    _multi: frozenset[str] = field(init=False, repr=False, compare=False)
    action_lower: str = field(init=False, repr=False, compare=False)
    resource_parts: tuple[str, ...] | None = field(init=False, repr=False, compare=False)
    resource_head: str = field(init=False, repr=False, compare=False)
    resource_account: str = field(init=False, repr=False, compare=False)
    principal_name: PrincipalName = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("principal", "action", "resource"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Request.{name} must be a string")
        if not isinstance(self.context, Mapping):
            raise TypeError("Request.context must be a mapping")
        setter = object.__setattr__
        setter(self, "_values", _normalize_context(self.context))
        setter(self, "_multi", frozenset(
            key.lower() for key, value in self.context.items() if isinstance(value, _MULTI)))
        setter(self, "action_lower", self.action.lower())
        parts = split_arn(self.resource)
        setter(self, "resource_parts", parts)
        setter(self, "resource_head", self.resource[: len(self.resource) - len(parts[5])] if parts else "")
        setter(self, "resource_account", parts[4] if parts else "")
        setter(self, "principal_name", read_principal(self.principal))

    def values(self, key_lower: str) -> tuple[Any, ...] | None:
        return self._values.get(key_lower)

    def is_multivalued(self, key_lower: str) -> bool:
        return key_lower in self._multi

    def with_context(self, **updates: Any) -> Request:
        """A copy with some context keys replaced (a value of None removes the key)."""
        merged = {key: value for key, value in self.context.items() if key.lower() not in
                  {name.lower() for name in updates}}
        merged.update({key: value for key, value in updates.items() if value is not None})
        return Request(self.principal, self.action, self.resource, merged)


class EvaluationState:
    """Per-evaluation scratch space: coerced values and resolved variables, computed once each."""

    __slots__ = ("_coerced", "errors", "has_boundary", "missing", "request")

    def __init__(self, request: Request, *, has_boundary: bool = False) -> None:
        self.request = request
        self.has_boundary = has_boundary
        self._coerced: dict[tuple[str, Family], tuple[Any, ...]] = {}
        self.errors: list[str] = []
        self.missing: set[str] = set()

    def coerced(self, key_lower: str, family: Family) -> tuple[Any, ...] | None:
        cache_key = (key_lower, family)
        cached = self._coerced.get(cache_key)
        if cached is not None:
            return cached
        raw = self.request.values(key_lower)
        if raw is None:
            self.missing.add(key_lower)
            return None
        reader = _READERS[family]
        try:
            result = tuple(reader(value) for value in raw)
        except ValueError as exc:
            raise EvaluationError(f"context key {key_lower!r}: {exc}") from None
        self._coerced[cache_key] = result
        return result

    def variable(self, key_lower: str) -> str | None:
        """The text a policy variable stands for, or None when it has no single value."""
        raw = self.request.values(key_lower)
        if raw is None:
            self.missing.add(key_lower)
            return None
        if len(raw) != 1:
            return None
        try:
            return readers.to_text(raw[0])
        except ValueError:
            return None
