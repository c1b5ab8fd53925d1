"""Does one pattern (or statement) match everything another one does?

Deciding inclusion between arbitrary wildcard patterns is possible but not cheap; the linter only
needs the cases people actually write, so these functions answer True only when inclusion is
certain (equal text, `*`, a pattern against a literal, `prefix*` against anything starting with
that prefix) and False otherwise. A False therefore means "not shown to be covered": the linter
may miss a redundant statement, but never reports one that is not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from iamguard.engine.wildcard import compile_tokens
from iamguard.policy.arn import split_arn
from iamguard.policy.model import ConditionEntry, PrincipalClause, Statement
from iamguard.policy.template import STAR, Token, has_variables, has_wildcards, tokenize


@functools.lru_cache(maxsize=8192)
def _tokens(text: str, variables: bool) -> tuple[Token, ...] | None:
    # Cached: the redundancy check compares every pair of statements, so each pattern is read many times.
    try:
        return tokenize(text, variables=variables, wildcards=True)
    except ValueError:
        return None


@functools.lru_cache(maxsize=8192)
def _matches_literal(pattern: str, literal: str, variables: bool) -> bool:
    tokens = _tokens(pattern, variables)
    return tokens is not None and compile_tokens(tokens)(literal)


@functools.lru_cache(maxsize=65536)
def covers_text(general: str, specific: str, *, ignore_case: bool = False, variables: bool = False) -> bool:
    """True when every text matched by the pattern `specific` is matched by the pattern `general`."""
    if ignore_case:
        general, specific = general.lower(), specific.lower()
    if general == specific:
        return True
    general_tokens = _tokens(general, variables)
    specific_tokens = _tokens(specific, variables)
    if general_tokens is None or specific_tokens is None or has_variables(general_tokens):
        return False
    if general_tokens == (STAR,):
        return True
    if not has_wildcards(specific_tokens) and not has_variables(specific_tokens):
        literal = "".join(token for token in specific_tokens if isinstance(token, str))
        return _matches_literal(general, literal, variables)
    if len(general_tokens) == 2 and isinstance(general_tokens[0], str) and general_tokens[1] is STAR:
        lead = specific_tokens[0]
        return isinstance(lead, str) and lead.startswith(general_tokens[0])
    return False


def covers_action(general: str, specific: str) -> bool:
    return covers_text(general, specific, ignore_case=True)


def covers_resource(general: str, specific: str, *, variables: bool) -> bool:
    """ARN patterns compare segment by segment, as the evaluator matches them."""
    if general == specific or general == "*":
        return True
    if specific == "*":
        return False
    general_parts, specific_parts = split_arn(general), split_arn(specific)
    if general_parts is None or specific_parts is None:
        return False
    heads_covered = all(covers_text(g, s) for g, s in zip(general_parts[:5], specific_parts[:5], strict=True))
    return heads_covered and covers_text(general_parts[5], specific_parts[5], variables=variables)


def _covers_element(
    general: Sequence[str], general_negated: bool, specific: Sequence[str], specific_negated: bool,
    covers: Callable[[str, str], bool],
) -> bool:
    """Element-level inclusion for Action/NotAction or Resource/NotResource lists."""
    if not general and not specific:  # trust policies name no resource
        return True
    if not general_negated and not specific_negated:
        return all(any(covers(g, s) for g in general) for s in specific)
    if general_negated and specific_negated:
        # "all but N_g" includes "all but N_s" exactly when N_g is inside N_s.
        return all(any(covers(s, g) for s in specific) for g in general)
    if not general_negated:  # a complement is covered only by a pattern that matches everything
        return any(g == "*" for g in general)
    # A complement covers plain patterns that certainly avoid every exclusion: only literals qualify.
    # A `${...}` is not a literal: `home/${aws:username}` is `home/alice` for alice, which an
    # exclusion `home/alice` removes from the complement.
    for item in specific:
        tokens = _tokens(item, False)
        if tokens is None or has_wildcards(tokens) or "${" in item or any(covers(g, item) for g in general):
            return False
    return True


def _condition_signature(entry: ConditionEntry) -> tuple[str, str, frozenset[str]]:
    return entry.operator.name, entry.key_lower, frozenset(repr(value) for value in entry.values)


def covers_conditions(general: Sequence[ConditionEntry], specific: Sequence[ConditionEntry]) -> bool:
    """Conditions are ANDed: fewer conditions (a subset) apply at least whenever more do."""
    specific_signatures = {_condition_signature(entry) for entry in specific}
    return all(_condition_signature(entry) in specific_signatures for entry in general)


def covers_principal(general: PrincipalClause | None, specific: PrincipalClause | None) -> bool:
    if general is None or specific is None:
        return general is None and specific is None
    if general.negated or specific.negated:
        return general == specific
    if general.everyone:
        return True
    if specific.everyone:
        return False
    return set(specific.entries) <= set(general.entries)


def action_services(statement: Statement) -> frozenset[str] | None:
    """The service prefixes a statement's actions can belong to, or None for "possibly any"
    (NotAction, or a wildcard in a prefix). A cheap first filter for covers_statement."""
    if statement.not_action:
        return None
    services = set()
    for action in statement.actions:
        prefix = action.partition(":")[0].lower()
        if "*" in prefix or "?" in prefix:
            return None
        services.add(prefix)
    return frozenset(services)


def may_cover(general_services: frozenset[str] | None, specific_services: frozenset[str] | None) -> bool:
    """False when `general` certainly cannot cover `specific` because of their services alone."""
    if general_services is None:
        return True
    return specific_services is not None and specific_services <= general_services


def covers_statement(general: Statement, specific: Statement, *, variables: bool) -> bool:
    """True when `general` applies to every request `specific` applies to (effects are not compared)."""

    def resource_covers(g: str, s: str) -> bool:
        return covers_resource(g, s, variables=variables)

    return (
        _covers_element(general.actions, general.not_action, specific.actions, specific.not_action,
                        covers_action)
        and _covers_element(general.resources, general.not_resource, specific.resources, specific.not_resource,
                            resource_covers)
        and covers_principal(general.principal, specific.principal)
        and covers_conditions(general.conditions, specific.conditions)
    )
