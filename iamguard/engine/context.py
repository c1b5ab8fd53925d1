"""The request as the evaluator sees it: normalized once, values coerced lazily and memoized."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from iamguard.errors import EvaluationError
from iamguard.policy import values as readers
from iamguard.policy.arn import PrincipalName, read_principal, split_arn
from iamguard.policy.operators import Family

_MULTI = (list, tuple, set, frozenset)


def _normalize_context(context: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Lowercase key names (IAM key names ignore case) and give every value the shape of a tuple.

    An empty collection is stored as absent: for every operator IAM treats an empty set like a
    missing key (ForAllValues true, ForAnyValue false, Null true).

    Raises ValueError when two spellings of one key (`aws:RequestTag/env`, `aws:RequestTag/ENV`)
    carry different values: which one a policy sees would depend on dict order, so neither is
    chosen. Callers turn the error into a deny.
    """
    normalized: dict[str, tuple[Any, ...]] = {}
    absent: set[str] | None = None  # names given as None or empty, built only when one occurs
    for key, value in context.items():
        if not isinstance(key, str):
            raise TypeError(f"context key {key!r} is not a string")
        items = _shape(value)
        if items:
            normalized[key.lower()] = items
            continue
        if absent is None:
            absent = set()
        absent.add(key.lower())
    # Fewer lower-case names than keys means two spellings of one name. Counting keeps the common
    # case (no repeats) at one comparison; the rare case is re-read to see if the values disagree.
    names = len(normalized) if absent is None else len(absent.union(normalized))
    if names != len(context):
        _refuse_disagreeing_spellings(context)
    return normalized


def _shape(value: Any) -> tuple[Any, ...]:
    """A value as `_normalize_context` stores it; () for absent."""
    if isinstance(value, _MULTI):
        return tuple(sorted(value, key=repr)) if isinstance(value, (set, frozenset)) else tuple(value)
    return () if value is None else (value,)


def _same(first: tuple[Any, ...], second: tuple[Any, ...]) -> bool:
    """Equal values of the same types: `True` and `1` compare equal but read differently."""
    return len(first) == len(second) and all(type(a) is type(b) and a == b
                                             for a, b in zip(first, second, strict=True))


def _refuse_disagreeing_spellings(context: Mapping[str, Any]) -> None:
    """Two spellings of one key may repeat a value, never disagree (absent against present counts
    as disagreeing): which one a policy saw would depend on the mapping's order."""
    seen: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for key, value in context.items():
        lowered = key.lower()
        shaped = _shape(value)
        earlier = seen.setdefault(lowered, (key, shaped))
        if earlier[0] != key and not _same(earlier[1], shaped):
            # Values stay out of the message: contexts can carry tokens and personal data.
            raise ValueError(
                f"context keys {earlier[0]!r} and {key!r} name the same key (IAM key names ignore case) "
                "with different values; send one spelling"
            )


# Public name for callers that normalize the parts of a context they reuse (the web guard keeps a
# session's keys normalized) and assemble requests with `Request.prenormalized`.
normalize_context = _normalize_context


