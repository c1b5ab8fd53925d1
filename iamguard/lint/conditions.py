"""WARNING rules for conditions whose keys or operators do not mean what the author expects."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.findings import LintFinding, Severity
from iamguard.lint.keys import POPULATED_KEY_NAMES, is_always_present, is_multivalued, is_populated, is_single_valued
from iamguard.policy.model import ConditionEntry
from iamguard.policy.operators import Family, Qualifier
from iamguard.policy.template import Variable, tokenize

_W = Severity.WARNING
_DIGITS = re.compile(r"-?[0-9]+", re.ASCII)


def check_conditions(ctx: LintContext) -> Iterator[LintFinding]:
    for view in ctx.statements:
        for entry in view.statement.conditions:
            yield from _qualifier(view, entry)
            yield from _vacuous(view, entry)
            yield from _early_epoch(view, entry)
            if not is_populated(entry.key) and entry.key not in ctx.declared_keys:
                yield _unknown_key(entry.key, entry.pointer, f"{view.label}: condition key")
        if ctx.variables:
            yield from _unknown_variables(ctx, view)


def _qualifier(view: StatementView, entry: ConditionEntry) -> Iterator[LintFinding]:
    operator = entry.operator
    if operator.base.family is Family.NULL:
        return
    if operator.qualifier is not None and is_single_valued(entry.key):
        risk = ("it holds whenever the key is absent" if operator.qualifier is Qualifier.FOR_ALL_VALUES
                else "it reads as a set test on a single value")
        # An ERROR, not a warning (security spec POL-03): the set test silently changes what a
        # missing key means, and AWS tells authors never to write it on single-valued keys.
        yield LintFinding(
            Severity.ERROR, "SET_QUALIFIER_ON_SINGLE_VALUED_KEY", entry.pointer,
            f"{view.label}: {entry.key} has exactly one value, but {operator.name} treats it as a set ({risk}); "
            f"iamguard refuses set operators on single-valued keys: use {operator.name.split(':', 1)[1]}",
        )
    elif operator.qualifier is None and is_multivalued(entry.key):
        yield LintFinding(
            _W, "MISSING_SET_QUALIFIER", entry.pointer,
            f"{view.label}: {entry.key} carries a set of values, and a plain {operator.name} does not match a "
            f"request with several; use ForAnyValue:{operator.name} (any listed) or ForAllValues:{operator.name} "
            "(all listed, with a Null guard)",
        )


def _vacuous(view: StatementView, entry: ConditionEntry) -> Iterator[LintFinding]:
    """Conditions that hold for requests without the key, in an Allow (POL-03, POL-04)."""
    if not view.is_allow or view.has_null_guard(entry.key):
        return
    operator = entry.operator
    guard = f"add \"Null\": {{\"{entry.key}\": \"false\"}} to the same statement"
    if operator.qualifier is Qualifier.FOR_ALL_VALUES:
        yield LintFinding(
            _W, "FOR_ALL_VALUES_WITHOUT_NULL_GUARD", entry.pointer,
            f"{view.label}: {operator.name} holds when {entry.key} is absent or empty, so this Allow applies "
            f"to every request without the key; {guard}",
        )
    elif (operator.qualifier is None and operator.base.negated and not is_always_present(entry.key)):
        yield LintFinding(
            _W, "NEGATED_OPERATOR_MATCHES_ABSENT_KEY", entry.pointer,
            f"{view.label}: {operator.name} holds when {entry.key} is absent, so this Allow applies to every "
            f"request without the key, not only to the values you excluded; {guard}",
        )


# IAM reads a Date value of digits alone as epoch seconds. Before 2001-09-09 (ten digits) such a
# value is almost always a year or a compact date instead: "2030" is 1970-01-01T00:33:50Z.
_EARLIEST_LIKELY_EPOCH = 10**9


def _early_epoch(view: StatementView, entry: ConditionEntry) -> Iterator[LintFinding]:
    if entry.operator.base.family is not Family.DATE:
        return
    for value in entry.values:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            continue
        if isinstance(value, str) and not _DIGITS.fullmatch(value):
            continue
        seconds = int(value)
        if seconds >= _EARLIEST_LIKELY_EPOCH:
            continue
        try:
            moment = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        except OverflowError:  # before year 1: the parser refuses it already
            continue
        yield LintFinding(
            _W, "DATE_VALUE_READ_AS_EPOCH", entry.pointer,
            f"{view.label}: {entry.operator.name} reads {value!r} as epoch seconds, that is {moment}; write the "
            "moment in ISO 8601 (for example 2030-01-01T00:00:00Z)",
        )


def _unknown_key(key: str, pointer: str, where: str) -> LintFinding:
    close = difflib.get_close_matches(key.lower(), [name.lower() for name in POPULATED_KEY_NAMES], n=1, cutoff=0.8)
    spelled = {name.lower(): name for name in POPULATED_KEY_NAMES}
    hint = f" Did you mean {spelled[close[0]]!r}?" if close else ""
    return LintFinding(
        _W, "UNKNOWN_CONDITION_KEY", pointer,
        f"{where} {key!r} is never put in the request context by iamguard, and the application has not "
        "declared it, so conditions on it never see a value; declare it (declared_keys= or --declared-key) "
        f"if your application supplies it, or correct the name.{hint}",
    )


def _variables_in(text: str) -> list[str]:
    try:
        tokens = tokenize(text, variables=True, wildcards=True)
    except ValueError:
        return []  # malformed variables are the parser's ERROR
    return [token.key for token in tokens if isinstance(token, Variable)]


def _unknown_variables(ctx: LintContext, view: StatementView) -> Iterator[LintFinding]:
    where = f"{view.label}: policy variable"
    for index, resource in enumerate(view.statement.resources):
        for key in _variables_in(resource):
            if not is_populated(key) and key not in ctx.declared_keys:
                yield _unknown_key(key, view.resource_pointer(index), where)
    for entry in view.statement.conditions:
        if not entry.operator.base.accepts_variables:
            continue
        for index, value in enumerate(entry.values):
            if not isinstance(value, str):
                continue
            pointer = entry.pointer if len(entry.values) == 1 and not _is_list(view, entry) else \
                f"{entry.pointer}/{index}"
            for key in _variables_in(value):
                if not is_populated(key) and key not in ctx.declared_keys:
                    yield _unknown_key(key, pointer, where)


def _is_list(view: StatementView, entry: ConditionEntry) -> bool:
    block = view.raw.get("Condition")
    operator_block = block.get(entry.operator.name) if isinstance(block, Mapping) else None
    return isinstance(operator_block, Mapping) and isinstance(operator_block.get(entry.key), list)
