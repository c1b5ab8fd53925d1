"""The catalogue of IAM condition operators and how an operator name is read.

An operator name is `[ForAllValues:|ForAnyValue:]<Base>[IfExists]`. Names are matched exactly
as AWS spells them; a near miss (wrong case, `ForAnyValue::`) is an error with a suggestion,
never a silently ignored condition.
"""

from __future__ import annotations

import difflib
import enum
import functools
from dataclasses import dataclass


class Family(enum.Enum):
    STRING = "String"
    NUMERIC = "Numeric"
    DATE = "Date"
    BOOL = "Bool"
    BINARY = "Binary"
    IP = "IpAddress"
    ARN = "Arn"
    NULL = "Null"


class Comparison(enum.Enum):
    EQUALS = "equals"
    EQUALS_IGNORE_CASE = "equals-ignore-case"
    LIKE = "like"
    LESS = "less"
    LESS_EQUAL = "less-equal"
    GREATER = "greater"
    GREATER_EQUAL = "greater-equal"
    IN_NETWORK = "in-network"
    PRESENCE = "presence"


@dataclass(frozen=True)
class BaseOperator:
    name: str
    family: Family
    comparison: Comparison
    negated: bool = False

    @property
    def accepts_variables(self) -> bool:
        # IAM expands policy variables only in string, ARN and Bool condition values.
        return self.family in (Family.STRING, Family.ARN, Family.BOOL)

    @property
    def accepts_wildcards(self) -> bool:
        return self.comparison is Comparison.LIKE


def _ordered(prefix: str, family: Family) -> list[BaseOperator]:
    return [
        BaseOperator(f"{prefix}Equals", family, Comparison.EQUALS),
        BaseOperator(f"{prefix}NotEquals", family, Comparison.EQUALS, negated=True),
        BaseOperator(f"{prefix}LessThan", family, Comparison.LESS),
        BaseOperator(f"{prefix}LessThanEquals", family, Comparison.LESS_EQUAL),
        BaseOperator(f"{prefix}GreaterThan", family, Comparison.GREATER),
        BaseOperator(f"{prefix}GreaterThanEquals", family, Comparison.GREATER_EQUAL),
    ]


BASE_OPERATORS: dict[str, BaseOperator] = {
    op.name: op
    for op in [
        BaseOperator("StringEquals", Family.STRING, Comparison.EQUALS),
        BaseOperator("StringNotEquals", Family.STRING, Comparison.EQUALS, negated=True),
        BaseOperator("StringEqualsIgnoreCase", Family.STRING, Comparison.EQUALS_IGNORE_CASE),
        BaseOperator("StringNotEqualsIgnoreCase", Family.STRING, Comparison.EQUALS_IGNORE_CASE, negated=True),
        BaseOperator("StringLike", Family.STRING, Comparison.LIKE),
        BaseOperator("StringNotLike", Family.STRING, Comparison.LIKE, negated=True),
        *_ordered("Numeric", Family.NUMERIC),
        *_ordered("Date", Family.DATE),
        BaseOperator("Bool", Family.BOOL, Comparison.EQUALS),
        BaseOperator("BinaryEquals", Family.BINARY, Comparison.EQUALS),
        BaseOperator("IpAddress", Family.IP, Comparison.IN_NETWORK),
        BaseOperator("NotIpAddress", Family.IP, Comparison.IN_NETWORK, negated=True),
        # ArnEquals and ArnLike behave identically in IAM: both take wildcards.
        BaseOperator("ArnEquals", Family.ARN, Comparison.LIKE),
        BaseOperator("ArnLike", Family.ARN, Comparison.LIKE),
        BaseOperator("ArnNotEquals", Family.ARN, Comparison.LIKE, negated=True),
        BaseOperator("ArnNotLike", Family.ARN, Comparison.LIKE, negated=True),
        BaseOperator("Null", Family.NULL, Comparison.PRESENCE),
    ]
}


class Qualifier(enum.Enum):
    FOR_ALL_VALUES = "ForAllValues"
    FOR_ANY_VALUE = "ForAnyValue"


@dataclass(frozen=True)
class Operator:
    """A fully read operator name: optional set qualifier, base operator, optional IfExists."""

    base: BaseOperator
    qualifier: Qualifier | None = None
    if_exists: bool = False

    @property
    def name(self) -> str:
        text = self.base.name + ("IfExists" if self.if_exists else "")
        return f"{self.qualifier.value}:{text}" if self.qualifier else text

    def __str__(self) -> str:
        return self.name

    @property
    def holds_when_key_missing(self) -> bool | None:
        """Whether a condition with this operator holds when its key is missing from the request:
        IfExists and ForAllValues hold, ForAnyValue does not, a plain operator holds only when
        negated. None for Null, which tests presence itself (its values decide)."""
        if self.base.family is Family.NULL:
            return None
        if self.if_exists or self.qualifier is Qualifier.FOR_ALL_VALUES:
            return True
        if self.qualifier is Qualifier.FOR_ANY_VALUE:
            return False
        return self.base.negated


_ALL_NAMES = [
    *BASE_OPERATORS,
    *(f"{name}IfExists" for name in BASE_OPERATORS if name != "Null"),
]


@functools.lru_cache(maxsize=1024)
def parse_operator(text: str) -> Operator:
    """Read an operator name; raise ValueError with a helpful message when it is not one."""
    qualifier: Qualifier | None = None
    rest = text
    if ":" in text:
        prefix, _, rest = text.partition(":")
        try:
            qualifier = Qualifier(prefix)
        except ValueError:
            raise ValueError(
                f"unknown set qualifier {prefix!r}; use 'ForAllValues:' or 'ForAnyValue:'"
            ) from None
    if_exists = rest.endswith("IfExists")
    base_name = rest[: -len("IfExists")] if if_exists else rest
    base = BASE_OPERATORS.get(base_name)
    if base is None:
        raise ValueError(f"unknown condition operator {text!r}{_suggest(rest)}")
    if base.family is Family.NULL and if_exists:
        raise ValueError("'Null' has no IfExists form; Null already tests whether the key exists")
    if base.family is Family.NULL and qualifier is not None:
        raise ValueError("'Null' cannot take a set qualifier; Null tests whether the key exists")
    return Operator(base, qualifier, if_exists)


def _suggest(name: str) -> str:
    lowered = {candidate.lower(): candidate for candidate in _ALL_NAMES}
    if name.lower() in lowered:
        return f"; operator names are case-sensitive, did you mean {lowered[name.lower()]!r}?"
    close = difflib.get_close_matches(name, _ALL_NAMES, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