class Request:
    """One authorization question: who (`principal` ARN), does what (`action`), to what
    (`resource` ARN), in which `context`. The context is the whole request context: the evaluator
    adds nothing. Immutable; built on every request, so construction is kept cheap."""

    __slots__ = ("__dict__", "_values", "action", "action_lower", "context", "principal", "resource",
                 "resource_account", "resource_head", "resource_parts")

    principal: str
    action: str
    resource: str
    context: Mapping[str, Any]
    action_lower: str
    resource_parts: tuple[str, str, str, str, str, str] | None
    resource_head: str
    resource_account: str
    _values: dict[str, tuple[Any, ...]]

    def __init__(self, principal: str, action: str, resource: str, context: Mapping[str, Any] | None = None) -> None:
        if not (isinstance(principal, str) and isinstance(action, str) and isinstance(resource, str)):
            raise TypeError("Request principal, action and resource must be strings")
        if context is None:
            context = {}
        elif not isinstance(context, Mapping):
            raise TypeError("Request context must be a mapping")
        self._assign(principal, action, resource, context, _normalize_context(context))

    @classmethod
    def prenormalized(cls, principal: str, action: str, resource: str, context: Mapping[str, Any],
                      values: dict[str, tuple[Any, ...]]) -> Request:
        """A Request whose context the caller has already normalized: `values` must equal
        `normalize_context(context)` (and must not change afterwards). For hot paths that reuse
        the normalized form of most keys across requests."""
        if not (isinstance(principal, str) and isinstance(action, str) and isinstance(resource, str)):
            raise TypeError("Request principal, action and resource must be strings")
        request = cls.__new__(cls)
        request._assign(principal, action, resource, context, values)
        return request

    def _assign(self, principal: str, action: str, resource: str, context: Mapping[str, Any],
                values: dict[str, tuple[Any, ...]]) -> None:
        setter = object.__setattr__
        setter(self, "principal", principal)
        setter(self, "action", action)
        setter(self, "resource", resource)
        setter(self, "context", context)
        setter(self, "_values", values)
        setter(self, "action_lower", action.lower())
        parts = split_arn(resource)
        setter(self, "resource_parts", parts)
        if parts is None:
            setter(self, "resource_head", "")
            setter(self, "resource_account", "")
        else:
            setter(self, "resource_head", resource[: len(resource) - len(parts[5])])
            setter(self, "resource_account", parts[4])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Request is immutable; use with_context() for a modified copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Request is immutable")

    def __repr__(self) -> str:
        return (f"Request(principal={self.principal!r}, action={self.action!r}, resource={self.resource!r}, "
                f"context={dict(self.context)!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (self.principal, self.action, self.resource, dict(self.context)) == (
            other.principal, other.action, other.resource, dict(other.context))

    __hash__ = None  # type: ignore[assignment]  # the context is a mutable mapping

    @cached_property
    def principal_name(self) -> PrincipalName:
        return read_principal(self.principal)

    @property
    def principal_account(self) -> str:
        # Computed on each use (once per evaluation): a split costs less than cached_property's
        # per-instance lock on Python 3.11, and every request is a new instance.
        parts = self.principal.split(":", 5)
        return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""

    def values(self, key_lower: str) -> tuple[Any, ...] | None:
        return self._values.get(key_lower)

    def with_context(self, updates: Mapping[str, Any]) -> Request:
        """A copy with some context keys replaced; a value of None removes the key."""
        replaced = {name.lower() for name in updates}
        merged = {key: value for key, value in self.context.items() if key.lower() not in replaced}
        merged.update({key: value for key, value in updates.items() if value is not None})
        return Request(self.principal, self.action, self.resource, merged)


_ADDRESS_CACHE: dict[str, tuple[int, int]] = {}
_ADDRESS_CACHE_LIMIT = 4096


def read_address(value: object) -> tuple[int, int]:
    """(IP version, integer) of a request address. Parsing with ipaddress is strict but slow, and
    the same few addresses recur, so parsed text is memoized (bounded)."""
    if isinstance(value, str):
        cached = _ADDRESS_CACHE.get(value)
        if cached is None:
            address = readers.to_address(value)
            cached = (address.version, int(address))
            if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_LIMIT:
                _ADDRESS_CACHE.clear()
            _ADDRESS_CACHE[value] = cached
        return cached
    address = readers.to_address(value)
    return (address.version, int(address))


# Keyed by the family's value: hashing a str is cheaper than hashing an Enum member.
_READERS: dict[str, Any] = {
    Family.STRING.value: readers.to_text,
    Family.ARN.value: readers.to_text,
    Family.NUMERIC.value: readers.to_decimal,
    Family.DATE.value: readers.to_datetime,
    Family.BOOL.value: readers.to_bool,
    Family.BINARY.value: readers.to_binary,
    Family.IP.value: read_address,
}


class EvaluationState:
    """Per-evaluation scratch space: coerced values and resolved variables, computed once each."""

    __slots__ = ("_coerced", "errors", "has_boundary", "missing", "request")

    def __init__(self, request: Request, has_boundary: bool = False) -> None:
        self.request = request
        self.has_boundary = has_boundary
        self._coerced: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.errors: list[str] = []
        self.missing: set[str] = set()

    def coerced_slot(self, cache_key: tuple[str, str]) -> tuple[Any, ...] | None:
        """`coerced` for a (key_lower, family) pair the caller built once, at compile time."""
        cached = self._coerced.get(cache_key)
        if cached is not None:
            return cached
        key_lower, family = cache_key
        raw = self.request._values.get(key_lower)
        if raw is None:
            self.missing.add(key_lower)
            return None
        reader = _READERS[family]
        try:
            result = (reader(raw[0]),) if len(raw) == 1 else tuple([reader(value) for value in raw])
        except ValueError as exc:
            raise EvaluationError(f"context key {key_lower!r}: {exc}") from None
        except Exception as exc:  # a caller's object that fails oddly (a tzinfo that raises) is unreadable too
            raise EvaluationError(f"context key {key_lower!r}: unreadable ({type(exc).__name__})") from None
        self._coerced[cache_key] = result
        return result

    def variable_or_default(self, key_lower: str, default: str | None) -> str | None:
        """A policy variable's text: the key's value, else `default` when the key is absent. A key
        that is present without one usable value (several values, an unreadable one) has no text
        and no default: IAM uses the default only for a missing key."""
        value = self.variable(key_lower)
        if value is None and self.request.values(key_lower) is None:
            return default
        return value

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
        except Exception:  # ValueError, or a caller's object that fails oddly: unreadable either way
            return None
